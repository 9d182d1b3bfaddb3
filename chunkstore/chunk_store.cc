// ChunkStore: opening a store root, verified reads, chunk writers, leases.
#include "chunkstore/chunk_store.h"

#include <zstd.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "base/thread_annotations.h"
#include "chunk_store_impl.h"

namespace cfs {

using nlohmann::json;

namespace {

// ROOT/leases.reserve: room kept so a mount can pin its layers even on a
// full disk (a lease is a few hundred bytes and one inode). TakeLease removes
// it to make that room; the next Open with space recreates it.
constexpr char kLeaseReserve[] = "/leases.reserve";
constexpr size_t kLeaseReserveBytes = 64 << 10;

void EnsureLeaseReserve(Env* env, const std::string& root) {
  const std::string path = root + kLeaseReserve;
  if (!PathExists(path)) (void)WriteFileAtomic(env, path, std::string(kLeaseReserveBytes, '\0'));
}

// A store made by an older cimg may have no index yet if nothing was ever
// stored; one with packs or a partial index/ dir has lost it, and is refused.
Status CheckIndexPresent(Env* env, const std::string& root) {
  if (PathExists(root + "/index/CURRENT")) return Status::Ok();
  auto packs = ListDir(root + "/packs", ".pack");
  auto index_files = ListDir(root + "/index");
  bool empty = packs.ok() && packs->empty() && (!index_files.ok() || index_files->empty());
  if (!empty) return Index::OpenWriter(root, env).status();  // the one-line refusal
  return Index::Create(root, env);
}

// Reads store.json's chunker parameters into *p.
Status ReadStoreJson(const std::string& path, ChunkerParams* p) {
  ASSIGN_OR_RETURN(std::string cfg, ReadFile(path));
  try {
    json j = json::parse(cfg);
    p->min_size = j.at("chunker").at("min").get<uint32_t>();
    p->avg_size = j.at("chunker").at("avg").get<uint32_t>();
    p->max_size = j.at("chunker").at("max").get<uint32_t>();
  } catch (const std::exception& e) {
    return Status::Corruption(path + ": " + e.what());
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<ChunkStore>> ChunkStore::Open(const ChunkStoreOptions& in) {
  ChunkStoreOptions o = in;
  for (const char* sub : {"", "/packs", "/tmp", "/leases"})
    RETURN_IF_ERROR(o.env->CreateDirs(o.root + sub, 0700).Prefix("store root " + o.root));
  // Chunker parameters are fixed at creation.
  std::string cfg_path = o.root + "/store.json";
  if (PathExists(cfg_path)) {
    RETURN_IF_ERROR(ReadStoreJson(cfg_path, &o.chunker));
    RETURN_IF_ERROR(CheckIndexPresent(o.env, o.root));
  } else {
    RETURN_IF_ERROR(o.chunker.Validate());
    RETURN_IF_ERROR(Index::Create(o.root, o.env));
    json j = {{"version", 1},
              {"digest", "sha256"},
              {"chunker",
               {{"algorithm", "fastcdc"},
                {"min", o.chunker.min_size},
                {"avg", o.chunker.avg_size},
                {"max", o.chunker.max_size}}}};
    RETURN_IF_ERROR(WriteFileAtomic(o.env, cfg_path, j.dump(2) + "\n"));
  }
  RETURN_IF_ERROR(o.chunker.Validate().Prefix(cfg_path));
  EnsureLeaseReserve(o.env, o.root);
  return std::unique_ptr<ChunkStore>(std::make_unique<ChunkStoreImpl>(o));
}

// ---------------------------------------------------------------- reads

Result<ChunkLoc> ChunkStoreImpl::Locate(Index& ix, const ChunkRef& c,
                                        Status (*missing)(const Digest&)) {
  ASSIGN_OR_RETURN(auto v, ix.Get(ChunkKey(c.digest)));
  if (!v) return missing(c.digest);
  ASSIGN_OR_RETURN(ChunkLoc loc, ChunkLoc::Decode(*v));
  if (loc.ulen != c.size) return Status::Corruption("chunk " + c.digest.ToString() + ": size mismatch");
  return loc;
}

namespace {

Status MissingIsCorruption(const Digest& d) {
  return Status::Corruption("chunk " + d.ToString() + " missing from the store");
}

// Reads chunks through an index and the packs. Thread-safe.
class IndexedChunkSource : public ChunkSource {
 public:
  IndexedChunkSource(ChunkStoreImpl* store, Index* ix, std::unique_ptr<Index> owned = nullptr)
      : store_(store), owned_(std::move(owned)), ix_(ix ? ix : owned_.get()) {}
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    ASSIGN_OR_RETURN(ChunkLoc loc, store_->Locate(*ix_, c, MissingIsCorruption));
    return store_->packs().ReadChunk(c.digest, loc);
  }
  Status ReadChunkInto(const ChunkRef& c, char* out) override {
    ASSIGN_OR_RETURN(ChunkLoc loc, store_->Locate(*ix_, c, MissingIsCorruption));
    return store_->packs().ReadChunkInto(c.digest, loc, out);
  }
  Result<std::string> ReadFrame(const ChunkRef& c) override {
    ASSIGN_OR_RETURN(ChunkLoc loc, store_->Locate(*ix_, c, MissingIsCorruption));
    return VerifiedFrame(store_->packs(), c.digest, loc);
  }

 private:
  ChunkStoreImpl* store_;
  std::unique_ptr<Index> owned_;
  Index* ix_;
};

}  // namespace

std::unique_ptr<ChunkSource> ChunkStoreImpl::SourceOver(Index* ix) {
  return std::make_unique<IndexedChunkSource>(this, ix);
}

Result<std::unique_ptr<ChunkSource>> ChunkStoreImpl::OpenSource() {
  ASSIGN_OR_RETURN(auto reader, OpenReader());
  return std::unique_ptr<ChunkSource>(
      std::make_unique<IndexedChunkSource>(this, nullptr, std::move(reader)));
}

Result<std::vector<Digest>> ChunkStoreImpl::Unindexed(Index& ix, const std::vector<Digest>& ds) {
  std::vector<std::string> keys;
  keys.reserve(ds.size());
  for (const auto& d : ds) keys.push_back(ChunkKey(d));
  ASSIGN_OR_RETURN(auto have, ix.MultiGet(keys));
  std::vector<Digest> out;
  for (size_t i = 0; i < ds.size(); i++)
    if (!have[i]) out.push_back(ds[i]);
  return out;
}

Result<std::vector<Digest>> ChunkStoreImpl::Damaged(Index& ix, const std::vector<Digest>& ds) {
  std::vector<Digest> bad;
  for (const auto& d : ds) {
    ASSIGN_OR_RETURN(auto v, ix.Get(ChunkKey(d)));
    if (!v) continue;
    auto loc = ChunkLoc::Decode(*v);
    if (!loc.ok() || !packs_.ReadChunk(d, *loc).ok()) bad.push_back(d);
  }
  return bad;
}

void ChunkStoreImpl::Drop(const std::vector<Digest>& ds, Index::Batch* b) {
  for (const auto& d : ds) b->Delete(ChunkKey(d));
}

// ---------------------------------------------------------------- writers

Result<ChunkPutStats> ChunkWriter::PutMany(const std::vector<ChunkPut>& chunks) {
  ChunkPutStats stats;
  for (const auto& c : chunks) {
    ASSIGN_OR_RETURN(uint64_t added, Put(c.digest, c.data));
    if (added > 0) stats.chunks++;
    stats.bytes += added;
  }
  return stats;
}

namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> tls_cctx;
thread_local std::string tls_frame;  // compression output, reused
thread_local std::string tls_records;  // PutMany's records, reused

ZSTD_CCtx* ThreadCCtx() {
  if (!tls_cctx) tls_cctx.reset(ZSTD_createCCtx());
  return tls_cctx.get();
}

// Chunks of one operation in packs of its own (PackWriter).
class PackChunkWriter : public ChunkWriter {
 public:
  PackChunkWriter(ChunkStoreImpl* store, Index* snapshot)
      : store_(store), snapshot_(snapshot), packs_(store->packs_dir(), store->env()) {}

  Result<uint64_t> Put(const Digest& d, std::string_view data) override {
    if (!Claim(d)) return uint64_t{0};
    size_t bound = ZSTD_compressBound(data.size());
    if (tls_frame.size() < bound) tls_frame.resize(bound);
    size_t n = ZSTD_compressCCtx(ThreadCCtx(), tls_frame.data(), bound, data.data(),
                                 data.size(), store_->compression_level());
    if (ZSTD_isError(n)) return Unclaim(d, Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(n), EIO));
    auto loc = packs_.Append(d, std::string_view(tls_frame.data(), n),
                             static_cast<uint32_t>(data.size()));
    if (!loc.ok()) return Unclaim(d, loc.status());
    MutexLock l(&mu_);
    written_[d] = *loc;
    return uint64_t{loc->clen + kRecordHeaderSize};
  }

  Result<ChunkPutStats> PutMany(const std::vector<ChunkPut>& chunks) override {
    const std::vector<size_t> mine = ClaimMany(chunks);
    if (mine.empty()) return ChunkPutStats{};
    std::vector<ChunkLoc> locs;
    Result<size_t> n = EncodeRecords(chunks, mine, &locs);
    Result<ChunkLoc> at = n.ok() ? packs_.AppendRecords(std::string_view(tls_records.data(), *n))
                                 : Result<ChunkLoc>(n.status());
    MutexLock l(&mu_);
    if (!at.ok()) {
      for (size_t i : mine) written_.erase(chunks[i].digest);
      return at.status();
    }
    ChunkPutStats stats{mine.size(), 0};
    for (size_t k = 0; k < mine.size(); k++) {
      locs[k].pack_id = at->pack_id;
      locs[k].offset += at->offset;
      written_[chunks[mine[k]].digest] = locs[k];
      stats.bytes += kRecordHeaderSize + locs[k].clen;
    }
    return stats;
  }

  Result<uint64_t> PutFrame(const ChunkRef& c, std::string_view frame) override {
    if (!Claim(c.digest)) return uint64_t{0};
    auto loc = packs_.Append(c.digest, frame, c.size);
    if (!loc.ok()) return Unclaim(c.digest, loc.status());
    MutexLock l(&mu_);
    written_[c.digest] = *loc;
    return uint64_t{frame.size()};
  }

  Result<std::vector<Digest>> Lacking(const std::vector<Digest>& ds) override {
    std::vector<Digest> todo;
    {
      MutexLock l(&mu_);
      for (const auto& d : ds)
        if (!written_.count(d)) todo.push_back(d);
    }
    if (!snapshot_) return todo;
    return store_->Unindexed(*snapshot_, todo);
  }

  Status Sync() override { return packs_.Sync(); }

  Status IndexInto(Index& w, const std::vector<Digest>& ds, Index::Batch* b) override {
    ASSIGN_OR_RETURN(std::vector<Digest> absent, store_->Unindexed(w, ds));
    MutexLock l(&mu_);
    for (const auto& d : absent) {
      auto it = written_.find(d);
      if (it == written_.end() || it->second.pack_id == 0)
        return Status::Aborted("chunk " + d.ToString() +
                               " left the store during the import (gc?); run the command again");
      b->Put(ChunkKey(d), it->second.Encode());
    }
    return Status::Ok();
  }

  std::unique_ptr<ChunkSource> Over(ChunkSource* below) override;

  void Discard() override { packs_.RemoveCreated(); }

  // Where this writer stored d, if it did.
  std::optional<ChunkLoc> Written(const Digest& d) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    auto it = written_.find(d);
    if (it == written_.end() || it->second.pack_id == 0) return std::nullopt;
    return it->second;
  }
  PackReader& reader() { return store_->packs(); }

 private:
  // Compresses chunks[i] for each i of mine into tls_records, one whole
  // record after the other; locs gets each one's offset in tls_records,
  // clen and ulen. Returns the bytes of records.
  Result<size_t> EncodeRecords(const std::vector<ChunkPut>& chunks, const std::vector<size_t>& mine,
                       std::vector<ChunkLoc>* locs) {
    size_t need = 0;
    for (size_t i : mine) need += kRecordHeaderSize + ZSTD_compressBound(chunks[i].data.size());
    if (tls_records.size() < need) tls_records.resize(need);
    size_t pos = 0;
    for (size_t i : mine) {
      const ChunkPut& c = chunks[i];
      char* frame = tls_records.data() + pos + kRecordHeaderSize;
      size_t n = ZSTD_compressCCtx(ThreadCCtx(), frame, need - pos - kRecordHeaderSize,
                                   c.data.data(), c.data.size(), store_->compression_level());
      if (ZSTD_isError(n)) return Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(n), EIO);
      const auto ulen = static_cast<uint32_t>(c.data.size());
      EncodeRecordHeader(tls_records.data() + pos, c.digest, static_cast<uint32_t>(n), ulen);
      locs->push_back(ChunkLoc{0, pos, static_cast<uint32_t>(n), ulen});
      pos += kRecordHeaderSize + n;
    }
    return pos;
  }

  // Claim for many chunks: the indexes into chunks of those the caller is to
  // store (a digest repeated in chunks is claimed once).
  std::vector<size_t> ClaimMany(const std::vector<ChunkPut>& chunks) EXCLUDES(mu_) {
    std::vector<size_t> ask;
    {
      MutexLock l(&mu_);
      for (size_t i = 0; i < chunks.size(); i++)
        if (!written_.count(chunks[i].digest) && !in_store_.count(chunks[i].digest)) ask.push_back(i);
    }
    if (snapshot_ && !ask.empty()) ask = NotInSnapshot(chunks, ask);
    std::vector<size_t> mine;
    MutexLock l(&mu_);
    for (size_t i : ask)
      if (written_.emplace(chunks[i].digest, ChunkLoc{}).second) mine.push_back(i);
    return mine;
  }

  // Of ask (indexes into chunks), those the snapshot lacks (or could not
  // tell: the chunk is stored again, as Claim does); remembers the others.
  std::vector<size_t> NotInSnapshot(const std::vector<ChunkPut>& chunks,
                                    const std::vector<size_t>& ask) EXCLUDES(mu_) {
    std::vector<std::string> keys;
    keys.reserve(ask.size());
    for (size_t i : ask) keys.push_back(ChunkKey(chunks[i].digest));
    auto have = snapshot_->MultiGet(keys);
    if (!have.ok()) return ask;
    std::vector<size_t> out;
    MutexLock l(&mu_);
    for (size_t k = 0; k < ask.size(); k++) {
      if ((*have)[k]) {
        in_store_.insert(chunks[ask[k]].digest);
      } else {
        out.push_back(ask[k]);
      }
    }
    return out;
  }

  // True when the caller is to store d: neither the snapshot nor this writer
  // (nor another thread now) has it.
  bool Claim(const Digest& d) EXCLUDES(mu_) {
    {
      MutexLock l(&mu_);
      if (written_.count(d) || in_store_.count(d)) return false;
    }
    if (snapshot_) {
      auto have = snapshot_->Get(ChunkKey(d));
      if (have.ok() && have->has_value()) {
        MutexLock l(&mu_);
        in_store_.insert(d);
        return false;
      }
    }
    MutexLock l(&mu_);
    return written_.emplace(d, ChunkLoc{}).second;  // pack_id 0: being stored
  }
  Status Unclaim(const Digest& d, Status st) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    written_.erase(d);
    return st;
  }

  ChunkStoreImpl* store_;
  Index* snapshot_;
  PackWriter packs_;
  Mutex mu_;
  std::unordered_map<Digest, ChunkLoc, DigestHash> written_ GUARDED_BY(mu_);
  DigestSet in_store_ GUARDED_BY(mu_);
};

// Chunks a writer stored first, then another source.
class WrittenFirst : public ChunkSource {
 public:
  WrittenFirst(PackChunkWriter* w, ChunkSource* below) : w_(w), below_(below) {}
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    if (auto loc = w_->Written(c.digest)) return w_->reader().ReadChunk(c.digest, *loc);
    return below_->ReadChunk(c);
  }
  Result<std::string> ReadFrame(const ChunkRef& c) override {
    auto loc = w_->Written(c.digest);
    if (!loc) return below_->ReadFrame(c);
    return VerifiedFrame(w_->reader(), c.digest, *loc);
  }

 private:
  PackChunkWriter* w_;
  ChunkSource* below_;
};

std::unique_ptr<ChunkSource> PackChunkWriter::Over(ChunkSource* below) {
  return std::make_unique<WrittenFirst>(this, below);
}

}  // namespace

std::unique_ptr<ChunkWriter> ChunkStoreImpl::NewWriter(Index* snapshot) {
  return std::make_unique<PackChunkWriter>(this, snapshot);
}

// ---------------------------------------------------------------- leases

namespace {

// Holds an exclusive flock on its lease file; removes the file on release.
class FileLease : public ChunkStore::Lease {
 public:
  FileLease(Env* env, std::string path, FileLock lock)
      : env_(env), path_(std::move(path)), lock_(std::move(lock)) {}
  ~FileLease() override {
    (void)env_->RemoveFile(path_);
    lock_.Release();
  }

 private:
  Env* env_;
  std::string path_;
  FileLock lock_;
};

// Creates and locks the lease file at path, holding body.
Result<FileLock> WriteLease(Env* env, const std::string& path, const std::string& body) {
  ASSIGN_OR_RETURN(FileLock lock, FileLock::Acquire(path, FileLock::Mode::kExclusive));
  ASSIGN_OR_RETURN(auto file, env->OpenWritable(path, Env::OpenMode::kTruncate));
  // The path names the store root, e.g. on a full disk.
  RETURN_IF_ERROR(file->Append(body).Prefix(path));
  RETURN_IF_ERROR(file->Sync().Prefix(path));
  return lock;
}

}  // namespace

Result<std::unique_ptr<ChunkStore::Lease>> ChunkStoreImpl::TakeLease(
    const std::vector<Digest>& names) {
  std::string path = leases_dir_ + "/" + RandomHex(8) + ".lease";
  json j = json::array();
  for (const auto& d : names) j.push_back(d.ToString());
  const std::string body = j.dump();
  Env* env = opts_.env;
  auto lock = WriteLease(env, path, body);
  if (!lock.ok() && lock.status().err() == ENOSPC) {
    // A full disk: use the room kept for this.
    (void)env->RemoveFile(path);
    if (env->RemoveFile(opts_.root + kLeaseReserve).ok()) lock = WriteLease(env, path, body);
  }
  if (!lock.ok()) {
    (void)env->RemoveFile(path);
    return lock.status();
  }
  return std::unique_ptr<Lease>(std::make_unique<FileLease>(env, path, std::move(*lock)));
}

Result<std::vector<Digest>> ChunkStoreImpl::LeasedNames() {
  std::vector<Digest> out;
  ASSIGN_OR_RETURN(auto names, ListDir(leases_dir_, ".lease"));
  for (const auto& n : names) {
    std::string f = leases_dir_ + "/" + n;
    auto probe = FileLock::TryAcquire(f, FileLock::Mode::kExclusive);
    if (probe.ok()) {  // nobody holds it: stale
      (void)opts_.env->RemoveFile(f);
      continue;
    }
    ASSIGN_OR_RETURN(std::string body, ReadFile(f));
    try {
      for (const auto& v : json::parse(body)) {
        ASSIGN_OR_RETURN(Digest dg, Digest::Parse(v.get<std::string>()));
        out.push_back(dg);
      }
    } catch (const std::exception& e) {
      return Status::Corruption(f + ": " + e.what());
    }
  }
  return out;
}

}  // namespace cfs
