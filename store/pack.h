// Pack files: append-only files of chunk records, one zstd frame each.
//
//   pack   := "CFSPACK1" u64le(pack_id) record*
//   record := u32le(magic 0x4b4e4843 "CHNK") u32le(clen) u32le(ulen)
//             u32le(flags) digest[32] frame[clen]
//   flags  := bit 0 "reclaimed": gc punched the frame out (a hole of zeros)
//
// A record is self-describing so gc and fsck can walk a pack without the
// index. A chunk is indexed (store/index.h) only after its pack bytes were
// fdatasync'ed, so the index never points at bytes that a crash can lose; a
// torn record at the tail of a pack is garbage that gc reclaims.
// Each writing process appends to packs of its own, holding an exclusive
// flock on each while it writes; gc never touches a locked pack.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/digest.h"
#include "store/io.h"
#include "store/thread_annotations.h"

namespace cfs {

constexpr size_t kPackHeaderSize = 16;
constexpr size_t kRecordHeaderSize = 48;
constexpr uint32_t kRecordMagic = 0x4b4e4843;

// Where a chunk lives. Encoded as 24 bytes in the index (FORMAT.md).
struct ChunkLoc {
  uint64_t pack_id = 0;
  uint64_t offset = 0;  // of the record header
  uint32_t clen = 0;    // frame bytes
  uint32_t ulen = 0;    // uncompressed bytes
  std::string Encode() const;
  static Result<ChunkLoc> Decode(std::string_view v);
};

std::string PackPath(const std::string& packs_dir, uint64_t pack_id);

// Appends records to the packs of this process. Thread-safe.
class PackWriter {
 public:
  // max_pack_size: roll over to a new pack beyond this. Default: 1 GiB.
  explicit PackWriter(std::string packs_dir, uint64_t max_pack_size = 1ull << 30)
      : dir_(std::move(packs_dir)), max_size_(max_pack_size) {}
  ~PackWriter();
  // Appends one record and returns its location (not yet durable).
  Result<ChunkLoc> Append(const Digest& d, std::string_view frame, uint32_t ulen);
  // Makes every record appended so far durable.
  Status Sync();
  // Ids of the packs this writer created, oldest first. A caller that
  // indexed none of their records may unlink them (a failed import).
  std::vector<uint64_t> created() const EXCLUDES(mu_);

 private:
  struct Open {
    uint64_t id = 0;
    UniqueFd fd;
    uint64_t size = 0;
  };
  Status StartPack() REQUIRES(mu_);
  const std::string dir_;
  const uint64_t max_size_;
  mutable Mutex mu_;
  Open cur_ GUARDED_BY(mu_);
  std::vector<uint64_t> created_ GUARDED_BY(mu_);
  std::vector<UniqueFd> finished_ GUARDED_BY(mu_);  // rolled packs, synced by Sync()
};

// Reads records by location. Each pack is mapped read-only once (and mapped
// again, larger, when a record lies past the mapping: packs grow while their
// writer lives), so a frame is decompressed straight from the page cache
// with no copy. A pack truncated under a reader (not done by cimg, which
// only drops torn tails) turns into an IOError for that read, not a SIGBUS.
// Mapped pages are dropped from the process (not from the page cache) every
// few MiB read, so they do not pile up in its RSS. Thread-safe.
class PackReader {
 public:
  explicit PackReader(std::string packs_dir) : dir_(std::move(packs_dir)) {}
  ~PackReader();
  PackReader(const PackReader&) = delete;
  PackReader& operator=(const PackReader&) = delete;
  // The record's zstd frame, after checking the record header names d and
  // the lengths match. Does not decompress.
  Result<std::string> ReadFrame(const Digest& d, const ChunkLoc& loc);
  // Decompresses and verifies sha256(data) == d. Never returns bad bytes.
  Result<std::string> ReadChunk(const Digest& d, const ChunkLoc& loc);
  // The same into out[0, loc.ulen); on failure out holds garbage.
  Status ReadChunkInto(const Digest& d, const ChunkLoc& loc, char* out);

 private:
  struct Map {
    const char* base = nullptr;
    size_t size = 0;
  };
  struct Pack {
    UniqueFd fd;
    std::vector<Map> maps;  // newest last; older ones stay valid for readers still on them
    uint64_t touched = 0;   // bytes read since the mapped pages were last dropped
  };
  // The pack's entry, its file opened.
  Result<Pack*> OpenLocked(uint64_t pack_id) REQUIRES(mu_);
  // A mapping of the pack covering [0, end), bytes about to be read from it.
  Result<Map> Mapping(uint64_t pack_id, uint64_t end, uint64_t bytes) EXCLUDES(mu_);
  const std::string dir_;
  Mutex mu_;
  std::unordered_map<uint64_t, Pack> packs_ GUARDED_BY(mu_);
};

// One record found while scanning a pack.
struct PackRecord {
  Digest digest;
  ChunkLoc loc;
  bool reclaimed = false;  // gc already punched its frame out
};

constexpr uint32_t kRecordReclaimed = 1;

// Walks a pack's records in order. Stops (without error) at a torn tail;
// reports the offset where valid records end in *valid_end.
Status ScanPack(const std::string& path, uint64_t* pack_id,
                const std::function<Status(const PackRecord&)>& fn, uint64_t* valid_end);

// Decompresses one zstd frame of known size and verifies its digest.
Result<std::string> DecompressVerified(const Digest& d, std::string_view frame, uint32_t ulen);
// The same into out[0, ulen); on failure out holds garbage.
Status DecompressVerifiedInto(const Digest& d, std::string_view frame, uint32_t ulen, char* out);

}  // namespace cfs
