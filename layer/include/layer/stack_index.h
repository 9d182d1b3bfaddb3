// StackIndex: the merged view of a stack of layers (a LayerStack) as one
// flat, sorted file that a mount maps instead of decoding the layers' TOCs
// into the heap.
//
// The file holds, per merged entry, one fixed-size record (name, children,
// the stat fields, where its data is) in breadth-first order, so a
// directory's children are contiguous and sorted by name (lookups are binary
// searches, listings a slice); then the xattr, chunk and hard-link tables and
// one string table. Format: layer/FORMAT_stack_index.md.
//
// Trust: the header carries a version, the key of the stack it was built from
// (the caller's hash of the layers' digests and TOC records) and a SHA-256 of
// the whole file; Open() checks all three (reading the file once with pread,
// not through the map) and fails with kCorruption on any mismatch, so the
// caller rebuilds it from the authoritative TOCs. Every offset read from a
// record is checked against its table before use (kCorruption, never a read
// outside the map).
//
// Thread-safety: a StackIndex is immutable after Open(); every const method
// may be called concurrently.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "layer/layer_stack.h"
#include "layer/toc.h"

namespace cfs {

class StackIndex {
 public:
  static constexpr uint32_t kVersion = 1;

  // One merged entry, as the index stores it (hard links already resolved:
  // the fields are those of the entry holding the data).
  struct Node {
    uint32_t name_off, name_len;        // component name in the string table
    uint32_t first_child, num_children;  // children: nodes [first, first+num)
    uint64_t ino_key;   // layer << 32 | entry of the data's entry; synthetic
                        // dirs: 0xFFFFFF << 32 | node
    uint32_t mode;      // S_IFMT type bits | 07777
    uint32_t uid, gid;
    uint32_t nlink;     // 2 for directories, else names in its hard-link group
    int64_t mtime_sec;
    uint32_t mtime_nsec;
    uint32_t group;     // hard-link group + 1, or 0
    uint64_t size;      // st_size (symlinks: the target's length)
    uint64_t data;      // regular: first chunk; symlink: target's string
                        // offset; char/block: rdev
    uint32_t data_len;  // regular: number of chunks; symlink: target length
    uint32_t first_xattr, num_xattrs;
    uint32_t flags;     // 1: a regular file whose chunks may be read
  };
  static_assert(sizeof(Node) == 88);

  // Encodes `stack` with `key` in the header. The layers' entry names are
  // not read (LayerStack::DropEntryNames may have freed them). Fails
  // (kInvalidArgument) when the string table would exceed 4 GiB.
  static Result<std::string> Encode(const LayerStack& stack, const Digest& key);

  // Maps the index at `path`. kNotFound if absent; kCorruption when the
  // magic, version, size, checksum or `expected_key` do not match.
  static Result<std::shared_ptr<const StackIndex>> Open(const std::string& path,
                                                        const Digest& expected_key);
  // The same checks on bytes in memory (tests; the writer's self-check).
  static Result<std::shared_ptr<const StackIndex>> FromBytes(std::string bytes,
                                                             const Digest& expected_key);

  // The checks of Open() but the key's (fsck, gc): kCorruption when damaged.
  static Status Verify(const std::string& path);

  // The diff_ids of the layers an index file was built from, bottom first,
  // read from its header without checking the rest (gc: an index of a layer
  // no longer stored is removed). kCorruption on a bad header.
  static Result<std::vector<Digest>> ReadLayers(const std::string& path);

  ~StackIndex();
  StackIndex(const StackIndex&) = delete;
  StackIndex& operator=(const StackIndex&) = delete;

  // The node of `path` ("" or "." the root; empty and "." components
  // ignored), nullopt when absent. kCorruption on a damaged record.
  Result<std::optional<uint32_t>> Find(std::string_view path) const;
  // REQUIRES: node < size().
  const Node& node(uint32_t i) const { return nodes_[i]; }
  Result<std::string_view> Name(const Node& n) const { return String(n.name_off, n.name_len); }
  Result<std::string_view> LinkTarget(const Node& n) const;
  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(const Node& n) const;
  Result<std::vector<ChunkRef>> Chunks(const Node& n) const;
  // The merged paths of n's hard-link group (empty when it has none).
  Result<std::vector<std::string>> GroupPaths(const Node& n) const;
  // Checks that the children of `n` lie inside the node table.
  Status CheckChildren(const Node& n) const;

  // Drops the mapped pages from the process (they stay in the page cache and
  // fault back in on the next access: same bytes, the file never changes in
  // place). A long walk would otherwise leave the whole index in the
  // mount's RSS. No effect on an index held in memory.
  void DropPages() const;

  size_t size() const { return num_nodes_; }
  size_t bytes() const { return size_; }

 private:
  StackIndex() = default;
  static Result<uint64_t> CheckFile(int fd, const std::string& path);
  static Result<std::shared_ptr<const StackIndex>> Init(std::shared_ptr<StackIndex> ix,
                                                        const Digest& expected_key);
  Result<std::string_view> String(uint64_t off, uint64_t len) const;

  const char* base_ = nullptr;  // the mapped (or owned) file
  size_t size_ = 0;
  bool mapped_ = false;
  std::string owned_;           // FromBytes
  const Node* nodes_ = nullptr;
  uint64_t num_nodes_ = 0, num_xattrs_ = 0, num_chunks_ = 0, num_groups_ = 0,
           num_members_ = 0, strings_size_ = 0;
  const char* xattrs_ = nullptr;
  const char* chunks_ = nullptr;
  const char* groups_ = nullptr;
  const char* members_ = nullptr;
  const char* strings_ = nullptr;
};

}  // namespace cfs
