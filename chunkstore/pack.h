// Pack files: append-only files of chunk records, one zstd frame each.
//
//   pack   := header record*
//   header := "CFSPACK2" u64le(pack_id) u64le(check)      (24 bytes, written now)
//           | "CFSPACK1" u64le(pack_id)                   (16 bytes, older packs)
//   check  := the first 8 bytes (little-endian) of SHA-256 of the 16 bytes before it
//   record := u32le(magic 0x4b4e4843 "CHNK") u32le(clen) u32le(ulen)
//             u32le(flags) digest[32] frame[clen]
//   flags  := bit 0 "reclaimed": gc punched the frame out (a hole of zeros)
//
// A record is self-describing so gc and fsck can walk a pack without the
// index. A chunk is indexed (the "c" entries of the Index) only after its pack bytes were
// fdatasync'ed, so the index never points at bytes that a crash can lose; a
// torn record at the tail of a pack is garbage that gc reclaims.
// Each writing process appends to packs of its own, holding an exclusive
// flock on each while it writes; gc never touches a locked pack.
// A header is valid only when its magic is known, its check matches (v2) and
// its pack_id is the one in the file name (%016x.pack): gc and fsck refuse a
// pack whose header fails, rather than guess where its records are.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/digest.h"
#include "base/env.h"
#include "base/io.h"
#include "base/thread_annotations.h"
#include "chunkstore/chunk_store.h"

namespace cfs {

// The index key of a chunk: "c" + its raw digest; the value is its ChunkLoc.
inline std::string ChunkKey(const Digest& d) { return "c" + std::string(d.Raw()); }

constexpr size_t kPackHeaderSize = 24;      // what PackWriter writes (v2)
constexpr size_t kPackHeaderSizeV1 = 16;
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

// Writes the kRecordHeaderSize bytes of the header of a record of chunk d
// (clen frame bytes, ulen uncompressed) to hdr.
void EncodeRecordHeader(char* hdr, const Digest& d, uint32_t clen, uint32_t ulen);
// The pack id a file name "%016x.pack" stands for; Invalid for other names.
Result<uint64_t> PackIdFromFileName(std::string_view name);

// Appends records to the packs of this process, creating, writing and
// syncing them through env (the store's; it must outlive the writer).
// Thread-safe.
class PackWriter {
 public:
  // max_pack_size: roll over to a new pack beyond this. Default: 1 GiB.
  explicit PackWriter(std::string packs_dir, Env* env = Env::Default(),
                      uint64_t max_pack_size = 1ull << 30)
      : dir_(std::move(packs_dir)), env_(env), max_size_(max_pack_size) {}
  ~PackWriter();
  // Appends one record and returns its location (not yet durable).
  Result<ChunkLoc> Append(const Digest& d, std::string_view frame, uint32_t ulen);
  // Appends records, whole records encoded one after the other (each
  // header by EncodeRecordHeader), with one write, all into the same pack.
  // Returns the pack and the offset of the first (not yet durable).
  // REQUIRES: records is not empty.
  Result<ChunkLoc> AppendRecords(std::string_view records);
  // Makes every record appended so far durable.
  Status Sync();
  // Ids of the packs this writer created, oldest first. A caller that
  // indexed none of their records may unlink them (a failed import).
  std::vector<uint64_t> created() const EXCLUDES(mu_);
  // Unlinks every pack this writer created (through its env). REQUIRES: none
  // of their records is indexed.
  void RemoveCreated() EXCLUDES(mu_);

 private:
  struct Open {
    uint64_t id = 0;
    std::unique_ptr<WritableFile> file;
    uint64_t size = 0;
  };
  Status StartPack() REQUIRES(mu_);
  const std::string dir_;
  Env* const env_;
  const uint64_t max_size_;
  mutable Mutex mu_;
  Open cur_ GUARDED_BY(mu_);
  std::vector<uint64_t> created_ GUARDED_BY(mu_);
  // Rolled packs, open (and so flock'ed) until destruction.
  std::vector<std::unique_ptr<WritableFile>> finished_ GUARDED_BY(mu_);
  size_t finished_synced_ GUARDED_BY(mu_) = 0;      // finished_[0, this) are synced
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

// What a walk of a pack found.
struct PackScan {
  uint64_t pack_id = 0;    // from the (checked) header
  uint64_t size = 0;       // bytes in the file
  uint64_t valid_end = 0;  // end of the last whole record (0: no header yet)
  // valid_end < size: a torn tail (a writer died mid-record) -- or a damaged
  // record header, which only the index can tell apart: if any index entry
  // points at or past valid_end, the pack is damaged, not torn.
};

// Walks a pack's records in order, calling fn for each. Stops (without
// error) where the records stop making sense. A file shorter than a header
// is a pack torn at creation (valid_end 0). Corruption when the header fails
// its check or names another pack than the file name does.
Result<PackScan> ScanPack(const std::string& path,
                          const std::function<Status(const PackRecord&)>& fn);

// Repair (chunk_check.cc). Both write in place and sync, through env.
// Rewrites the header of the record at loc from what the index says of it,
// if -- and only if -- the frame there decompresses to d. NotFound otherwise.
Status RestoreRecordHeader(Env* env, const std::string& packs_dir, const Digest& d,
                           const ChunkLoc& loc);
// Rewrites a damaged pack header from the file name, choosing the version by
// where the first record starts. Ok (and nothing written) when it is intact;
// NotFound when no record starts where either version would put it.
Status RestorePackHeader(Env* env, const std::string& path);


}  // namespace cfs
