// LowerList: the lowers a merged directory is made of (indexes into the
// overlay's lowers, top first), in 16 bytes with no heap for up to three of
// them. One lives in every Inode (fs/inode_table.h), so a million-entry
// inode table pays 16 bytes per entry here instead of a std::vector's 24
// plus a heap block per directory. Not a public header.
//
// Not thread-safe; a value type (copyable, movable).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

namespace cfs {

class LowerList {
 public:
  LowerList() = default;
  LowerList(const LowerList& o) { CopyFrom(o); }
  LowerList& operator=(const LowerList& o) {
    if (this != &o) {
      Free();
      CopyFrom(o);
    }
    return *this;
  }
  LowerList(LowerList&& o) noexcept { Steal(&o); }
  LowerList& operator=(LowerList&& o) noexcept {
    if (this != &o) {
      Free();
      Steal(&o);
    }
    return *this;
  }
  ~LowerList() { Free(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint16_t operator[](size_t i) const { return data()[i]; }
  const uint16_t* begin() const { return data(); }
  const uint16_t* end() const { return data() + size_; }

  // REQUIRES: size() < 0xFFFF (the overlay has at most 0xFFFF lowers).
  void push_back(uint16_t l) {
    if (size_ < kInline) {
      inline_[size_++] = l;
      return;
    }
    // Grows by one: lists are built once, by a lookup, and rarely pass three.
    auto* grown = new uint16_t[size_ + 1];
    std::memcpy(grown, data(), size_ * sizeof(uint16_t));
    grown[size_] = l;
    Free();
    heap_ = grown;
    size_ = static_cast<uint16_t>(size_ + 1);  // Free() does not reset size_
  }

  bool operator==(const LowerList& o) const {
    return size_ == o.size_ && std::memcmp(data(), o.data(), size_ * sizeof(uint16_t)) == 0;
  }

 private:
  static constexpr uint16_t kInline = 3;
  bool on_heap() const { return size_ > kInline; }
  const uint16_t* data() const { return on_heap() ? heap_ : inline_; }
  void Free() {
    if (on_heap()) delete[] heap_;
    heap_ = nullptr;
  }
  void CopyFrom(const LowerList& o) {
    size_ = o.size_;
    if (o.on_heap()) {
      heap_ = new uint16_t[size_];
      std::memcpy(heap_, o.heap_, size_ * sizeof(uint16_t));
    } else {
      std::memcpy(inline_, o.inline_, sizeof inline_);
    }
  }
  void Steal(LowerList* o) {
    size_ = o->size_;
    std::memcpy(inline_, o->inline_, sizeof inline_);
    heap_ = o->heap_;
    o->size_ = 0;
    o->heap_ = nullptr;
  }

  uint16_t size_ = 0;
  uint16_t inline_[kInline] = {};  // used while size_ <= kInline
  uint16_t* heap_ = nullptr;       // used when size_ > kInline
};

}  // namespace cfs
