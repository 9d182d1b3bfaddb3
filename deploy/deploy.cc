#include "deploy/deploy.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "deploy/rootfs.h"
#include "deploy/ssh.h"
#include "layer/layer_stack.h"
#include "base/thread_annotations.h"

namespace cfs::deploy {

using json = nlohmann::json;

std::string SavedClusterfile(const std::string& clusters_dir, const std::string& name) {
  return clusters_dir + "/" + name + "/Clusterfile";
}

namespace {

// Labels cimg build writes into the image config (builder/builder.h).
constexpr char kLabelCmds[] = "io.cimg.cmds";
constexpr char kLabelCmdsLaunch[] = "io.cimg.cmds-launch";
constexpr char kLabelLaunch[] = "io.cimg.launch";

std::string HostDir(const std::string& cluster) { return "/var/lib/cimg/" + cluster; }

// The lines of a command's output (no trailing empty line).
std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

// One host while it is worked on.
struct HostCtx {
  Clusterfile::Host host;
  std::string role() const { return host.master ? "master" : "node"; }
  std::unique_ptr<SshSession> ssh;
  std::map<std::string, std::string> env;    // rendering and lifecycle environment
  std::map<std::string, std::string> steps;  // recorded on the host: step → value
  bool zstd = false;
  bool has_record = false;
  HostReport report;
};

class Runner {
 public:
  Runner(const Clusterfile& cf, const DeployOptions& o) : cf_(cf), o_(o), dir_(HostDir(cf.name)) {}

  void Log(const std::string& line) const {
    if (o_.log) o_.log(line);
  }

  // Runs fn on every host, `parallel` at once; every failure is logged, the
  // first is returned (with how many others failed).
  Status ForEach(const std::vector<HostCtx*>& hosts, const std::function<Status(HostCtx&)>& fn) {
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::vector<Status> errors;
    auto work = [&] {
      for (size_t i; (i = next++) < hosts.size();) {
        Status s = fn(*hosts[i]);
        if (!s.ok()) {
          std::lock_guard<std::mutex> l(mu);
          errors.push_back(s);
        }
      }
    };
    size_t n = std::min<size_t>(hosts.size(), std::max(1, o_.parallel));
    std::vector<std::thread> threads;
    for (size_t i = 1; i < n; i++) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
    return Combine(errors);
  }

  // The first of several hosts' failures (the others logged), or Ok.
  Status Combine(const std::vector<Status>& errors) const {
    if (errors.empty()) return Status::Ok();
    for (size_t i = 1; i < errors.size(); i++) Log("error: " + errors[i].message());
    if (errors.size() == 1) return errors[0];
    return Status::Aborted(errors[0].message() + " (and " + std::to_string(errors.size() - 1) +
                           " more hosts failed, see above)");
  }

  SshOptions SshFor(const Clusterfile::Host& h) const {
    SshOptions s;
    s.host = h.ip;
    s.port = h.ssh.port.value_or(22);
    s.user = h.ssh.user.value_or("root");
    s.password = h.ssh.passwd.value_or("");
    s.key_file = h.ssh.pk.value_or("");
    s.key_passphrase = h.ssh.pk_passwd.value_or("");
    s.known_hosts = o_.known_hosts;
    s.check_host_key = !o_.insecure_host_keys;
    s.connect_timeout_ms = o_.connect_timeout_ms;
    return s;
  }

  // Connects and reads the host's state (steps, record presence, zstd).
  Status Connect(HostCtx& c) {
    ASSIGN_OR_RETURN(c.ssh, SshSession::Connect(SshFor(c.host)));
    const std::string d = ShellQuote(dir_);
    ASSIGN_OR_RETURN(ExecResult r,
                     c.ssh->Run("D=" + d + "\n"
                                "command -v tar >/dev/null 2>&1 || { echo 'tar is not installed' >&2; exit 3; }\n"
                                "command -v zstd >/dev/null 2>&1 && echo zstd\n"
                                "[ -f \"$D/files.gz\" ] && echo record\n"
                                "for f in \"$D\"/steps/*; do [ -f \"$f\" ] && "
                                "printf 'step %s %s\\n' \"${f##*/}\" \"$(cat \"$f\")\"; done\n"
                                "exit 0\n"));
    if (r.exit_code != 0) return Fail(c, "probing the host", r);
    for (const std::string& line : Lines(r.out)) {
      if (line == "zstd") c.zstd = true;
      if (line == "record") c.has_record = true;
      if (line.rfind("step ", 0) == 0) {
        size_t sp = line.find(' ', 5);
        if (sp != std::string::npos) c.steps[line.substr(5, sp - 5)] = line.substr(sp + 1);
      }
    }
    return Status::Ok();
  }

  Status Fail(HostCtx& c, const std::string& what, const ExecResult& r) const {
    const std::vector<std::string> tail = Lines(r.Tail());
    for (const auto& line : tail) Log(c.host.ip + "| " + line);
    std::string how = r.signal.empty() ? "exit status " + std::to_string(r.exit_code)
                                       : "signal " + r.signal;
    std::string last = tail.empty() ? "" : tail.back();
    return Status::Aborted("host " + c.host.ip + ": " + what + " failed (" + how + ")" +
                           (last.empty() ? "" : ": " + last));
  }

  // The environment prefix for commands on c.
  std::string Exports(const HostCtx& c) const {
    std::string s = "export PATH=" + ShellQuote(Rootfs() + "/bin") + ":$PATH\n";
    for (const auto& [k, v] : c.env) s += "export " + k + "=" + ShellQuote(v) + "\n";
    return s;
  }

  std::string Rootfs() const { return dir_ + "/rootfs"; }

  // A host to work on, its environment: the built-ins, then `image_env`,
  // then the Clusterfile's and the host's (Host::env).
  std::unique_ptr<HostCtx> NewHost(const Clusterfile::Host& h, const std::string& master0,
                                   const std::map<std::string, std::string>& image_env) const {
    auto c = std::make_unique<HostCtx>();
    c->host = h;
    c->report.ip = h.ip;
    c->env = {{"CIMG_CLUSTER", cf_.name},
              {"CIMG_ROOTFS", Rootfs()},
              {"CIMG_MASTER0", master0},
              {"CIMG_HOST_IP", h.ip},
              {"CIMG_ROLE", h.master ? "master" : "node"}};
    for (const auto& [k, v] : image_env) c->env[k] = v;
    for (const auto& [k, v] : h.env) c->env[k] = v;
    return c;
  }

  // Runs `cmd` on c as step `id` unless the host recorded `value` for it.
  Status Step(HostCtx& c, const std::string& id, const std::string& value, const std::string& what,
              const std::string& cmd, const std::string& input = "", ExecResult* out = nullptr) {
    if (!id.empty()) {
      auto it = c.steps.find(id);
      if (it != c.steps.end() && it->second == value) {
        Log(c.host.ip + ": " + what + ": done before, skipped");
        return Status::Ok();
      }
    }
    Log(c.host.ip + ": " + what);
    auto run = c.ssh->Run(Exports(c) + cmd, input);
    if (!run.ok()) return Lost(c, what, run.status());
    ExecResult& r = *run;
    if (r.exit_code != 0) return Fail(c, what, r);
    // What the step printed, for the operator ("IP> line").
    for (const std::string* stream : {&r.out, &r.err})
      for (const auto& line : Lines(*stream))
        if (!line.empty()) Log(c.host.ip + "> " + line);
    if (out) *out = r;
    if (!id.empty()) RETURN_IF_ERROR(Mark(c, id, value));
    return Status::Ok();
  }

  // "host IP: what: connection lost (why)", the host named once.
  static Status Lost(const HostCtx& c, const std::string& what, const Status& s) {
    std::string why = s.message();
    const std::string prefix = c.ssh->name() + ": ";
    if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
    return Status::Unavailable("host " + c.host.ip + ": " + what + ": connection lost (" + why +
                               ")");
  }

  Status Mark(HostCtx& c, const std::string& id, const std::string& value) {
    ASSIGN_OR_RETURN(ExecResult r, c.ssh->Run("mkdir -p " + ShellQuote(dir_ + "/steps") +
                                              " && printf %s " + ShellQuote(value) + " > " +
                                              ShellQuote(dir_ + "/steps/" + id)));
    if (r.exit_code != 0) return Fail(c, "recording step " + id, r);
    c.steps[id] = value;
    return Status::Ok();
  }

  // SHELL plugins of `phase` on the hosts in their scope.
  Status Phase(const std::string& phase, const std::vector<HostCtx*>& hosts,
               const std::string& image_id, bool record) {
    for (const auto& p : cf_.plugins) {
      if (std::find(p.phases.begin(), p.phases.end(), phase) == p.phases.end()) continue;
      std::vector<HostCtx*> in;
      for (HostCtx* h : hosts)
        if (p.scope.empty() ||
            std::find(p.scope.begin(), p.scope.end(), h->role()) != p.scope.end())
          in.push_back(h);
      std::string id = record ? "plugin-" + p.name + "-" + phase : "";
      RETURN_IF_ERROR(ForEach(in, [&](HostCtx& c) {
        return Step(c, id, image_id, "plugin " + p.name + " (" + phase + ")",
                    "cd " + ShellQuote(Rootfs()) + " 2>/dev/null || cd /\nexec bash -s", p.data);
      }));
    }
    return Status::Ok();
  }

  const Clusterfile& cf_;
  const DeployOptions& o_;
  const std::string dir_;
};

struct Image {
  std::string id;  // config digest
  std::map<std::string, std::string> env;
  std::vector<std::string> cmds, cmds_launch, launch;
};

// The image's config; `name` names it in errors. Env keys become `export
// KEY=...` on the hosts, so a key that is not a shell name is refused (an
// image from anywhere must not run commands by its config).
Result<Image> ReadImage(const ImageDetails& d, const std::string& name) {
  Image img;
  img.id = d.summary.image_id.ToString();
  try {
    json cfg = json::parse(d.config);
    const json& c = cfg.value("config", json::object());
    for (const auto& e : c.value("Env", json::array())) {
      std::string kv = e.get<std::string>();
      auto p = ParseEnvEntry(kv);
      if (!p.ok())
        return Status::Invalid("image " + name + ": config Env key " +
                               QuoteForMessage(kv.substr(0, kv.find('='))) +
                               " is not a shell variable name; refusing to deploy it");
      img.env[p->first] = p->second;
    }
    const json& labels = c.value("Labels", json::object());
    auto list = [&](const char* key, std::vector<std::string>* out) {
      if (labels.contains(key)) *out = json::parse(labels[key].get<std::string>()).get<std::vector<std::string>>();
    };
    list(kLabelCmds, &img.cmds);
    list(kLabelCmdsLaunch, &img.cmds_launch);
    list(kLabelLaunch, &img.launch);
  } catch (const std::exception& e) {
    return Status::Corruption("image config: " + std::string(e.what()));
  }
  return img;
}

// The worker `kubeadm join ...` command in kubeadm's output (`token create
// --print-join-command`, or `init`, which prints it over several lines
// joined by "\"), without --control-plane and --certificate-key; "" if there
// is none, or if it holds anything but the characters such a line has (it
// runs in a shell on the other hosts).
std::string ParseJoinCommand(const std::string& out) {
  std::vector<std::string> cmds;
  std::string cur;
  bool open = false;
  for (std::string line : Lines(out)) {
    size_t a = line.find_first_not_of(" \t"), b = line.find_last_not_of(" \t\r");
    line = a == std::string::npos ? "" : line.substr(a, b - a + 1);
    if (!open && line.rfind("kubeadm join ", 0) != 0) continue;
    open = !line.empty() && line.back() == '\\';
    if (open) line.pop_back();
    cur += (cur.empty() ? "" : " ") + line;
    if (!open) cmds.push_back(std::move(cur)), cur.clear();
  }
  if (!cur.empty()) cmds.push_back(cur);
  std::string best;
  for (const std::string& c : cmds) {
    std::string clean;
    std::vector<std::string> words;
    for (size_t pos = 0; pos < c.size();) {
      size_t sp = c.find(' ', pos);
      std::string w = c.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
      pos = sp == std::string::npos ? c.size() : sp + 1;
      if (!w.empty()) words.push_back(w);
    }
    for (size_t i = 0; i < words.size(); i++) {
      if (words[i] == "--control-plane") continue;
      if (words[i] == "--certificate-key") { i++; continue; }
      clean += (clean.empty() ? "" : " ") + words[i];
    }
    if (clean.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789 .:_-/=[]") != std::string::npos)
      continue;
    bool worker = c.find("--control-plane") == std::string::npos;
    if (best.empty() || worker) best = clean;
    if (worker) break;
  }
  return best;
}

bool PlanHas(const RootfsPlan& p, const std::string& path) {
  return std::any_of(p.entries.begin(), p.entries.end(),
                     [&](const RootfsEntry& e) { return e.path == path; });
}


// One host's part of the rootfs transfer.
struct HostSync {
  RootfsPlan plan;
  RootfsDelta delta;
  std::vector<size_t> shared;  // delta.send entries from the store (the same for many hosts)
  std::vector<size_t> own;     // delta.send entries rendered for this host
  std::string key;             // hosts with equal keys get one shared stream
};

const char kExtract[] =
    " | tar -x -p --numeric-owner --xattrs --xattrs-include='*' --warning=no-unknown-keyword -f -";

// Unpacks the stream readable from fd into the host's rootfs.
Status Extract(Runner& run, HostCtx& c, int fd) {
  const std::string R = ShellQuote(run.Rootfs());
  auto r = c.ssh->Run("mkdir -p " + R + " && cd " + R + " && " +
                          (c.zstd ? "zstd -dcq" : "gzip -dc") + kExtract,
                      "", fd);
  if (!r.ok()) return Runner::Lost(c, "rootfs transfer", r.status());
  if (r->exit_code != 0) return run.Fail(c, "unpacking the rootfs", *r);
  return Status::Ok();
}

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

// Streams `send` of `plan` to `hosts` at once (one producer, one pipe per
// host); every host is read concurrently. A host that fails is dropped from
// the stream (its pipe closed, the producer goes on for the others) and
// added to `failed`; when the data itself cannot be read, every host that
// had not failed yet is. REQUIRES: hosts.size() <= the runner's parallelism.
void Stream(Runner& run, Store& store, const LayerStack& stack, const RootfsPlan& plan,
            const std::vector<size_t>& send, const std::vector<HostCtx*>& hosts,
            std::atomic<uint64_t>* done, HostErrors* failed) {
  std::map<HostCtx*, int> rfd;
  std::vector<int> wfds;
  for (HostCtx* h : hosts) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
      Status s = Status::IOError("rootfs stream: pipe");
      for (auto& [k, fd] : rfd) close(fd);
      for (int fd : wfds) close(fd);
      for (HostCtx* x : hosts) failed->Add(x, s);
      return;
    }
    rfd[h] = p[0];
    wfds.push_back(p[1]);
  }
  Status produced;
  std::thread producer([&] {
    auto chunks = store.OpenChunkSource();
    if (!chunks.ok()) {
      for (int fd : wfds) close(fd);
      produced = chunks.status();
      return;
    }
    produced =
        WriteRootfsTar(stack, **chunks, plan, send, hosts[0]->zstd ? "zstd" : "gzip", wfds, done);
  });
  run.ForEach(hosts, [&](HostCtx& c) {
    Status r = Extract(run, c, rfd[&c]);
    close(rfd[&c]);  // drops this host from the stream if it hung up
    if (!r.ok()) failed->Add(&c, r);
    return Status::Ok();
  });
  producer.join();
  if (produced.ok()) return;
  for (HostCtx* h : hosts)
    if (!failed->Has(h)) failed->Add(h, produced);
}

// Streams each group's shared entries: hosts that need the same ones get one
// stream, read and compressed once. Batches of at most `parallel` hosts, and
// waves of batches with at most `parallel` hosts in all.
void StreamShared(Runner& run, Store& store, const LayerStack& stack,
                  const std::vector<std::vector<HostCtx*>>& batches,
                  const std::function<const HostSync&(HostCtx*)>& sync_of, size_t par,
                  std::atomic<uint64_t>* done, HostErrors* failed) {
  for (size_t bi = 0; bi < batches.size();) {
    std::vector<size_t> wave;
    size_t n = 0;
    while (bi < batches.size() && (wave.empty() || n + batches[bi].size() <= par)) {
      n += batches[bi].size();
      wave.push_back(bi++);
    }
    std::vector<std::thread> threads;
    for (size_t w : wave) {
      const auto& hosts = batches[w];
      if (hosts.size() > 1) {
        std::string ips;
        for (HostCtx* h : hosts) ips += (ips.empty() ? "" : ", ") + h->host.ip;
        run.Log("rootfs: one stream for " + ips);
      }
      const HostSync* first = &sync_of(hosts[0]);
      threads.emplace_back([&, first] {
        Stream(run, store, stack, first->plan, first->shared, hosts, done, failed);
      });
    }
    for (auto& t : threads) t.join();
  }
}

Status SyncRootfs(Runner& run, Store& store, const LayerStack& stack,
                  const std::vector<HostCtx*>& all, const DeployOptions& o,
                  std::vector<HostSync>* sync) {
  std::map<HostCtx*, size_t> index;
  for (size_t i = 0; i < all.size(); i++) index[all[i]] = i;
  const std::string R = ShellQuote(run.Rootfs());
  const std::string dir = run.dir_;
  // 1. Plans, records, deltas; deletions first.
  RETURN_IF_ERROR(run.ForEach(all, [&](HostCtx& c) -> Status {
    HostSync& hs = (*sync)[index[&c]];
    ASSIGN_OR_RETURN(auto chunks, store.OpenChunkSource());
    ASSIGN_OR_RETURN(hs.plan, PlanRootfs(stack, *chunks, c.env, c.host.master));
    Record old;
    if (c.has_record && !o.resend) {
      ASSIGN_OR_RETURN(ExecResult r, c.ssh->Run("cat " + ShellQuote(dir + "/files.gz")));
      if (r.exit_code != 0) return run.Fail(c, "reading the host record", r);
      auto raw = Gunzip(r.out);
      auto dec = raw.ok() ? DecodeRecord(*raw) : Result<Record>(raw.status());
      if (dec.ok())
        old = std::move(*dec);
      else
        run.Log(c.host.ip + ": host record unreadable (" + dec.status().message() +
                "), sending everything");
    }
    hs.delta = ComputeDelta(hs.plan, old);
    c.report.files_total = hs.plan.entries.size();
    c.report.files_sent = hs.delta.send.size();
    c.report.files_removed = hs.delta.remove.size();
    c.report.data_bytes = hs.delta.send_bytes;
    Sha256 key;
    key.Update(c.zstd ? "zstd\n" : "gzip\n");
    for (size_t i : hs.delta.send) {
      const RootfsEntry& e = hs.plan.entries[i];
      if (e.rendered >= 0) {
        hs.own.push_back(i);
      } else {
        hs.shared.push_back(i);
        key.Update(e.fingerprint + " " + e.path + "\n");
      }
    }
    hs.key = key.Finish().Hex();
    if (!hs.delta.remove.empty()) {
      std::string list;
      for (const auto& p : hs.delta.remove) list += p + '\0';
      ASSIGN_OR_RETURN(ExecResult r, c.ssh->Run("mkdir -p " + R + " && cd " + R +
                                                " && xargs -0 -r rm -rf --", list));
      if (r.exit_code != 0) return run.Fail(c, "removing deleted files", r);
    }
    if (hs.delta.send.empty())
      run.Log(c.host.ip + ": rootfs: up to date (" + std::to_string(hs.plan.entries.size()) +
              " entries)");
    else
      run.Log(c.host.ip + ": rootfs: sending " + std::to_string(hs.delta.send.size()) + " of " +
              std::to_string(hs.plan.entries.size()) + " entries (" +
              std::to_string(hs.delta.send_bytes / 1000000.0).substr(0, 6) + " MB), removing " +
              std::to_string(hs.delta.remove.size()));
    return Status::Ok();
  }));
  // 2. The shared entries: hosts that need the same ones get one stream,
  //    read and compressed once. Batches of at most `parallel` hosts, and
  //    waves of batches with at most `parallel` hosts in all.
  std::map<std::string, std::vector<HostCtx*>> groups;
  for (HostCtx* h : all)
    if (!(*sync)[index[h]].shared.empty()) groups[(*sync)[index[h]].key].push_back(h);
  const size_t par = std::max(1, o.parallel);
  std::vector<std::vector<HostCtx*>> batches;
  for (auto& [k, hosts] : groups)
    for (size_t b = 0; b < hosts.size(); b += par)
      batches.emplace_back(hosts.begin() + b, hosts.begin() + std::min(hosts.size(), b + par));
  // Progress: the bytes of every stream, shared and per host.
  uint64_t total = 0;
  for (const auto& b : batches)
    for (size_t i : (*sync)[index[b[0]]].shared) total += (*sync)[index[b[0]]].plan.entries[i].size;
  for (const auto& hs : *sync)
    for (size_t i : hs.own) total += hs.plan.entries[i].size;
  std::atomic<uint64_t> done{0};
  std::mutex pmu;
  std::condition_variable pcv;
  bool finished = false;
  std::thread reporter;
  if (o.progress && total > 0) {
    reporter = std::thread([&] {
      std::unique_lock<std::mutex> l(pmu);
      while (!pcv.wait_for(l, std::chrono::milliseconds(200), [&] { return finished; }))
        o.progress({"rootfs", "sending", done.load(), total});
    });
  }
  struct StopReporter {
    std::mutex& mu;
    std::condition_variable& cv;
    bool& finished;
    std::thread& t;
    ~StopReporter() {
      {
        std::lock_guard<std::mutex> l(mu);
        finished = true;
      }
      cv.notify_all();
      if (t.joinable()) t.join();
    }
  } stop_reporter{pmu, pcv, finished, reporter};
  HostErrors failed;
  StreamShared(run, store, stack, batches, [&](HostCtx* h) -> const HostSync& {
    return (*sync)[index[h]];
  }, par, &done, &failed);
  // 3. Each host's rendered files, then its new record; a host whose stream
  //    failed is left as it is (its old record stays: a re-run redoes what
  //    differs), the others finish.
  std::vector<HostCtx*> ok;
  for (HostCtx* h : all)
    if (!failed.Has(h)) ok.push_back(h);
  Status s = run.ForEach(ok, [&](HostCtx& c) -> Status {
    HostSync& hs = (*sync)[index[&c]];
    if (!hs.own.empty()) {
      Stream(run, store, stack, hs.plan, hs.own, {&c}, &done, &failed);
      if (failed.Has(&c)) return failed.Get(&c);
    }
    if (!hs.delta.send.empty() || !hs.delta.remove.empty() || !c.has_record || o.resend) {
      const std::string f = ShellQuote(dir + "/files.gz");
      ASSIGN_OR_RETURN(ExecResult r, c.ssh->Run("cat > " + f + ".tmp && mv " + f + ".tmp " + f,
                                                Gzip(EncodeRecord(hs.plan))));
      if (r.exit_code != 0) return run.Fail(c, "writing the host record", r);
    }
    return Status::Ok();
  });
  std::vector<Status> errors;
  for (HostCtx* h : all)
    if (failed.Has(h) && std::find(ok.begin(), ok.end(), h) == ok.end())
      errors.push_back(failed.Get(h));
  if (errors.empty()) return s;
  if (!s.ok()) run.Log("error: " + s.message());
  return run.Combine(errors);
}

// The join command for the other hosts: what `kubeadm token create
// --print-join-command` prints on m0, else the one `kubeadm init` printed
// (saved on m0 at `saved`, a quoted path).
Result<std::string> JoinCommand(Runner& run, HostCtx& m0, const std::string& path,
                                const std::string& saved) {
  ExecResult tok;
  Status s = run.Step(m0, "", "", "kubeadm token create",
                      path + "kubeadm token create --print-join-command", "", &tok);
  std::string join = s.ok() ? ParseJoinCommand(tok.out) : "";
  if (!join.empty()) return join;
  std::string why = s.ok() ? "printed no \"kubeadm join\" command" : "failed";
  ASSIGN_OR_RETURN(ExecResult r, m0.ssh->Run("cat " + saved + " 2>/dev/null"));
  join = r.exit_code == 0 ? ParseJoinCommand(r.out) : "";
  if (join.empty())
    return Status::Aborted("host " + m0.host.ip + ": kubeadm token create " + why +
                           ", and kubeadm init printed no join command to fall back on" +
                           (s.ok() ? "" : " (" + s.message() + ")"));
  run.Log(m0.host.ip + ": kubeadm token create " + why + "; using the join command kubeadm init printed");
  return join;
}

}  // namespace

Result<DeployReport> Deploy(Store& store, const Clusterfile& cf, const DeployOptions& o) {
  signal(SIGPIPE, SIG_IGN);  // a host hanging up mid-stream is an error, not a kill
  Runner run(cf, o);
  ASSIGN_OR_RETURN(ImageDetails details, store.Inspect(cf.image));
  ASSIGN_OR_RETURN(Image img, ReadImage(details, cf.image));
  std::vector<Digest> diff_ids;
  for (const auto& l : details.layers) diff_ids.push_back(l.diff_id);
  ASSIGN_OR_RETURN(auto lease, store.TakeLease(diff_ids));
  std::vector<std::shared_ptr<const LayerToc>> tocs;
  for (const auto& d : diff_ids) {
    ASSIGN_OR_RETURN(LayerToc t, store.GetLayerToc(d));
    tocs.push_back(std::make_shared<const LayerToc>(std::move(t)));
  }
  ASSIGN_OR_RETURN(LayerStack stack, LayerStack::Build(std::move(tocs)));

  std::vector<std::unique_ptr<HostCtx>> owned;
  std::vector<HostCtx*> all;
  const auto hosts = cf.Hosts();
  for (const auto& h : hosts) {
    owned.push_back(run.NewHost(h, hosts[0].ip, img.env));
    all.push_back(owned.back().get());
  }
  HostCtx& m0 = *all[0];

  // 1. Connect.
  run.Log("connecting to " + std::to_string(all.size()) + " hosts");
  RETURN_IF_ERROR(run.ForEach(all, [&](HostCtx& c) { return run.Connect(c); }));
  if (o.on_connected) o.on_connected();

  // 2. Rootfs.
  std::vector<HostSync> sync(all.size());
  RETURN_IF_ERROR(SyncRootfs(run, store, stack, all, o, &sync));
  const RootfsPlan& plan0 = sync[0].plan;
  const std::string R = ShellQuote(run.Rootfs());

  // 3. init.sh on every host.
  RETURN_IF_ERROR(run.Phase("pre-init-host", all, img.id, true));
  if (PlanHas(plan0, "scripts/init.sh")) {
    RETURN_IF_ERROR(run.ForEach(all, [&](HostCtx& c) {
      return run.Step(c, "init", img.id, "scripts/init.sh",
                      "cd " + R + "/scripts && bash init.sh");
    }));
  }
  RETURN_IF_ERROR(run.Phase("post-init-host", all, img.id, true));

  // 4. The built-in registry on master0.
  if (PlanHas(plan0, "registry")) {
    std::string port = m0.env.count("REGISTRY_PORT") ? m0.env["REGISTRY_PORT"] : "5000";
    std::string domain = m0.env.count("REGISTRY_DOMAIN") ? m0.env["REGISTRY_DOMAIN"] : "sea.hub";
    std::string d = ShellQuote(HostDir(cf.name));
    std::string cmd;
    if (PlanHas(plan0, "scripts/init-registry.sh")) {
      cmd = "cd " + R + "/scripts && bash init-registry.sh " + ShellQuote(port) + " " + R +
            "/registry " + ShellQuote(domain);
    } else {
      cmd = "D=" + d + "; R=" + R + "; PORT=" + ShellQuote(port) +
            "\n"
            "if [ -f $D/registry.pid ] && kill -0 \"$(cat $D/registry.pid)\" 2>/dev/null; then "
            "echo 'registry already running'; exit 0; fi\n"
            "BIN=\n"
            "for b in \"$R/bin/registry\" \"$(command -v docker-registry)\" \"$(command -v registry)\"; do\n"
            "  [ -n \"$b\" ] && [ -x \"$b\" ] && { BIN=$b; break; }\n"
            "done\n"
            "[ -n \"$BIN\" ] || { echo 'no registry to serve registry/: the image has neither "
            "scripts/init-registry.sh nor bin/registry, and docker-registry is not installed' >&2; exit 3; }\n"
            "cat > $D/registry.yml <<EOF\n"
            "version: 0.1\n"
            "log: {level: warn, accesslog: {disabled: true}}\n"
            "storage: {filesystem: {rootdirectory: $R/registry}, delete: {enabled: false}}\n"
            "http: {addr: \":$PORT\"}\n"
            "EOF\n"
            "env -u REGISTRY_AUTH_FILE setsid \"$BIN\" serve $D/registry.yml </dev/null >$D/registry.log 2>&1 &\n"
            "echo $! > $D/registry.pid\n"
            "for i in $(seq 50); do\n"
            "  if (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null; then echo \"registry on :$PORT\"; exit 0; fi\n"
            "  kill -0 \"$(cat $D/registry.pid)\" 2>/dev/null || { cat $D/registry.log >&2; exit 4; }\n"
            "  sleep 0.2\n"
            "done\n"
            "echo \"registry did not start on :$PORT\" >&2; cat $D/registry.log >&2; exit 5\n";
      cmd = "exec bash -c " + ShellQuote(cmd);
    }
    RETURN_IF_ERROR(run.Step(m0, "", "", "built-in registry", cmd));
  }

  // 5. Cluster bring-up with kubeadm.
  RETURN_IF_ERROR(run.Phase("pre-install", all, img.id, true));
  if (PlanHas(plan0, "bin/kubeadm")) {
    const std::string path = "export PATH=" + R + "/bin:$PATH\ncd " + R + "\n";
    std::string init = PlanHas(plan0, "etc/kubeadm.yml")
                           ? "kubeadm init --config " + R + "/etc/kubeadm.yml --upload-certs"
                           : "kubeadm init --upload-certs --apiserver-advertise-address " + m0.host.ip;
    ExecResult init_out;
    RETURN_IF_ERROR(run.Step(m0, "kubeadm-init", "done", "kubeadm init", path + init, "", &init_out));
    const std::string saved_join = ShellQuote(HostDir(cf.name) + "/kubeadm-join");
    if (std::string j = ParseJoinCommand(init_out.out); !j.empty()) {
      // Kept (root only) for when `kubeadm token create` cannot make another.
      ASSIGN_OR_RETURN(ExecResult r, m0.ssh->Run("umask 077 && cat > " + saved_join, j));
      if (r.exit_code != 0) return run.Fail(m0, "saving the join command", r);
    }
    std::vector<HostCtx*> join_masters, join_nodes;
    for (size_t i = 1; i < all.size(); i++)
      if (!all[i]->steps.count("kubeadm-join"))
        (all[i]->host.master ? join_masters : join_nodes).push_back(all[i]);
    if (!join_masters.empty() || !join_nodes.empty()) {
      ASSIGN_OR_RETURN(std::string join, JoinCommand(run, m0, path, saved_join));
      std::string key;
      if (!join_masters.empty()) {
        ExecResult up;
        RETURN_IF_ERROR(run.Step(m0, "", "", "kubeadm upload-certs",
                                 path + "kubeadm init phase upload-certs --upload-certs", "", &up));
        std::string out = up.out;
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        key = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
        if (key.size() != 64 || key.find_first_not_of("0123456789abcdef") != std::string::npos)
          return Status::Aborted("host " + m0.host.ip +
                                 ": kubeadm upload-certs printed no certificate key");
      }
      for (HostCtx* c : join_masters)
        RETURN_IF_ERROR(run.Step(*c, "kubeadm-join", "done", "kubeadm join (control plane)",
                                 path + join + " --control-plane --certificate-key " + key));
      RETURN_IF_ERROR(run.ForEach(join_nodes, [&](HostCtx& c) {
        return run.Step(c, "kubeadm-join", "done", "kubeadm join", path + join);
      }));
    }
  }

  // 6. CMDs, CMDS, LAUNCH on master0.
  std::vector<std::string> cmds = cf.cmd.empty() ? img.cmds : cf.cmd;
  for (const auto& c : img.cmds_launch) cmds.push_back(c);
  for (size_t i = 0; i < cmds.size(); i++) {
    std::string id = "cmd-" + std::to_string(i);
    std::string value = img.id + "/" + Digest::Of(cmds[i]).Short();
    RETURN_IF_ERROR(run.Step(m0, id, value, "CMD " + cmds[i], "cd " + R + "\n" + cmds[i]));
  }
  for (const auto& app : img.launch) {
    std::string script =
        "d=application/apps/" + ShellQuote(app) +
        "\n[ -d \"$d\" ] || { echo \"LAUNCH " + app + ": $d is not in the image\" >&2; exit 2; }\n"
        "for f in $(find \"$d\" -maxdepth 1 -type f | sort); do\n"
        "  case $f in *.sh) bash \"$f\" ;; *.yaml|*.yml) kubectl apply -f \"$f\" ;; esac || exit\n"
        "done\n";
    RETURN_IF_ERROR(run.Step(m0, "launch-" + app, img.id, "LAUNCH " + app,
                             "cd " + R + "\n" + script));
  }
  RETURN_IF_ERROR(run.Phase("post-install", all, img.id, true));

  DeployReport rep;
  for (HostCtx* c : all) {
    c->report.wire_bytes = c->ssh->bytes_sent();
    rep.hosts.push_back(c->report);
  }
  return rep;
}

Status Delete(const Clusterfile& cf, const std::vector<std::string>& ips, const DeployOptions& o) {
  signal(SIGPIPE, SIG_IGN);
  Runner run(cf, o);
  std::vector<std::unique_ptr<HostCtx>> owned;
  std::vector<HostCtx*> all;
  const auto hosts = cf.Hosts();
  for (const auto& h : hosts) {
    if (!ips.empty() && std::find(ips.begin(), ips.end(), h.ip) == ips.end()) continue;
    owned.push_back(run.NewHost(h, hosts[0].ip, {}));
    all.push_back(owned.back().get());
  }
  run.Log("connecting to " + std::to_string(all.size()) + " hosts");
  // Hosts that cannot be reached are reported; the others are cleaned.
  std::vector<HostCtx*> up;
  std::mutex mu;
  Status unreachable = run.ForEach(all, [&](HostCtx& c) {
    Status s = run.Connect(c);
    if (s.ok()) {
      std::lock_guard<std::mutex> l(mu);
      up.push_back(&c);
    }
    return s;
  });
  std::sort(up.begin(), up.end(), [&](HostCtx* a, HostCtx* b) {
    return std::find(all.begin(), all.end(), a) < std::find(all.begin(), all.end(), b);
  });
  const std::string D = ShellQuote(HostDir(cf.name)), R = ShellQuote(run.Rootfs());
  Status s = run.Phase("pre-clean-host", up, "", false);
  if (s.ok())
    s = run.ForEach(up, [&](HostCtx& c) -> Status {
      if (!c.has_record && c.steps.empty()) {
        ASSIGN_OR_RETURN(ExecResult r, c.ssh->Run("test -d " + D));
        if (r.exit_code != 0) {
          run.Log(c.host.ip + ": nothing of cluster " + cf.name + " here");
          return Status::Ok();
        }
      }
      RETURN_IF_ERROR(run.Step(c, "", "", "kubeadm reset",
                               "if [ -x " + R + "/bin/kubeadm ]; then cd " + R + " && PATH=" + R +
                                   "/bin:$PATH kubeadm reset -f; fi"));
      RETURN_IF_ERROR(run.Step(c, "", "", "scripts/clean.sh",
                               "if [ -f " + R + "/scripts/clean.sh ]; then cd " + R +
                                   "/scripts && bash clean.sh; fi"));
      return run.Step(c, "", "", "stop the registry",
                      "if [ -f " + D + "/registry.pid ]; then p=$(cat " + D +
                          "/registry.pid); kill \"$p\" 2>/dev/null; for i in $(seq 50); do "
                          "kill -0 \"$p\" 2>/dev/null || break; sleep 0.1; done; "
                          "kill -9 \"$p\" 2>/dev/null; fi; true");
    });
  if (s.ok()) s = run.Phase("post-clean-host", up, "", false);
  if (s.ok())
    s = run.ForEach(up, [&](HostCtx& c) {
      return run.Step(c, "", "", "remove " + HostDir(cf.name), "rm -rf " + D);
    });
  if (!s.ok()) return s;
  return unreachable;
}

}  // namespace cfs::deploy
