// Lower layers of the overlay: read-only trees addressed by path.
//
// A Lower is either a plain directory in the kernel overlay format
// (DirLower: whiteout = char device 0/0, opaque = trusted.overlay.opaque=y)
// or a stack of store layers merged by a LayerStack (StackLower: file data
// from chunks). Paths are relative to the lower's root: "." is the root,
// "a/b" a descendant; the overlay only asks for paths whose parents it has
// found to be directories in this lower.
//
// Thread-safety: every method of a Lower may be called concurrently.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fs/ino_map.h"
#include "layer/chunk_source.h"
#include "layer/layer_stack.h"
#include "layer/stack_index.h"
#include "base/status.h"

namespace cfs {

class ChunkCache;

// What a lower holds at a path.
struct LowerEntry {
  enum class Kind { kAbsent, kWhiteout, kEntry };
  Kind kind = Kind::kAbsent;
  struct stat st {};    // kEntry: st_ino is already mount-unique (InoMap)
  bool opaque = false;  // a directory marked opaque in this lower
  uint32_t nlink_group = 1;  // names sharing this file in the lower
};

// An open lower file. Read() fills `out` with up to `size` bytes at `off`
// (fewer only at end of file).
class LowerFile {
 public:
  virtual ~LowerFile() = default;
  // A read-only fd when the data is a real file (zero-copy replies), else -1.
  virtual int fd() const { return -1; }
  virtual Result<size_t> Read(uint64_t off, size_t size, char* out) = 0;
  // Zero-copy variant for data held in memory (store chunks): appends
  // (bytes, keep-alive) pieces covering [off, off+size) clipped to the
  // file's end. Returns false when the file has no such form (use Read).
  struct Piece {
    std::shared_ptr<const void> owner;
    const char* data;
    size_t size;
  };
  virtual Result<bool> ReadPieces(uint64_t off, size_t size, std::vector<Piece>* out) {
    return false;
  }
  // The file's size.
  virtual uint64_t size() const = 0;
  // Data/hole map for sparse-aware copy: calls fn(off, len) for every data
  // range in order. Default: the whole file is data.
  virtual Status ForEachData(const std::function<Status(uint64_t, uint64_t)>& fn) {
    return size() ? fn(0, size()) : Status::Ok();
  }
};

struct LowerDirEntry {
  std::string name;
  uint64_t ino = 0;     // mount-unique
  uint8_t d_type = 0;   // DT_*
  bool whiteout = false;
};

class Lower {
 public:
  virtual ~Lower() = default;
  // Absent covers ENOENT and ENOTDIR; other errors are returned.
  virtual Result<LowerEntry> Stat(const std::string& path) = 0;
  virtual Status ReadDir(const std::string& path, std::vector<LowerDirEntry>* out) = 0;
  virtual Result<std::string> ReadLink(const std::string& path) = 0;
  // All xattrs (name, value), trusted.overlay.* included.
  virtual Result<std::vector<std::pair<std::string, std::string>>> Xattrs(
      const std::string& path) = 0;
  virtual Result<std::unique_ptr<LowerFile>> Open(const std::string& path) = 0;
  // The other paths of the hard-link group of the file at `path`, when the
  // lower can list them cheaply (StackLower); else empty.
  virtual std::vector<std::string> HardlinkAliases(const std::string& path) { return {}; }
  // True when the file at `path` never changes while mounted (kernel page
  // cache may be kept across opens).
  virtual std::string Describe() const = 0;
};

// Reads the directory open at `dir_fd` (O_PATH is fine): every entry but
// "." and "..", with its mount-unique inode number, d_type and whether it is
// a whiteout (char 0/0; only char and unknown types cost a stat). Used for
// directory lowers and for the upper dir alike.
Status ReadDirAt(int dir_fd, InoMap* inos, std::vector<LowerDirEntry>* out);

// A directory in the kernel's overlay format. Fails if `dir` is not a
// readable directory.
Result<std::unique_ptr<Lower>> OpenDirLower(const std::string& dir, InoMap* inos);

// A merged stack of store layers; data is read through `cache`, which must
// outlive the lower. `fs_index` is the InoMap slot reserved for it.
Result<std::unique_ptr<Lower>> OpenStackLower(std::string name, LayerStack stack,
                                              ChunkCache* cache, InoMap* inos);

// The same merged stack served from its mapped StackIndex
// (layer/stack_index.h): nothing of the tree is held in the heap; the same
// inode numbers, nlink counts, hard-link aliases and data as OpenStackLower
// on the stack the index was built from.
Result<std::unique_ptr<Lower>> OpenIndexLower(std::string name,
                                              std::shared_ptr<const StackIndex> index,
                                              ChunkCache* cache, InoMap* inos);

}  // namespace cfs
