// The store side of lazy pulls: partial layers, single-layer imports, and
// the chunk stash a lazy mount reads through and adds fetched chunks to.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <thread>
#include <unordered_map>

#include "store/layer_import.h"
#include "store/store_impl.h"
#include "base/coding.h"

namespace cfs {

namespace {

// "q" value: u64 version (1), u64 split length, split, u64 n, n x (offset,
// length, flags).
std::string EncodeRest(const ChunkedLayer& l) {
  std::string split = l.split.Encode();
  std::string out;
  PutFixed64(&out, 1);
  PutFixed64(&out, split.size());
  out += split;
  PutFixed64(&out, l.where.size());
  for (const auto& w : l.where) {
    PutFixed64(&out, w.offset);
    PutFixed64(&out, w.length);
    PutFixed64(&out, w.zeros ? 1 : 0);
  }
  return out;
}

Status DecodeRest(std::string_view v, ChunkedLayer* l) {
  auto bad = [] { return Status::Corruption("partial layer record is damaged"); };
  if (v.size() < 16 || DecodeFixed64(v.data()) != 1) return bad();
  uint64_t n = DecodeFixed64(v.data() + 8);
  if (n > v.size() - 16) return bad();
  ASSIGN_OR_RETURN(l->split, TarSplit::Decode(v.substr(16, n)));
  size_t p = 16 + n;
  if (v.size() - p < 8) return bad();
  uint64_t count = DecodeFixed64(v.data() + p);
  p += 8;
  if (count > (v.size() - p) / 24) return bad();
  l->where.resize(count);
  for (auto& w : l->where) {
    w.offset = DecodeFixed64(v.data() + p);
    w.length = DecodeFixed64(v.data() + p + 8);
    w.zeros = DecodeFixed64(v.data() + p + 16) & 1;
    p += 24;
  }
  return Status::Ok();
}

class StashImpl : public Store::ChunkStash {
 public:
  StashImpl(Store::Impl* impl, std::unique_ptr<Index> reader)
      : impl_(impl), reader_(std::move(reader)), packs_(impl->packs_dir, impl->env()) {
    flusher_ = std::thread([this] { FlushLoop(); });
  }
  ~StashImpl() override {
    {
      std::lock_guard<std::mutex> l(flush_mu_);
      stop_ = true;
    }
    flush_cv_.notify_all();
    flusher_.join();
    (void)Flush();
  }

  Result<std::string> ReadChunk(const ChunkRef& c) override {
    ASSIGN_OR_RETURN(ChunkLoc loc, Locate(c));
    return impl_->packs.ReadChunk(c.digest, loc);
  }
  Result<std::string> ReadFrame(const ChunkRef& c) override {
    ASSIGN_OR_RETURN(ChunkLoc loc, Locate(c));
    ASSIGN_OR_RETURN(std::string frame, impl_->packs.ReadFrame(c.digest, loc));
    RETURN_IF_ERROR(DecompressVerified(c.digest, frame, loc.ulen).status());
    return frame;
  }
  bool Has(const Digest& d) override {
    {
      MutexLock l(&mu_);
      if (added_.count(d)) return true;
    }
    auto v = reader_->Get(key::Chunk(d));
    return v.ok() && v->has_value();
  }
  Status Add(const ChunkRef& c, std::string_view zdata) override {
    {
      MutexLock l(&mu_);
      if (added_.count(c.digest)) return Status::Ok();
    }
    ASSIGN_OR_RETURN(ChunkLoc loc, packs_.Append(c.digest, zdata, c.size));
    MutexLock l(&mu_);
    if (added_.emplace(c.digest, loc).second) pending_.push_back(c.digest);
    return Status::Ok();
  }
  Status Flush() override {
    std::lock_guard<std::mutex> one(flush_one_);
    std::vector<std::pair<Digest, ChunkLoc>> todo;
    {
      MutexLock l(&mu_);
      for (const auto& d : pending_) todo.emplace_back(d, added_[d]);
      pending_.clear();
    }
    if (todo.empty()) return Status::Ok();
    Status st = [&]() -> Status {
      RETURN_IF_ERROR(packs_.Sync());
      ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
      ASSIGN_OR_RETURN(auto w, impl_->Writer());
      Index::Batch b;
      for (const auto& [d, loc] : todo) b.Put(key::Chunk(d), loc.Encode());
      return w->Write(b);
    }();
    if (!st.ok()) {
      MutexLock l(&mu_);
      for (const auto& [d, loc] : todo) pending_.push_back(d);  // try again later
    }
    return st;
  }

 private:
  Result<ChunkLoc> Locate(const ChunkRef& c) {
    {
      MutexLock l(&mu_);
      auto it = added_.find(c.digest);
      if (it != added_.end()) return it->second;
    }
    ASSIGN_OR_RETURN(auto v, reader_->Get(key::Chunk(c.digest)));
    if (!v) {
      // Another process (a second mount, a pull) may have stored it since:
      // catch up, at most once a second.
      auto now = std::chrono::steady_clock::now();
      bool refresh = false;
      {
        MutexLock l(&mu_);
        if (now - last_refresh_ > std::chrono::seconds(1)) {
          last_refresh_ = now;
          refresh = true;
        }
      }
      if (refresh && reader_->Refresh().ok()) {
        ASSIGN_OR_RETURN(v, reader_->Get(key::Chunk(c.digest)));
      }
      if (!v) return Status::NotFound("chunk " + c.digest.ToString() + " is not in the store");
    }
    ASSIGN_OR_RETURN(ChunkLoc loc, ChunkLoc::Decode(*v));
    if (loc.ulen != c.size) return Status::Corruption("chunk " + c.digest.ToString() + ": size mismatch");
    return loc;
  }

  void FlushLoop() {
    std::unique_lock<std::mutex> l(flush_mu_);
    while (!stop_) {
      flush_cv_.wait_for(l, std::chrono::seconds(1));
      if (stop_) break;
      l.unlock();
      (void)Flush();  // a failure keeps the chunks pending for the next round
      l.lock();
    }
  }

  Store::Impl* impl_;
  std::unique_ptr<Index> reader_;
  PackWriter packs_;
  Mutex mu_;
  std::unordered_map<Digest, ChunkLoc, DigestHash> added_ GUARDED_BY(mu_);
  std::vector<Digest> pending_ GUARDED_BY(mu_);
  std::chrono::steady_clock::time_point last_refresh_ GUARDED_BY(mu_);
  std::mutex flush_one_;
  std::mutex flush_mu_;
  std::condition_variable flush_cv_;
  bool stop_ = false;
  std::thread flusher_;
};

}  // namespace

Status Store::PutPartialLayer(const ChunkedLayer& l) {
  if (l.where.size() != l.toc.chunks.size())
    return Status::Invalid("partial layer: chunk ranges do not match the TOC");
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  Index::Batch b;
  b.Put(key::PartialToc(l.toc.diff_id), l.toc.Encode());
  b.Put(key::PartialRest(l.toc.diff_id), EncodeRest(l));
  return w->Write(b);
}

Result<std::optional<ChunkedLayer>> Store::GetPartialLayer(const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(auto t, ix->Get(key::PartialToc(diff_id)));
  ASSIGN_OR_RETURN(auto r, ix->Get(key::PartialRest(diff_id)));
  if (!t || !r) return std::optional<ChunkedLayer>();
  ChunkedLayer l;
  ASSIGN_OR_RETURN(l.toc, LayerToc::Decode(*t));
  RETURN_IF_ERROR(DecodeRest(*r, &l).Prefix("layer " + diff_id.ToString()));
  if (l.where.size() != l.toc.chunks.size())
    return Status::Corruption("layer " + diff_id.ToString() + ": partial record is inconsistent");
  return std::optional<ChunkedLayer>(std::move(l));
}

Status Store::ImportLayer(ImageSourceReader& src, const Descriptor& d, const Digest& diff_id,
                          const ProgressFn& progress) {
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto snapshot, impl_->Reader());
  ASSIGN_OR_RETURN(auto have, snapshot->Get(key::Toc(diff_id)));
  if (have) return Status::Ok();
  PackWriter packs(impl_->packs_dir, impl_->env());
  LayerImporter importer(*impl_->chunker, &packs, snapshot.get(), impl_->opts.compression_level,
                         impl_->opts.threads);
  const std::string what = "layer " + d.digest.ToString();
  ASSIGN_OR_RETURN(auto blob, src.OpenBlob(d));
  ASSIGN_OR_RETURN(LayerImportResult r,
                   importer.Import(*blob, d.digest, diff_id, what, progress, d.size));
  RETURN_IF_ERROR(packs.Sync());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  return importer.Commit(*w, r).Prefix(what);
}

Result<std::unique_ptr<Store::ChunkStash>> Store::OpenChunkStash() {
  ASSIGN_OR_RETURN(auto reader, impl_->Reader());
  return std::unique_ptr<ChunkStash>(std::make_unique<StashImpl>(impl_.get(), std::move(reader)));
}

}  // namespace cfs
