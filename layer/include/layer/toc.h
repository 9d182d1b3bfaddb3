// The table of contents of a layer, and its tar-split.
//
// A layer is held as a LayerToc (what the filesystem needs: every entry's
// metadata and, for file data, the ordered list of chunks) plus a TarSplit
// (the raw tar header bytes between payloads), kept apart so a mount loads
// only the TOC. TOC + TarSplit + chunks reproduce the layer's uncompressed tar
// byte for byte, so its diffID (and the image ID) never changes.
// On-disk encoding: store/FORMAT.md "Layer TOC" and "Tar-split".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/digest.h"
#include "base/status.h"

namespace cfs {

enum class EntryType : uint8_t {
  kRegular = 0,
  kDirectory = 1,
  kSymlink = 2,
  kHardlink = 3,  // link_target names an earlier entry of the same layer
  kChar = 4,
  kBlock = 5,
  kFifo = 6,
};
const char* EntryTypeName(EntryType t);
// The S_IF* file type bits of an entry of type t (a hard link is a regular file).
uint32_t EntryTypeBits(EntryType t);

// How an entry acts in an overlay stack (derived from its name at import).
enum class OverlayRole : uint8_t {
  kNone = 0,
  kWhiteout = 1,  // ".wh.NAME": hides NAME of lower layers
  kOpaque = 2,    // ".wh..wh..opq": hides the lower contents of its directory
};

// One chunk of file data: SHA-256 of its uncompressed bytes, and its size.
struct ChunkRef {
  Digest digest;
  uint32_t size = 0;
  bool operator==(const ChunkRef&) const = default;
};

struct TocEntry {
  EntryType type = EntryType::kRegular;
  OverlayRole role = OverlayRole::kNone;
  // Path relative to the layer root, normalized: no leading "/" or "./",
  // no trailing "/", no "." or ".." components, never empty ("." is the
  // root directory entry when a tar carries one).
  std::string name;
  // Symlink: the target as written. Hardlink: normalized path of the target.
  std::string link_target;
  uint32_t mode = 0;  // permission bits incl. setuid/setgid/sticky (07777)
  uint32_t uid = 0, gid = 0;
  std::string uname, gname;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  uint32_t dev_major = 0, dev_minor = 0;
  // Payload bytes in the tar (regular files; 0 for most other types).
  uint64_t size = 0;
  // xattrs sorted by name; values are raw bytes.
  std::vector<std::pair<std::string, std::string>> xattrs;
  // This entry's chunks are LayerToc::chunks[first_chunk, first_chunk+num_chunks).
  uint32_t first_chunk = 0;
  uint32_t num_chunks = 0;

  bool operator==(const TocEntry&) const = default;
};

struct LayerToc {
  std::vector<TocEntry> entries;  // in tar order
  std::vector<ChunkRef> chunks;   // in payload order
  Digest diff_id;                 // sha256 of the uncompressed tar
  uint64_t tar_size = 0;          // bytes of the uncompressed tar

  // Encodes to the binary form of store/FORMAT.md (zstd-compressed).
  std::string Encode() const;
  static Result<LayerToc> Decode(std::string_view data);
  bool operator==(const LayerToc&) const = default;
};

// The bytes of the tar that are not file payload.
//   tar := for each entry i: headers[i] payload(i) padding(i) ; trailer
// padding(i) is zeros up to the next 512-byte boundary unless
// odd_padding holds (i, bytes) for it.
struct TarSplit {
  std::vector<std::string> headers;  // headers[i]: raw blocks before entry i's payload
  std::vector<std::pair<uint32_t, std::string>> odd_padding;  // sorted by index
  std::string trailer;  // end-of-archive blocks and anything after them

  std::string Encode() const;  // zstd-compressed, store/FORMAT.md
  static Result<TarSplit> Decode(std::string_view data);
  bool operator==(const TarSplit&) const = default;
};

// Normalizes a tar member name (see TocEntry::name). Rejects absolute names,
// ".." components, NUL bytes and empty names with a message naming `name`.
Result<std::string> NormalizeEntryName(std::string_view name);

}  // namespace cfs
