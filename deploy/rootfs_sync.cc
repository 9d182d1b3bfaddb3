#include "deploy/rootfs_sync.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "base/digest.h"
#include "base/strings.h"
#include "base/thread_annotations.h"
#include "deploy/config_docs.h"
#include "deploy/fanout.h"
#include "deploy/host_script.h"
#include "deploy/kubeadm_config.h"
#include "deploy/rootfs_patch.h"

namespace cfs::deploy {

namespace {

// One host's part of the rootfs transfer.
struct HostSync {
  RootfsPlan plan;
  RootfsDelta delta;
  std::vector<size_t> shared;  // delta.send entries from the store (the same for many hosts)
  std::vector<size_t> own;     // delta.send entries rendered for this host
  std::vector<FilePatch> patches;  // big files rebuilt on the host from its old copy
  std::string key;             // hosts with equal keys get one shared stream
};

// Hosts whose rootfs transfer failed, with why (filled from several threads).
class HostErrors {
 public:
  // Keeps the first failure of h.
  void Add(HostCtx* h, const Status& s) {
    MutexLock l(&mu_);
    by_host_.emplace(h, s);
  }
  bool Has(HostCtx* h) {
    MutexLock l(&mu_);
    return by_host_.count(h) > 0;
  }
  Status Get(HostCtx* h) {
    MutexLock l(&mu_);
    auto it = by_host_.find(h);
    return it == by_host_.end() ? Status::Ok() : it->second;
  }

 private:
  Mutex mu_;
  std::map<HostCtx*, Status> by_host_ GUARDED_BY(mu_);
};

// Calls progress({"rootfs", "sending", done, total}) every 200 ms on a
// thread of its own until destroyed (not at all without progress or total).
class ProgressReporter {
 public:
  ProgressReporter(const ProgressFn& progress, const std::atomic<uint64_t>& done, uint64_t total) {
    if (!progress || total == 0) return;
    thread_ = std::thread([this, progress, &done, total] {
      std::unique_lock<std::mutex> l(mu_);
      while (!cv_.wait_for(l, std::chrono::milliseconds(200), [&] { return finished_; }))
        progress({"rootfs", "sending", done.load(), total});
    });
  }
  ~ProgressReporter() {
    {
      std::lock_guard<std::mutex> l(mu_);
      finished_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::thread thread_;
};

// The transfer to all hosts; Run() is the whole of it.
class Sync {
 public:
  Sync(HostRunner& run, Store& store, const LayerStack& stack, const std::vector<HostCtx*>& all)
      : run_(run), store_(store), stack_(stack), all_(all), sync_(all.size()) {
    for (size_t i = 0; i < all.size(); i++) index_[all[i]] = i;
  }

  Status Run(std::vector<RootfsPlan>* plans) {
    for (size_t i = 0; i < all_.size(); i++) sync_[i].plan = std::move((*plans)[i]);
    plans->clear();
    RETURN_IF_ERROR(run_.ForEach(all_, [&](HostCtx& c) { return Prepare(c); }));
    {
      ProgressReporter reporter(run_.options().progress, done_, TotalBytes());
      StreamShared();
      RETURN_IF_ERROR(FinishHosts());
    }
    for (auto& hs : sync_) plans->push_back(std::move(hs.plan));
    return Status::Ok();
  }

  // The plan of the transfer (PlanSync): every host assessed as Prepare
  // does, nothing changed; streams as StreamShared would make them.
  Result<std::vector<RootfsHostPlan>> Plan(std::vector<RootfsPlan>* plans,
                                           std::vector<StreamPlan>* streams) {
    for (size_t i = 0; i < all_.size(); i++) sync_[i].plan = std::move((*plans)[i]);
    plans->clear();
    RETURN_IF_ERROR(run_.ForEach(all_, [&](HostCtx& c) { return Assess(c); }));
    std::vector<RootfsHostPlan> hosts;
    for (HostCtx* h : all_) hosts.push_back(HostPlanOf(*h));
    for (const auto& b : Batches()) streams->push_back(StreamPlanOf(b));
    for (auto& hs : sync_) plans->push_back(std::move(hs.plan));
    return hosts;
  }

 private:
  HostSync& Of(HostCtx* h) { return sync_[index_.at(h)]; }

  // 1. c's record and delta (its plan made by PlanHosts); deletes what is gone.
  Status Prepare(HostCtx& c) {
    HostSync& hs = Of(&c);
    if (c.fanout_left) RETURN_IF_ERROR(FanoutCleanup(run_, c));
    RETURN_IF_ERROR(Assess(c));
    if (!hs.delta.remove.empty()) {
      std::string list;
      for (const auto& p : hs.delta.remove) list += p + '\0';
      RETURN_IF_ERROR(run_.Run(c, "removing deleted files",
                               HostCommand(host_scripts::kPrune, {run_.Rootfs()}), list));
    }
    LogDelta(c, hs);
    return Status::Ok();
  }

  // c's record, delta and patches, its report filled in; reads from c only.
  Status Assess(HostCtx& c) {
    HostSync& hs = Of(&c);
    ASSIGN_OR_RETURN(Record old, ReadRecord(c));
    hs.delta = ComputeDelta(hs.plan, old);
    if (!old.empty()) hs.patches = PlanPatches(stack_, hs.plan, ReadChunkLists(c), &hs.delta);
    uint64_t patch_bytes = 0;
    for (const auto& p : hs.patches) patch_bytes += p.new_bytes;
    c.report.files_total = hs.plan.entries.size();
    c.report.files_sent = hs.delta.send.size() + hs.patches.size();
    c.report.files_removed = hs.delta.remove.size();
    c.report.data_bytes = hs.delta.send_bytes + patch_bytes;
    SplitDelta(c, &hs);
    return Status::Ok();
  }

  // What Assess found for h, as the plan shows it.
  RootfsHostPlan HostPlanOf(HostCtx& h) {
    const HostSync& hs = Of(&h);
    RootfsHostPlan p;
    p.total = hs.plan.entries.size();
    p.has_record = h.has_record && !run_.options().resend;
    p.fanout_left = h.fanout_left;
    p.compression = h.zstd ? "zstd" : "gzip";
    std::map<size_t, const FilePatch*> patched;
    for (const auto& fp : hs.patches) patched[fp.entry] = &fp;
    std::vector<bool> whole(hs.plan.entries.size());
    for (size_t i : hs.delta.send) whole[i] = true;
    for (size_t i = 0; i < hs.plan.entries.size(); i++) {
      const RootfsEntry& e = hs.plan.entries[i];
      if (e.path == "registry" || e.path.rfind("registry/", 0) == 0) p.registry = true;
      auto fp = patched.find(i);
      if (!whole[i] && fp == patched.end()) continue;
      PlannedFile f{e.path, e.type, e.size, e.size, fp != patched.end(), e.rendered >= 0};
      if (f.patched) f.send_bytes = fp->second->new_bytes;
      p.send_bytes += f.send_bytes;
      p.send.push_back(std::move(f));
    }
    p.remove = hs.delta.remove;
    p.unchanged = p.total - p.send.size();
    return p;
  }

  // A batch of hosts sharing one stream, as StreamShared sends it.
  StreamPlan StreamPlanOf(const std::vector<HostCtx*>& hosts) {
    StreamPlan sp;
    for (HostCtx* h : hosts) sp.hosts.push_back(h->host.ip);
    const HostSync& hs = Of(hosts[0]);
    sp.files = hs.shared.size();
    for (size_t i : hs.shared) sp.bytes += hs.plan.entries[i].size;
    sp.relayed = Relayed(hosts);
    sp.parent = sp.relayed ? FanoutParents(hosts.size(), run_.options().fanout)
                           : std::vector<int>(hosts.size(), -1);
    sp.copies = sp.relayed ? 1 : hosts.size();
    return sp;
  }

  // What c holds by its record (nothing without one, or with --resend; an
  // unreadable one is logged and taken as nothing).
  Result<Record> ReadRecord(HostCtx& c) {
    if (!c.has_record || run_.options().resend) return Record();
    ExecResult r;
    RETURN_IF_ERROR(run_.Run(c, "reading the host record",
                             HostCommand(host_scripts::kReadFile, {run_.dir() + "/files.gz"}), "",
                             &r));
    auto raw = Gunzip(r.out);
    auto dec = raw.ok() ? DecodeRecord(*raw) : Result<Record>(raw.status());
    if (dec.ok()) return std::move(*dec);
    run_.Log(c.host.ip + ": host record unreadable (" + dec.status().message() +
             "), sending everything");
    return Record();
  }

  // The chunk lists of c's big files (rootfs_patch.h); none when it has none
  // (a deploy by an older cimg) or they are unreadable (logged).
  ChunkLists ReadChunkLists(HostCtx& c) {
    auto r = c.ssh->Run(HostCommand(host_scripts::kReadFile, {run_.dir() + "/chunks.gz"}));
    if (!r.ok() || r->exit_code != 0) return {};
    auto raw = Gunzip(r->out);
    auto dec = raw.ok() ? DecodeChunkLists(*raw) : Result<ChunkLists>(raw.status());
    if (dec.ok()) return std::move(*dec);
    run_.Log(c.host.ip + ": chunk lists unreadable (" + dec.status().message() +
             "), big files go whole");
    return {};
  }

  // Splits the entries to send into shared (from the store) and own
  // (rendered for c); the key names the shared ones and the compression.
  static void SplitDelta(const HostCtx& c, HostSync* hs) {
    Sha256 key;
    key.Update(c.zstd ? "zstd\n" : "gzip\n");
    for (size_t i : hs->delta.send) {
      const RootfsEntry& e = hs->plan.entries[i];
      if (e.rendered >= 0) {
        hs->own.push_back(i);
      } else {
        hs->shared.push_back(i);
        key.Update(e.fingerprint + " " + e.path + "\n");
      }
    }
    hs->key = key.Finish().Hex();
  }

  void LogDelta(const HostCtx& c, const HostSync& hs) const {
    for (const auto& p : hs.patches)
      run_.Log(c.host.ip + ": rootfs: patching " + hs.plan.entries[p.entry].path + " (" +
               std::to_string(p.new_bytes) + " of " +
               std::to_string(hs.plan.entries[p.entry].size) + " bytes new)");
    if (hs.delta.send.empty()) {
      run_.Log(c.host.ip + ": rootfs: up to date (" + std::to_string(hs.plan.entries.size()) +
               " entries)");
      return;
    }
    run_.Log(c.host.ip + ": rootfs: sending " + std::to_string(hs.delta.send.size()) + " of " +
             std::to_string(hs.plan.entries.size()) + " entries (" +
             std::to_string(hs.delta.send_bytes / 1000000.0).substr(0, 6) + " MB), removing " +
             std::to_string(hs.delta.remove.size()));
  }

  // Hosts with the same shared entries, in batches of at most `parallel`.
  std::vector<std::vector<HostCtx*>> Batches() {
    std::map<std::string, std::vector<HostCtx*>> groups;
    for (HostCtx* h : all_)
      if (!Of(h).shared.empty()) groups[Of(h).key].push_back(h);
    std::vector<std::vector<HostCtx*>> batches;
    for (auto& [k, hosts] : groups) {
      if (Relayed(hosts)) {  // one relay tree: all at once
        batches.push_back(hosts);
        continue;
      }
      for (size_t b = 0; b < hosts.size(); b += Parallel())
        batches.emplace_back(hosts.begin() + b,
                             hosts.begin() + std::min(hosts.size(), b + Parallel()));
    }
    return batches;
  }

  size_t Parallel() const { return std::max(1, run_.options().parallel); }
  // Whether hosts (sharing one stream) relay it (fanout.h): with --fanout,
  // two hosts or more and a stream of kFanoutMinBytes or more (a smaller one
  // costs less sent to each than the relay's set-up).
  bool Relayed(const std::vector<HostCtx*>& hosts) {
    if (run_.options().fanout <= 0 || hosts.size() < 2) return false;
    uint64_t bytes = 0;
    for (size_t i : Of(hosts[0]).shared) bytes += Of(hosts[0]).plan.entries[i].size;
    return bytes >= kFanoutMinBytes;
  }

  // The bytes of every stream, shared (once a batch) and per host.
  uint64_t TotalBytes() {
    uint64_t total = 0;
    for (const auto& b : Batches())
      for (size_t i : Of(b[0]).shared) total += Of(b[0]).plan.entries[i].size;
    for (const auto& hs : sync_) {
      for (size_t i : hs.own) total += hs.plan.entries[i].size;
      for (const auto& p : hs.patches) total += p.new_bytes;
    }
    return total;
  }

  // 2. Each batch gets one stream; waves of batches with at most `parallel`
  //    hosts in all.
  void StreamShared() {
    const auto batches = Batches();
    for (size_t bi = 0; bi < batches.size();) {
      std::vector<std::thread> threads;
      for (size_t n = 0; bi < batches.size() && (threads.empty() || n + batches[bi].size() <= Parallel());
           bi++) {
        const auto& hosts = batches[bi];
        n += hosts.size();
        if (hosts.size() > 1) {
          std::string ips;
          for (HostCtx* h : hosts) ips += (ips.empty() ? "" : ", ") + h->host.ip;
          run_.Log("rootfs: one stream for " + ips);
        }
        threads.emplace_back([this, &hosts] {
          if (Relayed(hosts))
            StreamFanout(Of(hosts[0]).plan, Of(hosts[0]).shared, hosts);
          else
            Stream(Of(hosts[0]).plan, Of(hosts[0]).shared, hosts);
        });
      }
      for (auto& t : threads) t.join();
    }
  }

  // Streams `send` of `plan` to `hosts` at once (one producer, one pipe per
  // host), every host read concurrently. A host that fails is dropped from
  // the stream (its pipe closed, the producer goes on for the others) and
  // added to failed_; when the data itself cannot be read, every host that
  // had not failed yet is. REQUIRES: hosts.size() <= Parallel().
  void Stream(const RootfsPlan& plan, const std::vector<size_t>& send,
              const std::vector<HostCtx*>& hosts) {
    std::map<HostCtx*, int> rfd;
    std::vector<int> wfds;
    for (HostCtx* h : hosts) {
      int p[2];
      if (pipe2(p, O_CLOEXEC) != 0) {
        for (auto& [k, fd] : rfd) close(fd);
        for (int fd : wfds) close(fd);
        for (HostCtx* x : hosts) failed_.Add(x, Status::IOError("rootfs stream: pipe"));
        return;
      }
      rfd[h] = p[0];
      wfds.push_back(p[1]);
    }
    Status produced;
    std::thread producer([&] { produced = Produce(plan, send, hosts[0]->zstd, wfds); });
    // Each host's failure is recorded in failed_; the lambda never fails.
    (void)run_.ForEach(hosts, [&](HostCtx& c) {
      Status r = Receive(c, rfd[&c]);
      close(rfd[&c]);  // drops this host from the stream if it hung up
      if (!r.ok()) failed_.Add(&c, r);
      return Status::Ok();
    });
    producer.join();
    if (produced.ok()) return;
    for (HostCtx* h : hosts)
      if (!failed_.Has(h)) failed_.Add(h, produced);
  }

  // Streams `send` of `plan` to `hosts` relaying it among them (fanout.h);
  // a host that fails is added to failed_.
  void StreamFanout(const RootfsPlan& plan, const std::vector<size_t>& send,
                    const std::vector<HostCtx*>& hosts) {
    FanoutStats stats;
    auto produce = [&](int fd) { return Produce(plan, send, hosts[0]->zstd, {fd}); };
    auto st = FanoutStream(run_, hosts, run_.options().fanout, StreamBound(plan, send),
                           store_.root() + "/tmp", produce, &stats);
    for (size_t i = 0; i < hosts.size(); i++)
      if (!st[i].ok()) failed_.Add(hosts[i], st[i]);
    auto mb = [](uint64_t b) { return std::to_string(b / 1000000.0).substr(0, 6) + " MB"; };
    run_.Log("rootfs: fan-out to " + std::to_string(hosts.size()) + " hosts: stream " +
             mb(stats.stream_bytes) + ", " + mb(stats.sent_bytes) + " of it sent from here");
  }

  // The compressed tar stream of `send` is at most this long: the file data
  // (stored whole where it does not compress), tar's headers and padding
  // (pax headers included, 3 KiB an entry is ample) and zstd's or gzip's
  // framing of stored blocks (under 1%).
  static uint64_t StreamBound(const RootfsPlan& plan, const std::vector<size_t>& send) {
    uint64_t data = 0;
    for (size_t i : send) data += plan.entries[i].size;
    return data + data / 64 + send.size() * 3072 + (1 << 20);
  }

  // Writes the tar stream to wfds (and closes them).
  Status Produce(const RootfsPlan& plan, const std::vector<size_t>& send, bool zstd,
                 const std::vector<int>& wfds) {
    auto chunks = store_.OpenChunkSource();
    if (!chunks.ok()) {
      for (int fd : wfds) close(fd);
      return chunks.status();
    }
    return WriteRootfsTar(stack_, **chunks, plan, send, zstd ? "zstd" : "gzip", wfds, &done_);
  }

  // Unpacks the stream readable from fd into c's rootfs.
  Status Receive(HostCtx& c, int fd) {
    auto r = c.ssh->Run(
        HostCommand(host_scripts::kReceiveRootfs, {run_.Rootfs(), c.zstd ? "zstd" : "gzip"}), "",
        fd);
    if (!r.ok()) return HostRunner::Lost(c, "rootfs transfer", r.status());
    if (r->exit_code != 0) return run_.Fail(c, "unpacking the rootfs", *r);
    return Status::Ok();
  }

  // 3. Each host's rendered files, then its new record; a host whose stream
  //    failed is left as it is, the others finish.
  Status FinishHosts() {
    std::vector<HostCtx*> ok;
    for (HostCtx* h : all_)
      if (!failed_.Has(h)) ok.push_back(h);
    Status s = run_.ForEach(ok, [&](HostCtx& c) { return Finish(c); });
    std::vector<Status> errors;
    for (HostCtx* h : all_)
      if (failed_.Has(h) && std::find(ok.begin(), ok.end(), h) == ok.end())
        errors.push_back(failed_.Get(h));
    if (errors.empty()) return s;
    if (!s.ok()) run_.Log("error: " + s.message());
    return run_.Combine(errors);
  }

  Status Finish(HostCtx& c) {
    HostSync& hs = Of(&c);
    if (!hs.own.empty()) {
      Stream(hs.plan, hs.own, {&c});
      if (failed_.Has(&c)) return failed_.Get(&c);
    }
    if (!hs.patches.empty()) RETURN_IF_ERROR(Patch(c));
    if (hs.delta.send.empty() && hs.delta.remove.empty() && hs.patches.empty() && c.has_record &&
        !run_.options().resend)
      return Status::Ok();
    // The chunk lists first: a record left older than them costs a failed
    // checksum on the host (the file then goes whole), never a wrong file.
    RETURN_IF_ERROR(run_.Run(c, "writing the host's chunk lists",
                             HostCommand(host_scripts::kWriteFile, {run_.dir() + "/chunks.gz"}),
                             Gzip(EncodeChunkLists(stack_, hs.plan))));
    return run_.Run(c, "writing the host record",
                    HostCommand(host_scripts::kWriteFile, {run_.dir() + "/files.gz"}),
                    Gzip(EncodeRecord(hs.plan)));
  }

  // Rebuilds c's patched files on c (patch_files.sh); those it could not
  // (their old copy changed), and all of them when the patching itself
  // failed, are sent whole.
  Status Patch(HostCtx& c) {
    HostSync& hs = Of(&c);
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return Status::IOError("patch stream: pipe");
    Status produced;
    std::thread producer([&] {
      auto chunks = store_.OpenChunkSource();
      if (!chunks.ok()) {
        close(p[1]);
        produced = chunks.status();
        return;
      }
      produced = WritePatchStream(stack_, **chunks, hs.plan, hs.patches, c.zstd ? "zstd" : "gzip",
                                  p[1], &done_);
    });
    auto r = c.ssh->Run(HostCommand(host_scripts::kPatchFiles,
                                    {run_.Rootfs(), run_.dir() + "/patch", c.zstd ? "zstd" : "gzip"}),
                        "", p[0]);
    close(p[0]);
    producer.join();
    if (!r.ok()) return HostRunner::Lost(c, "patching files", r.status());
    std::vector<size_t> whole;
    if (r->exit_code != 0 || !produced.ok()) {
      run_.Log(c.host.ip + ": patching failed (" +
               (produced.ok() ? Trim(r->err) : produced.message()) + "), sending the files whole");
      for (const auto& fp : hs.patches) whole.push_back(fp.entry);
    } else {
      std::map<std::string, size_t> by_path;
      for (const auto& fp : hs.patches) by_path[hs.plan.entries[fp.entry].path] = fp.entry;
      for (size_t a = 0; a < r->out.size();) {
        size_t nl = r->out.find('\n', a);
        std::string path = r->out.substr(a, nl == std::string::npos ? std::string::npos : nl - a);
        a = nl == std::string::npos ? r->out.size() : nl + 1;
        auto it = by_path.find(path);
        if (it == by_path.end()) continue;
        run_.Log(c.host.ip + ": " + path + " changed on the host, sending it whole");
        whole.push_back(it->second);
      }
    }
    if (whole.empty()) return Status::Ok();
    Stream(hs.plan, whole, {&c});
    return failed_.Get(&c);
  }

  HostRunner& run_;
  Store& store_;
  const LayerStack& stack_;
  const std::vector<HostCtx*>& all_;
  std::vector<HostSync> sync_;
  std::map<HostCtx*, size_t> index_;
  std::atomic<uint64_t> done_{0};  // file data bytes streamed
  HostErrors failed_;
};

// The files the Clusterfile's Config documents write (the same for every
// host; sealer writes them into the rootfs before rendering it), and the
// merge of its kubeadm documents into the rendered etc/kubeadm.yml.
Status ClusterfileFiles(HostRunner& run, const LayerStack& stack, const OpenChunks& open,
                        FileOverrides* overrides, FileFilters* filters) {
  const Clusterfile& cf = run.cluster();
  if (!cf.kubeadm.empty()) {
    const auto* docs = &cf.kubeadm;
    (*filters)["etc/kubeadm.yml"] = [docs](const std::optional<std::string>& in) {
      return MergeKubeadmConfig(in.value_or(""), *docs);
    };
  }
  if (cf.configs.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto chunks, open());
  ASSIGN_OR_RETURN(*overrides, ConfigFiles(cf.configs, [&](const std::string& p) {
                     return ReadRootfsFile(stack, *chunks, p);
                   }));
  for (const auto& [path, contents] : *overrides)
    run.Log("Config: " + path + " (" + std::to_string(contents.size()) + " bytes)");
  return Status::Ok();
}

}  // namespace

Result<std::vector<RootfsPlan>> PlanHosts(HostRunner& run, const LayerStack& stack,
                                          const OpenChunks& open,
                                          const std::vector<HostCtx*>& all,
                                          const PlanExtras& apps) {
  PlanExtras extras;
  extras.app_env = apps.app_env;
  RETURN_IF_ERROR(ClusterfileFiles(run, stack, open, &extras.overrides, &extras.filters));
  for (const auto& [path, filter] : apps.filters) {
    if (extras.filters.count(path))
      return Status::Invalid(path + ": written both by an Application file and a kubeadm document");
    extras.filters[path] = filter;
  }
  std::vector<RootfsPlan> plans(all.size());
  std::map<HostCtx*, size_t> index;
  for (size_t i = 0; i < all.size(); i++) index[all[i]] = i;
  RETURN_IF_ERROR(run.ForEach(all, [&](HostCtx& c) -> Status {
    ASSIGN_OR_RETURN(auto chunks, open());
    auto plan = PlanRootfs(stack, *chunks, c.env, c.host.master, extras);
    if (!plan.ok()) return plan.status().Prefix("host " + c.host.ip);
    plans[index.at(&c)] = std::move(*plan);
    return Status::Ok();
  }));
  return plans;
}

Result<std::vector<RootfsHostPlan>> PlanSync(HostRunner& run, Store& store,
                                             const LayerStack& stack,
                                             const std::vector<HostCtx*>& all,
                                             std::vector<RootfsPlan>* plans,
                                             std::vector<StreamPlan>* streams) {
  if (plans->size() != all.size()) return Status::Invalid("PlanSync: a plan for every host");
  Sync sync(run, store, stack, all);
  return sync.Plan(plans, streams);
}

Status SyncRootfs(HostRunner& run, Store& store, const LayerStack& stack,
                  const std::vector<HostCtx*>& all, std::vector<RootfsPlan>* plans) {
  if (plans->size() != all.size()) return Status::Invalid("SyncRootfs: a plan for every host");
  Sync sync(run, store, stack, all);
  return sync.Run(plans);
}

}  // namespace cfs::deploy
