#include "lazy/lazy_fetch.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <map>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "base/executor.h"
#include "transport/image_source.h"

namespace cfs::lazy {

using registry::Client;
using registry::Deadline;
using registry::kNoDeadline;

struct RemoteLayer {
  std::shared_ptr<Client> client;
  std::string repo;
  Descriptor desc;
  std::shared_ptr<const LayerToc> toc;
  std::vector<BlobChunk> where;
  std::vector<uint32_t> file_end;  // per chunk: one past the last chunk of its file
  // Whole-blob fallback for registries that ignore Range.
  std::mutex blob_mu;
  bool no_range = false;
  std::string blob_path;  // fetched blob, once no_range
};

class LazyChunkSource::Impl {
 public:
  Impl(std::unique_ptr<Store::ChunkStash> stash, LazyOptions o)
      : stash(std::move(stash)), opts(std::move(o)) {}

  std::unique_ptr<Store::ChunkStash> stash;
  LazyOptions opts;
  std::vector<std::unique_ptr<RemoteLayer>> layers;
  // digest -> (layer, chunk index): where a chunk can be fetched from.
  std::unordered_map<Digest, std::pair<uint32_t, uint32_t>, DigestHash> where;

  std::mutex mu;
  std::condition_variable cv;
  std::unordered_set<Digest, DigestHash> inflight;  // guarded by mu
  struct Failure {
    std::chrono::steady_clock::time_point until;
    Status status;
  };
  std::unordered_map<Digest, Failure, DigestHash> failed;  // guarded by mu

  std::atomic<uint64_t> n_requests{0}, n_bytes{0}, n_chunks{0};
  std::atomic<int> foreground{0};  // reads waiting on the registry
  std::vector<ChunkRef> profile;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> last_fail_log_ms{-100000};
  std::thread prefetcher;
  std::mutex pf_mu;
  bool pf_done = false;
  Status pf_status;
  std::condition_variable pf_cv;

  void Log(const std::string& s) {
    if (opts.log) opts.log(s);
  }
  // Fetches c (with the following missing chunks of its file, or of the
  // layer when across_files, up to max_request bytes in one read).
  Result<std::string> Fetch(const ChunkRef& c, uint64_t max_request, bool across_files,
                            Deadline deadline);
  // One past the last chunk that one Range read starting at chunk i of L
  // may bring along: the chunks after i (of its file, or of the layer when
  // across_files) in blob order up to the first all-zeros one, merged as
  // PlanRanges merges (gaps up to max_gap, at most max_request bytes).
  uint32_t ReadWindow(const RemoteLayer& L, uint32_t i, uint64_t max_request,
                      bool across_files) const;
  // Claims chunk i of L and the chunks after it in its read window that
  // neither the store holds nor another fetch claimed: marks them in flight
  // and returns them (in blob order). Empty when a fetch of chunk i was in
  // flight and has ended (look again); fails when waiting for it timed out
  // or the mount goes away, or (deadline set) when chunk i failed lately.
  Result<std::vector<uint32_t>> Claim(RemoteLayer& L, uint32_t i, uint64_t max_request,
                                      bool across_files, Deadline deadline);
  // Ends the claim of Claim's run and wakes the readers waiting on it.
  void Release(const RemoteLayer& L, const std::vector<uint32_t>& run);
  // Reads the claimed chunks run of L with one Range request, verifies each
  // and adds it to the store: chunk i's bytes, or why not (a failed read is
  // remembered for failure_hold_ms).
  Result<std::string> FetchRun(RemoteLayer& L, uint32_t i, const std::vector<uint32_t>& run,
                               Deadline deadline);
  // An all-zeros chunk (it has no bytes in the blob), added to the store.
  std::string StashZeros(const ChunkRef& c);
  Result<std::string> ReadRange(RemoteLayer& L, uint64_t off, uint64_t len, Deadline deadline);
  // The failure of a fetch of d that ended less than failure_hold_ms ago
  // (Ok if none). mu held.
  Status RecentFailure(const Digest& d);
  // Records that the fetch of chunks `run` of L failed with st.
  void NoteFailure(const RemoteLayer& L, const std::vector<uint32_t>& run, const Status& st) {
    std::lock_guard<std::mutex> l(mu);
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.failure_hold_ms);
    for (uint32_t k : run) failed[L.toc->chunks[k].digest] = Failure{until, st};
  }
  // Waits (mu held in l) until no fetch of d is in flight: Ok, or why not.
  Status WaitInflight(std::unique_lock<std::mutex>& l, const Digest& d, Deadline deadline);
  Deadline ReadDeadline() const {
    return std::chrono::steady_clock::now() + std::chrono::seconds(opts.read_timeout_s);
  }
  Status Prefetch();
  // Fetches the profile's chunks (see StartPrefetch).
  Status FetchProfile();
  // Fetches the chunks `want` of L (indices, any order; the held ones
  // skipped) with merged Range requests.
  Status FetchChunks(Executor& pool, RemoteLayer& L, std::vector<uint32_t> want);
  // Claims the chunks of `cands` (sorted by blob offset) that neither the
  // store holds nor another fetch claimed.
  std::vector<uint32_t> ClaimList(RemoteLayer& L, const std::vector<uint32_t>& cands);
  // Waits while reads wait on the registry (at most ~10 s).
  void YieldToReads() {
    for (int i = 0; i < 10000 && foreground.load() > 0 && !stop; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
};

LazyChunkSource::LazyChunkSource(std::unique_ptr<Store::ChunkStash> stash, LazyOptions o)
    : impl_(std::make_unique<Impl>(std::move(stash), std::move(o))) {}

LazyChunkSource::~LazyChunkSource() {
  Cancel();
  if (impl_->prefetcher.joinable()) impl_->prefetcher.join();
  for (auto& l : impl_->layers)
    if (!l->blob_path.empty()) ::unlink(l->blob_path.c_str());
}

void LazyChunkSource::AddLayer(std::shared_ptr<Client> client, const std::string& repo,
                               const Descriptor& d, std::shared_ptr<const LayerToc> toc,
                               std::vector<BlobChunk> where) {
  auto L = std::make_unique<RemoteLayer>();
  L->client = std::move(client);
  L->repo = repo;
  L->desc = d;
  L->toc = std::move(toc);
  L->where = std::move(where);
  L->file_end.assign(L->where.size(), 0);
  for (const auto& e : L->toc->entries)
    for (uint32_t k = e.first_chunk; k < e.first_chunk + e.num_chunks && k < L->file_end.size(); k++)
      L->file_end[k] = e.first_chunk + e.num_chunks;
  uint32_t li = static_cast<uint32_t>(impl_->layers.size());
  for (uint32_t i = 0; i < L->toc->chunks.size(); i++)
    impl_->where.emplace(L->toc->chunks[i].digest, std::make_pair(li, i));
  impl_->layers.push_back(std::move(L));
}

void LazyChunkSource::Cancel() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  std::set<Client*> clients;
  for (auto& L : impl_->layers) clients.insert(L->client.get());
  for (Client* c : clients) c->Cancel();
}

Status LazyChunkSource::Impl::WaitInflight(std::unique_lock<std::mutex>& l, const Digest& d,
                                           Deadline deadline) {
  auto done = [&] { return stop || !inflight.count(d); };
  if (deadline == kNoDeadline) {
    cv.wait(l, done);
  } else if (!cv.wait_until(l, deadline, done)) {
    return Status::Unavailable("chunk " + d.ToString() + ": another read still fetching it after " +
                               std::to_string(opts.read_timeout_s) + " s");
  }
  if (stop) return Status::Aborted("chunk " + d.ToString() + ": the mount is going away");
  return Status::Ok();
}

Status LazyChunkSource::Impl::RecentFailure(const Digest& d) {
  auto it = failed.find(d);
  if (it == failed.end()) return Status::Ok();
  if (std::chrono::steady_clock::now() >= it->second.until) {
    failed.erase(it);
    return Status::Ok();
  }
  return it->second.status;
}

Result<std::string> LazyChunkSource::Impl::ReadRange(RemoteLayer& L, uint64_t off, uint64_t len,
                                                     Deadline deadline) {
  bool no_range;
  {
    std::lock_guard<std::mutex> l(L.blob_mu);
    no_range = L.no_range;
  }
  if (!no_range) {
    auto r = L.client->GetBlobRange(L.repo, L.desc.digest, off, len, deadline);
    n_requests++;
    if (r.ok()) {
      n_bytes += r->size();
      return r;
    }
    if (r.status().code() != Status::Code::kUnsupported) return r.status();
    std::lock_guard<std::mutex> l(L.blob_mu);
    if (!L.no_range) {
      L.no_range = true;
      Log("registry ignores Range requests: fetching layer " + L.desc.digest.ToString() +
          " whole (" + std::to_string(L.desc.size) + " bytes)");
    }
  }
  // The whole blob, once (verified against its digest), then read locally.
  std::lock_guard<std::mutex> l(L.blob_mu);
  if (L.blob_path.empty()) {
    std::string path = opts.tmp_dir + "/lazy-blob-" + L.desc.digest.Hex() + "-" +
                       std::to_string(::getpid());
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::IOError(path);
    FdSink sink(fd.get());
    Status st = L.client->FetchBlob(L.repo, L.desc, sink);
    n_requests++;
    if (!st.ok()) {
      ::unlink(path.c_str());
      return st;
    }
    n_bytes += L.desc.size;
    L.blob_path = path;
  }
  UniqueFd fd(::open(L.blob_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::IOError(L.blob_path);
  std::string out(len, '\0');
  RETURN_IF_ERROR(PreadAll(fd.get(), out.data(), len, off));
  return out;
}

uint32_t LazyChunkSource::Impl::ReadWindow(const RemoteLayer& L, uint32_t i,
                                           uint64_t max_request, bool across_files) const {
  if (L.where[i].zeros) return i + 1;
  const uint32_t end = across_files ? static_cast<uint32_t>(L.where.size()) : L.file_end[i];
  // Chunks starting past the horizon cannot join (a bound on the work only).
  const uint64_t horizon = L.where[i].offset + max_request;
  std::vector<BlobRange> chunks = {{L.where[i].offset, L.where[i].length}};
  for (uint32_t j = i + 1; j < end; j++) {
    const BlobChunk& w = L.where[j];
    const BlobRange& prev = chunks.back();
    if (w.zeros || w.offset > horizon || w.offset < prev.offset + prev.length) break;
    chunks.push_back({w.offset, w.length});
  }
  const BlobRange read = PlanRanges(chunks, opts.max_gap, max_request).front();
  uint32_t n = 0;
  while (n < chunks.size() && chunks[n].offset + chunks[n].length <= read.offset + read.length) n++;
  return i + n;
}

Result<std::vector<uint32_t>> LazyChunkSource::Impl::Claim(RemoteLayer& L, uint32_t i,
                                                           uint64_t max_request, bool across_files,
                                                           Deadline deadline) {
  const uint32_t window = ReadWindow(L, i, max_request, across_files);
  const Digest& d = L.toc->chunks[i].digest;
  std::unique_lock<std::mutex> l(mu);
  if (inflight.count(d)) {
    RETURN_IF_ERROR(WaitInflight(l, d, deadline));
    return std::vector<uint32_t>();  // someone fetched it (or it failed): look again
  }
  if (deadline != kNoDeadline) RETURN_IF_ERROR(RecentFailure(d));
  std::vector<uint32_t> run = {i};
  inflight.insert(d);
  for (uint32_t j = i + 1; j < window; j++) {
    const Digest& dj = L.toc->chunks[j].digest;
    if (inflight.count(dj)) break;
    l.unlock();
    bool have = stash->Has(dj);
    l.lock();
    if (have || inflight.count(dj)) break;
    inflight.insert(dj);
    run.push_back(j);
  }
  return run;
}

void LazyChunkSource::Impl::Release(const RemoteLayer& L, const std::vector<uint32_t>& run) {
  std::lock_guard<std::mutex> l(mu);
  for (uint32_t k : run) inflight.erase(L.toc->chunks[k].digest);
  cv.notify_all();
}

Result<std::string> LazyChunkSource::Impl::FetchRun(RemoteLayer& L, uint32_t i,
                                                    const std::vector<uint32_t>& run,
                                                    Deadline deadline) {
  const uint64_t lo = L.where[run.front()].offset;
  const uint64_t hi = L.where[run.back()].offset + L.where[run.back()].length;
  auto bytes = ReadRange(L, lo, hi - lo, deadline);
  if (!bytes.ok()) {
    Status st = bytes.status().Prefix("layer " + L.desc.digest.ToString());
    NoteFailure(L, run, st);
    return st;
  }
  Result<std::string> mine = Status::NotFound("");
  for (uint32_t k : run) {
    const ChunkRef& ck = L.toc->chunks[k];
    std::string_view z = std::string_view(*bytes).substr(L.where[k].offset - lo, L.where[k].length);
    auto data = DecodeBlobChunk(ck, z);  // verified before it is served or stored
    if (!data.ok()) {
      if (k == i) mine = data.status().Prefix("layer " + L.desc.digest.ToString());
      continue;
    }
    Status st = stash->Add(ck, z);
    if (!st.ok()) Log("storing a fetched chunk failed: " + st.message());
    n_chunks++;
    if (k == i) mine = std::move(*data);
  }
  return mine;
}

std::string LazyChunkSource::Impl::StashZeros(const ChunkRef& c) {
  std::string z(c.size, '\0');
  std::string frame(ZSTD_compressBound(z.size()), '\0');
  size_t n = ZSTD_compress(frame.data(), frame.size(), z.data(), z.size(), 3);
  if (!ZSTD_isError(n)) {
    frame.resize(n);
    (void)stash->Add(c, frame);
  }
  return z;
}

Result<std::string> LazyChunkSource::Impl::Fetch(const ChunkRef& c, uint64_t max_request,
                                                 bool across_files, Deadline deadline) {
  while (true) {
    auto local = stash->ReadChunk(c);
    if (local.ok() || local.status().code() != Status::Code::kNotFound) return local;
    auto it = where.find(c.digest);
    if (it == where.end())
      return Status::NotFound("chunk " + c.digest.ToString() +
                              " is neither in the store nor in a remote layer");
    RemoteLayer& L = *layers[it->second.first];
    const uint32_t i = it->second.second;
    // A read (it has a deadline) counts as waiting on the registry for
    // this round, so that a profile's fetch yields to it.
    struct Waiting {
      std::atomic<int>* n;
      explicit Waiting(std::atomic<int>* c) : n(c) { if (n) ++*n; }
      ~Waiting() { if (n) --*n; }
    } waiting(deadline != kNoDeadline ? &foreground : nullptr);
    ASSIGN_OR_RETURN(std::vector<uint32_t> run, Claim(L, i, max_request, across_files, deadline));
    if (run.empty()) continue;  // another fetch of c ended: look again
    Result<std::string> r = L.where[i].zeros ? StashZeros(c) : FetchRun(L, i, run, deadline);
    Release(L, run);
    return r;
  }
}

Result<std::string> LazyChunkSource::ReadChunk(const ChunkRef& c) {
  auto r = impl_->Fetch(c, impl_->opts.max_request, false, impl_->ReadDeadline());
  if (!r.ok() && r.status().code() != Status::Code::kNotFound) {
    // One line per 10 s at most: a registry outage fails many reads at once.
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    int64_t last = impl_->last_fail_log_ms.load();
    if (now - last >= 10000 && impl_->last_fail_log_ms.compare_exchange_strong(last, now))
      impl_->Log("a read failed (EIO): " + r.status().message());
  }
  return r;
}

Result<std::string> LazyChunkSource::ReadFrame(const ChunkRef& c) {
  auto f = impl_->stash->ReadFrame(c);
  if (f.ok() || f.status().code() != Status::Code::kNotFound) return f;
  RETURN_IF_ERROR(impl_->Fetch(c, impl_->opts.max_request, false, impl_->ReadDeadline()).status());
  return impl_->stash->ReadFrame(c);
}

std::vector<uint32_t> LazyChunkSource::Impl::ClaimList(RemoteLayer& L, const std::vector<uint32_t>& cands) {
  std::vector<uint32_t> run;
  for (uint32_t k : cands) {
    const Digest& d = L.toc->chunks[k].digest;
    if (stash->Has(d)) continue;
    std::lock_guard<std::mutex> l(mu);
    if (inflight.insert(d).second) run.push_back(k);
  }
  return run;
}

Status LazyChunkSource::Impl::FetchChunks(Executor& pool, RemoteLayer& L, std::vector<uint32_t> want) {
  std::sort(want.begin(), want.end(), [&](uint32_t a, uint32_t b) { return L.where[a].offset < L.where[b].offset; });
  want.erase(std::unique(want.begin(), want.end()), want.end());
  std::vector<BlobRange> ranges;
  for (uint32_t k : want) {
    if (L.where[k].zeros) {
      if (!stash->Has(L.toc->chunks[k].digest)) StashZeros(L.toc->chunks[k]);
    } else {
      ranges.push_back({L.where[k].offset, L.where[k].length});
    }
  }
  // The chunks each merged request reads.
  std::vector<std::vector<uint32_t>> reads;
  size_t next = 0;
  for (const BlobRange& r : PlanRanges(ranges, opts.profile_gap, opts.profile_request)) {
    reads.emplace_back();
    for (; next < want.size() && L.where[want[next]].offset < r.offset + r.length; next++)
      if (!L.where[want[next]].zeros) reads.back().push_back(want[next]);
  }
  // Several requests at once: each costs a round trip.
  std::atomic<size_t> at{0};
  std::mutex err_mu;
  Status err;
  auto work = [&] {
    for (size_t k; (k = at++) < reads.size();) {
      if (stop) return;
      YieldToReads();
      std::vector<uint32_t> run = ClaimList(L, reads[k]);
      if (run.empty()) continue;
      auto got = FetchRun(L, run.front(), run, kNoDeadline);
      Release(L, run);
      if (!got.ok() && got.status().code() != Status::Code::kCorruption) {
        std::lock_guard<std::mutex> l(err_mu);
        if (err.ok()) err = got.status();
      }
    }
  };
  {
    TaskGroup group(&pool);
    for (size_t t = 1; t < std::min<size_t>(reads.size(), opts.profile_parallel); t++) group.Submit(work);
    work();
  }
  if (stop) return Status::Aborted("prefetch stopped");
  return err;
}

Status LazyChunkSource::Impl::FetchProfile() {
  if (profile.empty()) return Status::Ok();
  const uint64_t bytes_before = n_bytes.load(), requests_before = n_requests.load();
  std::unordered_set<Digest, DigestHash> seen;
  // The requests beside this thread's own (FetchChunks), made once.
  Executor pool(ExecutorOptions{.threads = std::max(1, static_cast<int>(opts.profile_parallel) - 1), .max_queued = 0,
                                .name = "cfs-profile"});
  for (size_t i = 0; i < profile.size();) {
    // The next window of the profile's chunks the store lacks, by layer.
    std::map<uint32_t, std::vector<uint32_t>> window;
    for (uint64_t bytes = 0; i < profile.size() && bytes < opts.profile_window; i++) {
      auto it = where.find(profile[i].digest);
      if (it == where.end() || !seen.insert(profile[i].digest).second || stash->Has(profile[i].digest))
        continue;
      window[it->second.first].push_back(it->second.second);
      bytes += layers[it->second.first]->where[it->second.second].length;
    }
    for (auto& [li, chunks] : window) RETURN_IF_ERROR(FetchChunks(pool, *layers[li], std::move(chunks)));
  }
  RETURN_IF_ERROR(stash->Flush());
  Log("profile fetched: " + std::to_string(seen.size()) + " chunks, " +
      std::to_string(n_bytes.load() - bytes_before) + " bytes in " +
      std::to_string(n_requests.load() - requests_before) + " requests (and by the reads meanwhile)");
  return Status::Ok();
}

Status LazyChunkSource::Impl::Prefetch() {
  uint64_t fetched_before = n_bytes.load();
  for (auto& Lp : layers) {
    RemoteLayer& L = *Lp;
    // Entries before a ".prefetch.landmark" first, then everything.
    std::vector<uint32_t> order;
    std::vector<bool> queued(L.where.size(), false);
    for (const auto& e : L.toc->entries) {
      if (e.name == ".prefetch.landmark" || e.name.ends_with("/.prefetch.landmark")) break;
      for (uint32_t k = e.first_chunk; k < e.first_chunk + e.num_chunks; k++)
        if (!queued[k]) {
          queued[k] = true;
          order.push_back(k);
        }
    }
    bool has_landmark = false;
    for (const auto& e : L.toc->entries) has_landmark |= e.name.ends_with(".prefetch.landmark");
    if (!has_landmark) {
      order.clear();
      queued.assign(L.where.size(), false);
    }
    for (uint32_t k = 0; k < L.where.size(); k++)
      if (!queued[k]) order.push_back(k);
    for (uint32_t k : order) {
      if (stop) return Status::Aborted("prefetch stopped");
      const ChunkRef& c = L.toc->chunks[k];
      if (stash->Has(c.digest)) continue;
      auto r = Fetch(c, opts.prefetch_request, true, kNoDeadline);
      if (!r.ok()) return r.status();
    }
  }
  RETURN_IF_ERROR(stash->Flush());
  Log("prefetch complete: " + std::to_string(n_bytes.load() - fetched_before) +
      " bytes fetched; the mount no longer needs the registry");
  return Status::Ok();
}

void LazyChunkSource::SetProfile(std::vector<ChunkRef> order) { impl_->profile = std::move(order); }

bool LazyChunkSource::has_profile() const { return !impl_->profile.empty(); }

void LazyChunkSource::StartPrefetch(bool everything, std::function<Status()> then) {
  impl_->prefetcher = std::thread([this, everything, then = std::move(then)] {
    Status st = impl_->FetchProfile();
    if (st.ok() && everything) st = impl_->Prefetch();
    if (!st.ok() && !impl_->stop) impl_->Log("prefetch failed: " + st.message());
    if (st.ok() && then) {
      st = then();
      if (!st.ok() && !impl_->stop) impl_->Log("prefetch complete, but " + st.message());
    }
    std::lock_guard<std::mutex> l(impl_->pf_mu);
    impl_->pf_done = true;
    impl_->pf_status = st;
    impl_->pf_cv.notify_all();
  });
}

Status LazyChunkSource::WaitPrefetch() {
  std::unique_lock<std::mutex> l(impl_->pf_mu);
  impl_->pf_cv.wait(l, [&] { return impl_->pf_done; });
  return impl_->pf_status;
}

LazyChunkSource::Stats LazyChunkSource::stats() const {
  return Stats{impl_->n_requests.load(), impl_->n_bytes.load(), impl_->n_chunks.load()};
}

}  // namespace cfs::lazy
