#include "deploy/fanout.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <thread>

#include "base/digest.h"
#include "deploy/host_script.h"

namespace cfs::deploy {

std::vector<int> FanoutParents(size_t n, int fanout) {
  std::vector<int> parent(n, -1);
  const size_t f = static_cast<size_t>(std::max(1, fanout));
  for (size_t i = 1; i < n; i++) parent[i] = static_cast<int>((i - 1) / f);
  return parent;
}

namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

// The pieces of the stream as they are made, kept in an unnamed file for
// the hosts that take pieces from here. Thread-safe.
class PieceStore {
 public:
  struct Piece {
    uint64_t offset = 0, size = 0;
    std::string sha256;
  };

  ~PieceStore() {
    if (fd_ >= 0) close(fd_);
  }

  Status Open(const std::string& dir) {
    fd_ = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) {  // a file system without O_TMPFILE: a named one, unlinked
      std::string name = dir + "/fanout-XXXXXX";
      fd_ = mkostemp(name.data(), O_CLOEXEC);
      if (fd_ >= 0) unlink(name.c_str());
    }
    if (fd_ < 0) return Status::IOError("fan-out: a spool file in " + dir);
    return Status::Ok();
  }

  // Cuts what fd yields (to EOF) into pieces.
  Status Fill(int fd) {
    std::string buf(kFanoutPiece, '\0');
    for (;;) {
      size_t have = 0;
      while (have < buf.size()) {
        ssize_t n = read(fd, buf.data() + have, buf.size() - have);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Status::IOError("fan-out: reading the stream");
        if (n == 0) break;
        have += static_cast<size_t>(n);
      }
      if (have > 0) RETURN_IF_ERROR(Add(buf.data(), have));
      if (have < buf.size()) return Status::Ok();
    }
  }

  // No more pieces; `s` tells whether the stream is whole.
  void Finish(const Status& s) {
    std::lock_guard<std::mutex> l(mu_);
    finished_ = true;
    failed_ = !s.ok();
    events_++;
    cv_.notify_all();
  }

  // Wakes the waiters (a host asked for pieces).
  void Poke() {
    std::lock_guard<std::mutex> l(mu_);
    events_++;
    cv_.notify_all();
  }

  // Waits (at most 100 ms) for an event after `*seen`; the state then.
  void Wait(uint64_t* seen, size_t* count, bool* finished, bool* failed) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, std::chrono::milliseconds(100), [&] { return events_ != *seen; });
    *seen = events_;
    *count = pieces_.size();
    *finished = finished_;
    *failed = failed_;
  }

  Piece Get(size_t i) {
    std::lock_guard<std::mutex> l(mu_);
    return pieces_[i];
  }

  bool Read(const Piece& p, std::string* out) const {
    out->resize(p.size);
    for (size_t done = 0; done < p.size;) {
      ssize_t n = pread(fd_, out->data() + done, p.size - done, p.offset + done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  uint64_t bytes() {
    std::lock_guard<std::mutex> l(mu_);
    return end_;
  }

 private:
  Status Add(const char* data, size_t n) {
    const uint64_t at = end_;  // only Fill's thread changes end_
    for (size_t done = 0; done < n;) {
      ssize_t w = pwrite(fd_, data + done, n - done, at + done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return Status::IOError("fan-out: writing the spool file");
      done += static_cast<size_t>(w);
    }
    Piece p{at, n, Digest::Of(std::string_view(data, n)).Hex()};
    std::lock_guard<std::mutex> l(mu_);
    pieces_.push_back(std::move(p));
    end_ = at + n;
    events_++;
    cv_.notify_all();
    return Status::Ok();
  }

  int fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Piece> pieces_;
  uint64_t end_ = 0, events_ = 0;
  bool finished_ = false, failed_ = false;
};

// One host of the transfer.
struct Receiver {
  HostCtx* host = nullptr;
  std::string key;                   // its public key for this transfer ("": none)
  bool ready = false;                // set up (fanout_setup.sh)
  bool relay_ok = false;             // hosts below may fetch from it
  std::vector<std::string> sources;  // user@address:port of its sources, nearest first
  int fd = -1;                       // our end of its stdin
  std::atomic<size_t> need{kNone};   // it takes the pieces from here on from us
  std::atomic<bool> done{false};     // its command ended
  uint64_t sent = 0;                 // piece bytes sent to it
  Status status;
};

bool Send(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}
bool Send(int fd, const std::string& s) { return Send(fd, s.data(), s.size()); }

// Feeds r's stdin: every piece's size and SHA-256 as it is made, the pieces
// from r.need on, "end N" after the last; until r's command ends. A broken
// stream is closed without "end" (the host fails).
void Feed(PieceStore& ps, Receiver& r) {
  size_t sums = 0, data = kNone, count = 0, asked = kNone;
  uint64_t seen = 0;
  bool finished = false, failed = false, ended = false;
  std::string bytes;
  while (!r.done) {
    ps.Wait(&seen, &count, &finished, &failed);
    if (failed) break;
    if (size_t need = r.need.load(); need < asked) {  // a new request: from there on
      asked = need;
      data = std::min(data, need);
    }
    std::string lines;
    for (; sums < count; sums++) {
      PieceStore::Piece p = ps.Get(sums);
      lines += "sum " + std::to_string(sums) + " " + std::to_string(p.size) + " " + p.sha256 + "\n";
    }
    if (!lines.empty() && !Send(r.fd, lines)) break;
    bool ok = true;
    for (; ok && data < count; data++) {
      PieceStore::Piece p = ps.Get(data);
      ok = ps.Read(p, &bytes) &&
           Send(r.fd, "data " + std::to_string(data) + " " + std::to_string(p.size) + "\n") &&
           Send(r.fd, bytes);
      if (ok) r.sent += p.size;
    }
    if (!ok) break;
    if (finished && !ended) {
      if (!Send(r.fd, "end " + std::to_string(count) + "\n")) break;
      ended = true;
    }
  }
  shutdown(r.fd, SHUT_WR);
}

// Runs fanout_receive.sh on r's host with `their_fd` as its stdin; passes
// its "need K" on to the feeder.
void Receive(HostRunner& run, PieceStore& ps, Receiver& r, int their_fd, const std::string& cmd) {
  std::string partial;
  auto on_out = [&](std::string_view s) {
    partial.append(s);
    for (size_t nl; (nl = partial.find('\n')) != std::string::npos; partial.erase(0, nl + 1)) {
      if (partial.rfind("need ", 0) != 0) continue;
      size_t k = std::strtoull(partial.c_str() + 5, nullptr, 10);
      if (k < r.need) r.need = k;
      ps.Poke();
      if (!r.sources.empty())
        run.Log(r.host->host.ip + ": rootfs fanout: no source left, the pieces from " +
                std::to_string(k) + " on come from here");
    }
  };
  auto res = r.host->ssh->Run(cmd, "", their_fd, on_out);
  r.done = true;
  shutdown(r.fd, SHUT_RDWR);  // a feeder blocked in send() returns
  ps.Poke();
  if (!res.ok()) {
    r.status = HostRunner::Lost(*r.host, "rootfs transfer (fan-out)", res.status());
  } else if (res->exit_code != 0) {
    r.status = run.Fail(*r.host, "receiving the rootfs (fan-out)", *res);
  } else {
    for (const auto& line : OutputLines(res->err))
      if (line.rfind("fanout: ", 0) == 0) run.Log(r.host->host.ip + ": rootfs " + line);
  }
}

// How hosts reach r's host: user@address:port, and its known_hosts line.
std::string Address(const HostCtx& c) {
  return c.host.ssh.user.value_or("root") + "@" + c.host.ip + ":" +
         std::to_string(c.host.ssh.port.value_or(22));
}
std::string KnownHostsLine(const HostCtx& c) {
  int port = c.host.ssh.port.value_or(22);
  std::string name = port == 22 ? c.host.ip : "[" + c.host.ip + "]:" + std::to_string(port);
  return name + " " + c.ssh->host_key() + "\n";
}

// The transfer on the hosts set up, once the tree is made.
class Transfer {
 public:
  Transfer(HostRunner& run, std::vector<Receiver*> live, const std::string& dir)
      : run_(run), live_(std::move(live)), dir_(dir) {}

  void Run(const std::string& tmp_dir, const StreamProducer& produce, FanoutStats* stats) {
    PieceStore ps;
    Status s = ps.Open(tmp_dir);
    int p[2] = {-1, -1};
    if (s.ok() && pipe2(p, O_CLOEXEC) != 0) s = Status::IOError("fan-out: pipe");
    if (!s.ok()) {
      for (Receiver* r : live_) r->status = s;
      return;
    }
    std::thread splitter([&] {
      Status produced;
      std::thread producer([&] { produced = produce(p[1]); });
      Status filled = ps.Fill(p[0]);
      close(p[0]);
      producer.join();
      ps.Finish(filled.ok() ? produced : filled);
      if (!produced.ok() || !filled.ok()) failed_ = filled.ok() ? produced : filled;
    });
    std::vector<std::thread> threads;
    for (Receiver* r : live_) Start(ps, *r, &threads);
    for (auto& t : threads) t.join();
    splitter.join();
    for (Receiver* r : live_) {
      if (r->fd >= 0) close(r->fd);
      if (!failed_.ok() && r->status.ok()) r->status = failed_;
      stats->sent_bytes += r->sent;
    }
    stats->stream_bytes = ps.bytes();
  }

 private:
  void Start(PieceStore& ps, Receiver& r, std::vector<std::thread>* threads) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      r.status = Status::IOError("fan-out: socketpair");
      return;
    }
    r.fd = sv[0];
    if (r.sources.empty()) r.need = 0;
    std::vector<std::string> args = {run_.Rootfs(), dir_, r.host->zstd ? "zstd" : "gzip"};
    args.insert(args.end(), r.sources.begin(), r.sources.end());
    std::string cmd = HostCommand(host_scripts::kFanoutReceive, args);
    threads->emplace_back([&ps, &r] { Feed(ps, r); });
    threads->emplace_back([this, &ps, &r, fd = sv[1], cmd] {
      Receive(run_, ps, r, fd, cmd);
      close(fd);
    });
  }

  HostRunner& run_;
  std::vector<Receiver*> live_;
  const std::string dir_;
  Status failed_;  // set by the splitter thread, read after it is joined
};

// Sets up every host (fanout_setup.sh): its key pair, its spool (in memory
// when it has room for spool_bytes); a host that fails is left out with its
// status.
void Setup(HostRunner& run, const std::string& dir, uint64_t spool_bytes, std::vector<Receiver>* rs) {
  std::vector<HostCtx*> hosts;
  std::map<HostCtx*, Receiver*> of;
  for (auto& r : *rs) {
    hosts.push_back(r.host);
    of[r.host] = &r;
  }
  (void)run.ForEach(hosts, [&](HostCtx& c) {
    ExecResult out;
    Receiver& r = *of.at(&c);
    r.status = run.Run(c, "setting up the fan-out", HostCommand(host_scripts::kFanoutSetup, {dir, std::to_string(spool_bytes)}),
                       host_scripts::kFanoutServe, &out);
    r.ready = r.status.ok();
    auto lines = OutputLines(out.out);
    if (r.ready && !lines.empty() && lines.back() != "none") r.key = lines.back();
    if (r.ready && r.key.empty()) run.Log(c.host.ip + ": no ssh client: it takes the rootfs from here");
    return Status::Ok();
  });
}

// The tree over the hosts set up: logs it, admits each host's key on its
// ancestors, gives it their host keys and its sources.
void Plan(HostRunner& run, const std::string& dir, int fanout, std::vector<Receiver*>& live) {
  const std::string marker = "cimg-fanout:" + run.cluster().name;
  const auto parent = FanoutParents(live.size(), fanout);
  std::vector<std::string> keys(live.size()), children(live.size());
  for (size_t i = 0; i < live.size(); i++) {
    std::string ip = live[i]->host->host.ip;
    if (parent[i] < 0) run.Log("rootfs: fan-out " + std::to_string(fanout) + ": here -> " + ip);
    if (parent[i] >= 0) children[parent[i]] += (children[parent[i]].empty() ? "" : ", ") + ip;
    for (int a = parent[i]; a >= 0 && !live[i]->key.empty(); a = parent[a])
      keys[a] += live[i]->key + "\n";
  }
  std::vector<HostCtx*> relays;
  std::map<HostCtx*, size_t> index;
  for (size_t i = 0; i < live.size(); i++) {
    index[live[i]->host] = i;
    if (children[i].empty()) continue;
    run.Log("rootfs: fan-out " + live[i]->host->host.ip + " -> " + children[i]);
    relays.push_back(live[i]->host);
  }
  (void)run.ForEach(relays, [&](HostCtx& c) {
    size_t i = index.at(&c);
    Status s = run.Run(c, "admitting the fan-out keys",
                       HostCommand(host_scripts::kFanoutAuthorize, {dir, marker}), keys[i]);
    live[i]->relay_ok = s.ok();
    if (!s.ok()) run.Log(s.message() + " (the hosts below it fetch from others)");
    return Status::Ok();
  });
  std::vector<HostCtx*> fetchers;
  for (size_t i = 0; i < live.size(); i++)
    if (parent[i] >= 0 && !live[i]->key.empty()) fetchers.push_back(live[i]->host);
  (void)run.ForEach(fetchers, [&](HostCtx& c) {
    Receiver& r = *live[index.at(&c)];
    std::string known;
    std::vector<std::string> sources;
    for (int a = parent[index.at(&c)]; a >= 0; a = parent[a]) {
      if (!live[a]->relay_ok || live[a]->host->ssh->host_key().empty()) continue;
      sources.push_back(Address(*live[a]->host));
      known += KnownHostsLine(*live[a]->host);
    }
    if (run.Run(c, "writing the fan-out known_hosts",
                HostCommand(host_scripts::kWriteFile, {dir + "/known_hosts"}), known)
            .ok())
      r.sources = std::move(sources);
    return Status::Ok();
  });
}

}  // namespace

Status FanoutCleanup(HostRunner& run, HostCtx& c) {
  return run.Run(c, "removing the fan-out keys and spool",
                 HostCommand(host_scripts::kFanoutCleanup,
                             {run.dir() + "/fanout", "cimg-fanout:" + run.cluster().name}));
}

std::vector<Status> FanoutStream(HostRunner& run, const std::vector<HostCtx*>& hosts, int fanout,
                                 uint64_t max_bytes, const std::string& tmp_dir,
                                 const StreamProducer& produce, FanoutStats* stats) {
  const std::string dir = run.dir() + "/fanout";
  std::vector<Receiver> rs(hosts.size());
  for (size_t i = 0; i < hosts.size(); i++) rs[i].host = hosts[i];
  Setup(run, dir, max_bytes, &rs);
  std::vector<Receiver*> live;
  std::vector<HostCtx*> ready;
  for (auto& r : rs) {
    if (!r.ready) continue;
    live.push_back(&r);
    ready.push_back(r.host);
  }
  if (!live.empty()) {
    Plan(run, dir, fanout, live);
    Transfer(run, live, dir).Run(tmp_dir, produce, stats);
  }
  (void)run.ForEach(ready, [&](HostCtx& c) {
    Status s = FanoutCleanup(run, c);
    if (!s.ok()) run.Log(s.message());
    return Status::Ok();
  });
  std::vector<Status> out;
  for (auto& r : rs) out.push_back(r.status);
  return out;
}

}  // namespace cfs::deploy
