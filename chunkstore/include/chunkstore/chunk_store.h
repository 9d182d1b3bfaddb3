// The chunk store: content-defined chunks (chunker), zstd-compressed into
// append-only packs, located by a RocksDB index that any number of
// processes share; leases that pin what a live reader needs; and the chunk
// halves of gc, fsck and repair. Its users (the image store, store/) keep
// their own records in the same index, under key prefixes other than "c".
//
//   ROOT/index/        the index (Index below; FORMAT.md "Index")
//   ROOT/packs/        packs of chunk records (FORMAT.md "Pack files")
//   ROOT/leases/       one file per lease, flock'ed by its owner
//   ROOT/tmp/          scratch; a dir holding a flock'ed kScratchOwnerLock is live
//   ROOT/store.json    parameters fixed at creation (chunker)
//   ROOT/index.lock    writer-session lock; ROOT/gc.lock: gc vs. everyone else
//
// Durability (FORMAT.md "Invariants"): a chunk is indexed only after its
// pack bytes were synced, and in the same synced batch as the record that
// first references it, so a crash leaves garbage, never an index entry that
// points at missing bytes. Every write and sync goes through the Env.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/digest.h"
#include "base/env.h"
#include "base/io.h"
#include "base/status.h"
#include "layer/chunk_source.h"

namespace rocksdb {
class DB;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace cfs {

using DigestSet = std::unordered_set<Digest, DigestHash>;

// ---------------------------------------------------------------- chunker

// Content-defined chunking (FastCDC, normalized). Fixed when a store is
// created: changing them changes every boundary, so existing chunks would no
// longer dedup against new ones (still correct). FORMAT.md "Chunker".
struct ChunkerParams {
  uint32_t min_size = 16 << 10;   // no cut before this many bytes.   Default: 16 KiB
  uint32_t avg_size = 64 << 10;   // target mean; a power of two.     Default: 64 KiB
  uint32_t max_size = 256 << 10;  // always cut at this many bytes.   Default: 256 KiB

  Status Validate() const;
};

class Chunker {
 public:
  explicit Chunker(const ChunkerParams& p);

  // Returns the length of the chunk that starts at data[0].
  // REQUIRES: n >= 1, and n == min(bytes left in the stream, max_size): the
  // caller passes a full window (or the whole tail of the stream).
  // Thread-safe (stateless after construction).
  size_t NextCut(const uint8_t* data, size_t n) const;

  const ChunkerParams& params() const { return p_; }

 private:
  ChunkerParams p_;
  uint64_t mask_small_;  // used before avg_size: harder to match
  uint64_t mask_large_;  // used after avg_size: easier to match
};

// ---------------------------------------------------------------- index

// The lock file inside a scratch dir under ROOT/tmp (an index reader's
// secondary dir, a build's work dir), flock'ed while its owner lives; gc
// removes scratch dirs whose lock nobody holds.
constexpr char kScratchOwnerLock[] = "owner.lock";

// The store's RocksDB index, shared by many processes:
//  * Writers open it read-write only for a short *writer session*
//    (ChunkStore::OpenWriter), holding an exclusive flock on ROOT/index.lock,
//    and commit with one synced batch. Heavy work (reading, chunking,
//    compressing, writing packs) happens before, outside the session.
//  * Readers open a RocksDB *secondary* (ChunkStore::OpenReader), which may
//    coexist with the primary; it sees the state at open time (Refresh()
//    catches up). No lock is held while reading.
// Keys are a one-byte prefix and a body; "c" is the chunk store's.
class Index {
 public:
  ~Index();
  // Creates the database of a new store (no-op when it exists). Opening
  // never creates one: a store whose index vanished is refused, not emptied.
  static Status Create(const std::string& root, Env* env = Env::Default());
  // Repair: writes a lost ROOT/index/CURRENT naming the newest MANIFEST-*
  // file of the database. Ok and nothing written when CURRENT exists;
  // NotFound when there is no manifest to name (the index is gone).
  static Status RestoreCurrent(const std::string& root, Env* env = Env::Default());
  // A reader sees a consistent snapshot as of open/Refresh. It writes
  // nothing of the store's (env: for the one writer session it may open to
  // recover a dead writer's WAL). Thread-safe.
  static Result<std::unique_ptr<Index>> OpenReader(const std::string& root,
                                                   Env* env = Env::Default());
  // Blocks until this process holds the writer session. Thread-safe. Every
  // file the database writes (and every sync) goes through env.
  static Result<std::unique_ptr<Index>> OpenWriter(const std::string& root,
                                                   Env* env = Env::Default());
  // Opens the database read-only as a primary would (which, unlike a
  // secondary, fails on a missing table file), reads every table file and
  // checks its block checksums. Writes nothing: works on a full disk.
  static Status VerifyTables(const std::string& root);

  Result<std::optional<std::string>> Get(const std::string& k);
  // Values for many keys at once; nullopt where absent.
  Result<std::vector<std::optional<std::string>>> MultiGet(const std::vector<std::string>& keys);
  // Calls fn for every key starting with prefix, in order; stops when fn
  // returns false.
  Status Scan(const std::string& prefix,
              const std::function<bool(std::string_view k, std::string_view v)>& fn);
  Status Refresh();  // readers: catch up with the primary

  // Writers only: applies the batch atomically and durably (WAL fsync).
  class Batch {
   public:
    Batch();
    ~Batch();
    void Put(const std::string& k, std::string_view v);
    void Delete(const std::string& k);
    size_t Count() const;
    rocksdb::WriteBatch* rep() { return rep_.get(); }

   private:
    std::unique_ptr<rocksdb::WriteBatch> rep_;
  };
  Status Write(Batch& b);
  bool writer() const { return lock_.held(); }

 private:
  Index() = default;
  std::unique_ptr<rocksdb::Env> rocks_env_;  // before db_: outlives it (non-default Env only)
  std::unique_ptr<rocksdb::DB> db_;
  FileLock lock_;              // writer session lock (index.lock)
  std::string secondary_dir_;  // readers: removed on close
  FileLock secondary_owner_;   // readers: kScratchOwnerLock in secondary_dir_
};

// ---------------------------------------------------------------- writing

// One chunk handed to ChunkWriter::PutMany.
struct ChunkPut {
  Digest digest;          // sha256 of data, computed by the caller
  std::string_view data;  // not owned
};

// What ChunkWriter::PutMany added to the packs.
struct ChunkPutStats {
  uint64_t chunks = 0;  // chunks stored (those neither the store nor the writer had)
  uint64_t bytes = 0;   // bytes added to the packs
};

// Stores the chunks of one operation (a pull, an import, a commit) in packs
// of its own. Nothing it stores is visible until the caller indexes it with
// IndexInto, in the caller's batch, after Sync. Thread-safe.
class ChunkWriter {
 public:
  virtual ~ChunkWriter() = default;
  // Stores chunk d (sha256 of data, computed by the caller), compressed,
  // unless the store (the writer's index snapshot) or this writer has it.
  // Returns the bytes it added to the packs (0: it had the chunk). Two
  // threads putting the same chunk store it once.
  virtual Result<uint64_t> Put(const Digest& d, std::string_view data) = 0;
  // Put for many chunks at once (duplicates allowed): one look-up in the
  // index snapshot and, in a pack writer, one write for all the chunks it
  // stores. On error none of the chunks it was storing counts as stored.
  virtual Result<ChunkPutStats> PutMany(const std::vector<ChunkPut>& chunks);
  // Stores frame, a zstd frame the caller verified to decode to chunk c, as
  // it is (unless had). Returns the bytes added (the frame's, 0 if had).
  virtual Result<uint64_t> PutFrame(const ChunkRef& c, std::string_view frame) = 0;
  // Of ds (distinct digests), the ones neither the snapshot nor this
  // writer has, in order.
  virtual Result<std::vector<Digest>> Lacking(const std::vector<Digest>& ds) = 0;
  // Makes every chunk put so far durable.
  virtual Status Sync() = 0;
  // In writer session w: adds to b an index entry for each of ds (distinct)
  // that w lacks, located where this writer stored it. Aborted when one is
  // neither in w nor stored here (it left the store: gc ran). REQUIRES: Sync
  // after the last Put.
  virtual Status IndexInto(Index& w, const std::vector<Digest>& ds, Index::Batch* b) = 0;
  // Chunks this writer stored (indexed or not), then below (not owned).
  virtual std::unique_ptr<ChunkSource> Over(ChunkSource* below) = 0;
  // Unlinks every pack this writer created. REQUIRES: none of its chunks
  // was indexed (no IndexInto batch was written).
  virtual void Discard() = 0;
};

// Chunks for a long-running reader that also adds chunks it fetched (a lazy
// mount). Thread-safe.
class ChunkStash : public ChunkSource {
 public:
  // ReadChunk/ReadFrame: NotFound when the store lacks the chunk.
  // True when the store (or this stash) has the chunk.
  virtual bool Has(const Digest& d) = 0;
  // Stores zdata, zstd data the caller verified to decode to c, as it is.
  // Durable and visible to other processes after the next Flush (one runs
  // every second in the background).
  virtual Status Add(const ChunkRef& c, std::string_view zdata) = 0;
  virtual Status Flush() = 0;
};

// ---------------------------------------------------------------- gc, fsck, repair

// What the chunk half of gc did.
struct ChunkGcReport {
  uint64_t chunks_removed = 0, packs_removed = 0, bytes_reclaimed = 0;
  uint64_t quarantined = 0;  // files in packs/ that are not packs, moved to ROOT/quarantine/
};

// The chunk half of a gc, proven safe and ready to run (ChunkStore::ProveGc).
class ChunkSweep {
 public:
  virtual ~ChunkSweep() = default;
  // Moves strangers to quarantine, punches out records no index entry points
  // at, cuts torn tails, unlinks packs with no live record. REQUIRES: the
  // batch ProveGc filled was written.
  virtual Status Run(ChunkGcReport* rep) = 0;
};

// What the chunk half of fsck found.
struct ChunkCheckReport {
  uint64_t chunks_checked = 0;
  uint64_t garbage_records = 0;      // unindexed pack records (gc removes them)
  DigestSet good;                    // indexed chunks that read back clean
  std::vector<std::string> problems;
};

// What the chunk half of repair did.
struct ChunkRepairReport {
  uint64_t chunks_relinked = 0;  // now served by an intact copy or a rewritten header
  DigestSet dropped;             // no intact copy: dropped from the index
  std::vector<std::string> actions;
};

// ---------------------------------------------------------------- the store

struct ChunkStoreOptions {
  std::string root;
  // Used when the store is created, then fixed (read from store.json).
  ChunkerParams chunker;
  // zstd level for newly stored chunks; may change any time.
  int compression_level = 1;
  // Every write and sync goes through it (reads stay plain POSIX). Not
  // owned: it must outlive the ChunkStore.
  Env* env = Env::Default();
};

class ChunkStore {
 public:
  // Creates ROOT and its parts when absent (the index only together with
  // store.json: a store whose index vanished is refused with one line).
  static Result<std::unique_ptr<ChunkStore>> Open(const ChunkStoreOptions& o);
  virtual ~ChunkStore() = default;

  virtual const std::string& root() const = 0;
  virtual Env* env() const = 0;
  virtual const Chunker& chunker() const = 0;

  // gc.lock: every operation that reads or writes chunks holds it shared
  // for its whole run; gc holds it exclusively.
  virtual Result<FileLock> OperationLock() = 0;
  virtual Result<FileLock> GcLock() = 0;
  virtual Result<std::unique_ptr<Index>> OpenReader() = 0;
  virtual Result<std::unique_ptr<Index>> OpenWriter() = 0;

  // Verified reads through index ix (not owned; it must outlive the
  // source). A chunk the index lacks is Corruption (a record needs it: the
  // store is damaged). Thread-safe.
  virtual std::unique_ptr<ChunkSource> SourceOver(Index* ix) = 0;
  // The same through a reader of its own.
  virtual Result<std::unique_ptr<ChunkSource>> OpenSource() = 0;
  // A writer that skips chunks snapshot (not owned, may be null) has.
  virtual std::unique_ptr<ChunkWriter> NewWriter(Index* snapshot) = 0;
  virtual Result<std::unique_ptr<ChunkStash>> OpenStash() = 0;
  // Of ds (distinct), the ones ix does not index.
  virtual Result<std::vector<Digest>> Unindexed(Index& ix, const std::vector<Digest>& ds) = 0;
  // Of ds (distinct), the indexed ones that do not read back clean.
  virtual Result<std::vector<Digest>> Damaged(Index& ix, const std::vector<Digest>& ds) = 0;
  // Adds deletions of the chunks ds to b.
  virtual void Drop(const std::vector<Digest>& ds, Index::Batch* b) = 0;

  // A lease pins names (digests its user gives meaning to: layers) while it
  // lives; gc asks LeasedNames. Taken under the operation lock, by the
  // caller, so no gc runs between its decision and the lease.
  class Lease {
   public:
    virtual ~Lease() = default;
  };
  virtual Result<std::unique_ptr<Lease>> TakeLease(const std::vector<Digest>& names) = 0;
  // Names of live leases; files of dead owners are removed. REQUIRES: GcLock.
  virtual Result<std::vector<Digest>> LeasedNames() = 0;

  // gc, after the caller marked live: checks every chunk entry and walks
  // every pack nobody writes, matching them; on any doubt Corruption and
  // nothing changes. Adds deletions of unreferenced chunks to b. required:
  // chunks that must be indexed (a complete record needs them).
  // REQUIRES: GcLock and a writer session w held until the sweep ran.
  virtual Result<std::unique_ptr<ChunkSweep>> ProveGc(Index& w, const DigestSet& live,
                                                      const DigestSet& required,
                                                      Index::Batch* b,
                                                      ChunkGcReport* rep) = 0;
  // fsck: every index entry decoded, every chunk read and hashed, every
  // pack walked and matched with the index. Problems go in the report.
  virtual Status Check(Index& ix, ChunkCheckReport* rep) = 0;
  // Rewrites damaged pack and record headers, points the index at intact
  // copies of bad chunks, drops the rest. REQUIRES: writer session w.
  virtual Status Repair(Index& w, ChunkRepairReport* rep) = 0;
};

}  // namespace cfs
