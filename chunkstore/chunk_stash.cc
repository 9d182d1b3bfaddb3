// ChunkStash: the chunk source of a lazy mount, which also keeps the chunks
// it fetched, indexing them once a second.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/thread_annotations.h"
#include "chunk_store_impl.h"

namespace cfs {

namespace {

Status MissingIsNotFound(const Digest& d) {
  return Status::NotFound("chunk " + d.ToString() + " is not in the store");
}

class StashImpl : public ChunkStash {
 public:
  StashImpl(ChunkStoreImpl* store, std::unique_ptr<Index> reader)
      : store_(store), reader_(std::move(reader)), packs_(store->packs_dir(), store->env()) {
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
    return store_->packs().ReadChunk(c.digest, loc);
  }
  Result<std::string> ReadFrame(const ChunkRef& c) override {
    ASSIGN_OR_RETURN(ChunkLoc loc, Locate(c));
    return VerifiedFrame(store_->packs(), c.digest, loc);
  }
  bool Has(const Digest& d) override {
    {
      MutexLock l(&mu_);
      if (added_.count(d)) return true;
    }
    auto v = reader_->Get(ChunkKey(d));
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
      ASSIGN_OR_RETURN(FileLock op, store_->OperationLock());
      ASSIGN_OR_RETURN(auto w, store_->OpenWriter());
      Index::Batch b;
      for (const auto& [d, loc] : todo) b.Put(ChunkKey(d), loc.Encode());
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
    auto loc = store_->Locate(*reader_, c, MissingIsNotFound);
    if (loc.ok() || loc.status().code() != Status::Code::kNotFound) return loc;
    // Another process (a second mount, a pull) may have stored it since:
    // catch up, at most once a second.
    auto now = std::chrono::steady_clock::now();
    {
      MutexLock l(&mu_);
      if (now - last_refresh_ <= std::chrono::seconds(1)) return loc;
      last_refresh_ = now;
    }
    if (!reader_->Refresh().ok()) return loc;
    return store_->Locate(*reader_, c, MissingIsNotFound);
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

  ChunkStoreImpl* store_;
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

Result<std::unique_ptr<ChunkStash>> ChunkStoreImpl::OpenStash() {
  ASSIGN_OR_RETURN(auto reader, OpenReader());
  return std::unique_ptr<ChunkStash>(std::make_unique<StashImpl>(this, std::move(reader)));
}

}  // namespace cfs
