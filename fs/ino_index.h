// InoIndex<Node>: nodes by st_ino, as an intrusive hash table (the chain
// link lives in the node: `Node* index_next`, key `const uint64_t ino`).
// The inode table (fs/inode_table.h) keeps every object the kernel has
// looked up here: 8 to 16 bytes per node (one bucket pointer; the table
// doubles at one node per bucket), where std::unordered_map<uint64_t,
// Node*> costs a 32-byte heap node plus its bucket.
//
// Holds at most one node per ino; does not own the nodes. Not a public
// header. Not thread-safe (the inode table guards it with its mutex).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace cfs {

template <typename Node>
class InoIndex {
 public:
  InoIndex() : buckets_(kMinBuckets, nullptr) {}
  InoIndex(const InoIndex&) = delete;
  InoIndex& operator=(const InoIndex&) = delete;

  size_t size() const { return size_; }

  // The node numbered `ino`, or nullptr.
  Node* Find(uint64_t ino) const {
    for (Node* n = buckets_[Slot(ino)]; n; n = n->index_next)
      if (n->ino == ino) return n;
    return nullptr;
  }

  // Puts n in the index; a node with the same ino leaves it (returned, or
  // nullptr). REQUIRES: n is not in the index.
  Node* Put(Node* n) {
    Node* old = Erase(n->ino);
    if (size_ >= buckets_.size()) Grow();
    Node*& head = buckets_[Slot(n->ino)];
    n->index_next = head;
    head = n;
    ++size_;
    return old;
  }

  // Takes the node numbered `ino` out of the index (returned, or nullptr).
  Node* Erase(uint64_t ino) {
    for (Node** p = &buckets_[Slot(ino)]; *p; p = &(*p)->index_next) {
      Node* n = *p;
      if (n->ino != ino) continue;
      *p = n->index_next;
      n->index_next = nullptr;
      --size_;
      return n;
    }
    return nullptr;
  }

  // Calls f(node) for every node (f must not change the index).
  template <typename F>
  void ForEach(F f) const {
    for (Node* head : buckets_)
      for (Node* n = head; n; n = n->index_next) f(n);
  }

 private:
  static constexpr size_t kMinBuckets = 64;

  // st_ino values are slot << 56 | number: mix so that neighbours and
  // slots spread over the buckets (splitmix64's finalizer).
  size_t Slot(uint64_t ino) const {
    ino ^= ino >> 30;
    ino *= 0xbf58476d1ce4e5b9ull;
    ino ^= ino >> 27;
    ino *= 0x94d049bb133111ebull;
    ino ^= ino >> 31;
    return ino & (buckets_.size() - 1);
  }

  void Grow() {
    std::vector<Node*> old(buckets_.size() * 2, nullptr);
    old.swap(buckets_);
    for (Node* head : old) {
      for (Node* n = head; n;) {
        Node* next = n->index_next;
        Node*& to = buckets_[Slot(n->ino)];
        n->index_next = to;
        to = n;
        n = next;
      }
    }
  }

  std::vector<Node*> buckets_;  // size a power of two
  size_t size_ = 0;
};

}  // namespace cfs
