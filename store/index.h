// The store's RocksDB index and the protocol that lets many processes share
// one store root.
//
// RocksDB admits one read-write process per database, so:
//  * Writers open the database read-write only for a short *writer session*
//    (Index::OpenWriter), holding an exclusive flock on ROOT/index.lock, and
//    commit with one synced WriteBatch. Heavy work (reading tars, chunking,
//    compressing, writing packs) happens before, outside the session.
//  * Readers open a RocksDB *secondary* instance (Index::OpenReader), which
//    may coexist with the primary; it sees the state at open time (call
//    Refresh() to catch up). No lock is held while reading.
// Key schema (FORMAT.md "Index"):
//   "c" digest[32]        -> ChunkLoc (24 bytes)
//   "t" diff_id[32]       -> LayerToc, encoded
//   "s" diff_id[32]       -> TarSplit, encoded
//   "b" digest[32]        -> blob bytes (manifests, configs)
//   "i" digest[32]        -> image record JSON, keyed by manifest digest
//   "n" name              -> manifest digest ("sha256:…"), for tags
//   "p" diff_id[32]       -> LayerToc of a partial (lazily fetched) layer
//   "q" diff_id[32]       -> its TarSplit and chunk blob ranges (chunked_layer.h)
//   "k" key[32]           -> build cache entry (JSON, builder/)
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/env.h"
#include "base/io.h"

namespace rocksdb {
class DB;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace cfs {

namespace key {
inline std::string Chunk(const Digest& d) { return "c" + std::string(d.Raw()); }
inline std::string Toc(const Digest& d) { return "t" + std::string(d.Raw()); }
inline std::string Split(const Digest& d) { return "s" + std::string(d.Raw()); }
inline std::string Blob(const Digest& d) { return "b" + std::string(d.Raw()); }
inline std::string Image(const Digest& d) { return "i" + std::string(d.Raw()); }
inline std::string Name(const std::string& n) { return "n" + n; }
inline std::string BuildCache(const Digest& d) { return "k" + std::string(d.Raw()); }
inline std::string PartialToc(const Digest& d) { return "p" + std::string(d.Raw()); }
inline std::string PartialRest(const Digest& d) { return "q" + std::string(d.Raw()); }
}  // namespace key

// The lock file inside a reader's secondary dir, held while it is open.
constexpr char kSecondaryOwnerLock[] = "owner.lock";

class Index {
 public:
  ~Index();
  // Every file the database writes (and every sync) goes through env, the
  // store's (StoreOptions::env); with Env::Default() RocksDB does its own
  // POSIX I/O, as it always did. env must outlive the Index.

  // Creates the database of a new store (no-op when it exists). Opening
  // never creates one: a store whose index vanished is refused, not emptied.
  static Status Create(const std::string& root, Env* env = Env::Default());
  // Repair: writes a lost ROOT/index/CURRENT naming the newest MANIFEST-*
  // file of the database. Ok and nothing written when CURRENT exists;
  // NotFound when there is no manifest to name (the index is gone).
  static Status RestoreCurrent(const std::string& root, Env* env = Env::Default());
  // A reader sees a consistent snapshot of the index as of open/Refresh.
  // It writes nothing of the store's (env: for the one writer session it
  // may open to recover a dead writer's WAL). Thread-safe.
  static Result<std::unique_ptr<Index>> OpenReader(const std::string& root,
                                                   Env* env = Env::Default());
  // Blocks until this process holds the writer session. Thread-safe.
  static Result<std::unique_ptr<Index>> OpenWriter(const std::string& root,
                                                   Env* env = Env::Default());

  Result<std::optional<std::string>> Get(const std::string& k);
  // Values for many keys at once; nullopt where absent.
  Result<std::vector<std::optional<std::string>>> MultiGet(const std::vector<std::string>& keys);
  // Calls fn for every key starting with prefix, in order; stops when fn
  // returns false.
  Status Scan(const std::string& prefix,
              const std::function<bool(std::string_view k, std::string_view v)>& fn);
  Status Refresh();  // readers: catch up with the primary
  // Opens the database read-only as a primary would (which, unlike a
  // secondary, fails on a missing table file), reads every table file and
  // checks its block checksums. Writes nothing: works on a full disk.
  static Status VerifyTables(const std::string& root);

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
  FileLock lock_;            // writer session lock (index.lock)
  std::string secondary_dir_;  // readers: removed on close
  FileLock secondary_owner_;   // readers: "owner.lock" in secondary_dir_, so gc
                               // can tell a live reader's dir from a dead one's
};

}  // namespace cfs
