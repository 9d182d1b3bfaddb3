#include "deploy/ssh_session.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "deploy/ssh_keys.h"
#include "base/coding.h"
#include "base/io.h"

namespace cfs::deploy {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

std::string ExecResult::Tail(size_t max_lines) const {
  const std::string& src = err.find_first_not_of(" \n\t") != std::string::npos ? err : out;
  size_t end = src.find_last_not_of(" \n\t");
  if (end == std::string::npos) return "";
  size_t pos = end + 1, lines = 0;
  while (pos > 0 && lines < max_lines) {
    size_t nl = src.rfind('\n', pos - 1);
    lines++;
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    pos = nl;
  }
  std::string t = src.substr(pos == 0 ? 0 : pos + 1, end + 1 - (pos == 0 ? 0 : pos + 1));
  return t;
}

namespace {

std::once_flag g_init;

std::string HomeFile(const std::string& rel) {
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/" + rel;
}

// A TCP connection with a deadline; keep-alive probes find a vanished peer.
Result<int> ConnectTcp(const std::string& host, int port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (rc != 0) return Status::Unavailable(std::string("cannot resolve: ") + gai_strerror(rc));
  std::string last = "no address";
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      r = poll(&p, 1, timeout_ms);
      if (r == 0) {
        last = "connection timed out";
        close(fd);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = std::strerror(err);
        close(fd);
        continue;
      }
      r = 0;
    }
    if (r != 0) {
      last = std::strerror(errno);
      close(fd);
      continue;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1, idle = 15, intvl = 5, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // Unacknowledged data for this long (a peer gone while we send) fails
    // the connection instead of retransmitting for many minutes.
    unsigned user_timeout_ms = 60000;
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
    freeaddrinfo(res);
    return fd;
  }
  freeaddrinfo(res);
  return Status::Unavailable(last);
}

// Bytes on the wire, counted by the I/O callbacks below.
struct WireCounters {
  std::atomic<uint64_t> sent{0}, received{0};
};

LIBSSH2_SEND_FUNC(CountingSend) {
  auto* w = static_cast<WireCounters*>(*abstract);
  ssize_t n = send(socket, buffer, length, flags | MSG_NOSIGNAL);
  if (n < 0) return -errno;
  w->sent += n;
  return n;
}
LIBSSH2_RECV_FUNC(CountingRecv) {
  auto* w = static_cast<WireCounters*>(*abstract);
  ssize_t n = recv(socket, buffer, length, flags);
  if (n < 0) return -errno;
  w->received += n;
  return n;
}

// The host key algorithms to ask for, in OpenSSH's order, limited to the key
// types `file` holds for the host ("" when it holds none: libssh2's default).
// Without this, a server offering a type the file lacks would look unknown.
std::string HostKeyPreference(const std::string& file, const std::string& host, int port) {
  auto text = ReadFile(file, 64 << 20);
  if (!text.ok()) return "";
  const std::string name = port == 22 ? host : "[" + host + "]:" + std::to_string(port);
  std::set<std::string> types;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    std::string line = text->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text->size() : nl + 1;
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    for (size_t a = 0; a < line.size() && f.size() < 3;) {
      size_t b = line.find_first_of(" \t", a);
      if (b != a) f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    if (f.size() >= 2 && f[0][0] == '@') f.erase(f.begin());  // @cert-authority / @revoked
    if (f.size() >= 2 && HostFieldMatches(f[0], name)) types.insert(f[1]);
  }
  std::string pref;
  auto add = [&](const char* t) { pref += (pref.empty() ? "" : ",") + std::string(t); };
  if (types.count("ssh-ed25519")) add("ssh-ed25519");
  for (const char* t : {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"})
    if (types.count(t)) add(t);
  // libssh2 1.10 verifies RSA host keys with SHA-1 only ("ssh-rsa"), which
  // OpenSSH >= 8.8 servers no longer offer.
  if (types.count("ssh-rsa")) add("ssh-rsa");
  return pref;
}

}  // namespace

struct SshSession::Impl {
  SshOptions opt;
  std::string name;
  int fd = -1;
  LIBSSH2_SESSION* s = nullptr;
  bool sudo = false;           // commands go through sudo
  bool sudo_password = false;  // sudo asks for the password
  WireCounters wire;

  ~Impl() {
    if (s) {
      libssh2_session_set_blocking(s, 1);
      libssh2_session_set_timeout(s, 2000);
      libssh2_session_disconnect(s, "bye");
      libssh2_session_free(s);
    }
    if (fd >= 0) close(fd);
  }

  std::string LastError() const {
    char* msg = nullptr;
    int len = 0;
    libssh2_session_last_error(s, &msg, &len, 0);
    return msg && len > 0 ? std::string(msg, len) : "unknown libssh2 error";
  }
  Status Fail(const std::string& what) const {
    return Status::Unavailable(name + ": " + what + ": " + LastError());
  }

  // Waits until the socket is ready in the direction libssh2 is blocked on.
  void Wait(int timeout_ms, int extra_fd = -1) {
    pollfd p[2] = {{fd, 0, 0}, {extra_fd, POLLIN, 0}};
    int dir = libssh2_session_block_directions(s);
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND) p[0].events |= POLLIN;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) p[0].events |= POLLOUT;
    if (p[0].events == 0) p[0].events = POLLIN;
    poll(p, extra_fd >= 0 ? 2 : 1, timeout_ms);
  }

  Status CheckHostKey();
  Status Authenticate();
  // Closes ch (output read to EOF) and fills in the exit status or signal.
  Result<ExecResult> Finish(LIBSSH2_CHANNEL* ch, ExecResult res);
};

Result<ExecResult> SshSession::Impl::Finish(LIBSSH2_CHANNEL* ch, ExecResult res) {
  while (libssh2_channel_close(ch) == LIBSSH2_ERROR_EAGAIN) Wait(1000);
  while (libssh2_channel_wait_closed(ch) == LIBSSH2_ERROR_EAGAIN) Wait(1000);
  res.exit_code = libssh2_channel_get_exit_status(ch);
  char* sig = nullptr;
  size_t sig_len = 0;
  libssh2_channel_get_exit_signal(ch, &sig, &sig_len, nullptr, nullptr, nullptr, nullptr);
  if (sig && sig_len) {
    res.signal.assign(sig, sig_len);
    res.exit_code = -1;
    libssh2_free(s, sig);
  }
  return res;
}

Status SshSession::Impl::CheckHostKey() {
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(s, &len, &type);
  if (!key) return Fail("no host key");
  if (!opt.check_host_key) return Status::Ok();
  std::string file = opt.known_hosts.empty() ? HomeFile(".ssh/known_hosts") : opt.known_hosts;
  LIBSSH2_KNOWNHOSTS* kh = libssh2_knownhost_init(s);
  if (!kh) return Fail("known_hosts");
  struct Free {
    LIBSSH2_KNOWNHOSTS* k;
    ~Free() { libssh2_knownhost_free(k); }
  } free_kh{kh};
  if (!PathExists(file))
    return Status::Denied(name + ": cannot check the host key: " + file +
                          " does not exist (add the host with `ssh-keyscan -p " +
                          std::to_string(opt.port) + " " + opt.host + " >> " + file +
                          "`, or pass --insecure-host-keys)");
  if (libssh2_knownhost_readfile(kh, file.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0)
    return Status::Invalid(name + ": cannot read known hosts file " + file + ": " + LastError());
  // Markers, which libssh2 does not know (ssh_keys.h).
  auto text = ReadFile(file, 64 << 20);
  if (!text.ok()) return text.status().Prefix(name + ": known hosts file");
  const std::string host_name =
      opt.port == 22 ? opt.host : "[" + opt.host + "]:" + std::to_string(opt.port);
  if (int line = RevokedLine(*text, host_name, std::string(key, len)))
    return Status::Denied(name + ": the host key is marked @revoked in " + file + ":" +
                          std::to_string(line) + "; refusing to connect");
  libssh2_knownhost* found = nullptr;
  int r = libssh2_knownhost_checkp(kh, opt.host.c_str(), opt.port, key, len,
                                   LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW,
                                   &found);
  if (r == LIBSSH2_KNOWNHOST_CHECK_MATCH) return Status::Ok();
  if (r == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
    return Status::Denied(name + ": HOST KEY MISMATCH: the key the host offers is not the one " +
                          file + " holds for it (a reinstalled host, or someone in between); "
                          "refusing to connect");
  std::string ca;
  if (int line = CertAuthorityLine(*text, host_name))
    ca = "; " + file + ":" + std::to_string(line) +
         " is a @cert-authority line, ignored: host certificates are not supported";
  return Status::Denied(name + ": host key not found in " + file +
                        " (add it with `ssh-keyscan -p " + std::to_string(opt.port) + " " +
                        opt.host + " >> " + file + "`, or pass --insecure-host-keys)" + ca);
}

namespace {

constexpr char kRsaWhy[] =
    "RSA keys need rsa-sha2 signatures, which libssh2 1.10 lacks (current OpenSSH servers "
    "refuse ssh-rsa); use an ed25519 or ecdsa key";

// Refuses a key file libssh2 cannot use, before connecting.
Status CheckKeyFile(const SshOptions& o, const std::string& name) {
  if (o.key_file.empty()) return Status::Ok();
  if (!PathExists(o.key_file))
    return Status::NotFound(name + ": private key " + o.key_file + " does not exist");
  auto key = ReadFile(o.key_file, 1 << 20);
  if (!key.ok()) return key.status().Prefix(name + ": private key");
  auto pub = ReadFile(o.key_file + ".pub", 1 << 20);
  if (PrivateKeyType(*key, pub.ok() ? *pub : "") == "ssh-rsa")
    return Status::Invalid(name + ": key " + o.key_file + " is an RSA key; " + kRsaWhy);
  return Status::Ok();
}

}  // namespace

Status SshSession::Impl::Authenticate() {
  const std::string& u = opt.user;
  char* methods_c = libssh2_userauth_list(s, u.c_str(), u.size());
  if (libssh2_userauth_authenticated(s)) return Status::Ok();
  std::string methods = methods_c ? methods_c : "";
  if (!methods_c && libssh2_session_last_errno(s) != LIBSSH2_ERROR_EAGAIN &&
      libssh2_session_last_errno(s) != 0)
    return Fail("authentication");
  std::vector<std::string> tried;
  std::vector<std::string> keys;
  if (!opt.key_file.empty()) {
    if (!PathExists(opt.key_file))
      return Status::NotFound(name + ": private key " + opt.key_file + " does not exist");
    keys.push_back(opt.key_file);
  } else if (opt.password.empty()) {
    for (const char* k : {".ssh/id_ed25519", ".ssh/id_ecdsa"})
      if (PathExists(HomeFile(k))) keys.push_back(HomeFile(k));
    if (keys.empty() && PathExists(HomeFile(".ssh/id_rsa")))
      tried.push_back("key " + HomeFile(".ssh/id_rsa") + " (skipped: " + kRsaWhy + ")");
  }
  if (methods.find("publickey") != std::string::npos) {
    for (const auto& k : keys) {
      int r = libssh2_userauth_publickey_fromfile_ex(
          s, u.c_str(), u.size(), nullptr, k.c_str(),
          opt.key_passphrase.empty() ? nullptr : opt.key_passphrase.c_str());
      if (r == 0) return Status::Ok();
      tried.push_back("key " + k + " (" + LastError() + ")");
    }
  }
  if (!opt.password.empty() && methods.find("password") != std::string::npos) {
    int r = libssh2_userauth_password_ex(s, u.c_str(), u.size(), opt.password.c_str(),
                                         opt.password.size(), nullptr);
    if (r == 0) return Status::Ok();
    tried.push_back("password (rejected)");
  }
  std::string why;
  for (const auto& t : tried) why += (why.empty() ? "" : ", ") + t;
  if (why.empty())
    why = keys.empty() && opt.password.empty() ? "no key or password given"
                                               : "the server offers only: " + methods;
  return Status::Denied(name + ": authentication failed: " + why);
}

SshSession::SshSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SshSession::~SshSession() = default;
const std::string& SshSession::name() const { return impl_->name; }
uint64_t SshSession::bytes_sent() const { return impl_->wire.sent; }
uint64_t SshSession::bytes_received() const { return impl_->wire.received; }

Result<std::unique_ptr<SshSession>> SshSession::Connect(const SshOptions& o) {
  std::call_once(g_init, [] { libssh2_init(0); });
  auto impl = std::make_unique<Impl>();
  impl->opt = o;
  impl->name = o.user + "@" + (o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host) +
               ":" + std::to_string(o.port);
  RETURN_IF_ERROR(CheckKeyFile(o, impl->name));
  auto fd = ConnectTcp(o.host, o.port, o.connect_timeout_ms);
  if (!fd.ok()) return Status::Unavailable(impl->name + ": cannot connect: " + fd.status().message());
  impl->fd = *fd;
  impl->s = libssh2_session_init_ex(nullptr, nullptr, nullptr, &impl->wire);
  if (!impl->s) return Status::Unavailable(impl->name + ": cannot create an SSH session");
  libssh2_session_callback_set(impl->s, LIBSSH2_CALLBACK_SEND, reinterpret_cast<void*>(&CountingSend));
  libssh2_session_callback_set(impl->s, LIBSSH2_CALLBACK_RECV, reinterpret_cast<void*>(&CountingRecv));
  libssh2_session_set_blocking(impl->s, 1);
  libssh2_session_set_timeout(impl->s, o.connect_timeout_ms);
  std::string pref;
  if (o.check_host_key) {
    pref = HostKeyPreference(o.known_hosts.empty() ? HomeFile(".ssh/known_hosts") : o.known_hosts,
                             o.host, o.port);
    if (!pref.empty()) libssh2_session_method_pref(impl->s, LIBSSH2_METHOD_HOSTKEY, pref.c_str());
  }
  if (libssh2_session_handshake(impl->s, impl->fd) != 0) {
    if (pref == "ssh-rsa")
      return Status::Denied(impl->name + ": the known hosts file holds only an RSA key for this "
                            "host, which libssh2 can check only with SHA-1 (ssh-rsa) and the server "
                            "refuses; add its ed25519 or ecdsa key (ssh-keyscan -t ed25519,ecdsa -p " +
                            std::to_string(o.port) + " " + o.host + ")");
    return impl->Fail("SSH handshake");
  }
  RETURN_IF_ERROR(impl->CheckHostKey());
  RETURN_IF_ERROR(impl->Authenticate());
  libssh2_keepalive_config(impl->s, 1, o.keepalive_sec);
  libssh2_session_set_timeout(impl->s, 0);
  std::unique_ptr<SshSession> session(new SshSession(std::move(impl)));
  Impl& im = *session->impl_;
  if (o.user != "root") {
    // Non-root: every command goes through sudo. Find out whether sudo
    // needs the password, and check that it works, before anything runs.
    ASSIGN_OR_RETURN(ExecResult id, session->Run("id -u"));
    if (id.exit_code == 0 && id.out.find_first_not_of("0\n") == std::string::npos) {
      // uid 0 under another name
    } else {
      ASSIGN_OR_RETURN(ExecResult nopw, session->Run("sudo -n true"));
      if (nopw.exit_code == 0) {
        im.sudo = true;
      } else if (!o.password.empty()) {
        ASSIGN_OR_RETURN(ExecResult pw, session->Run("sudo -S -p '' true", o.password + "\n"));
        if (pw.exit_code != 0)
          return Status::Denied(im.name + ": sudo refused the password (" + pw.Tail(2) + ")");
        im.sudo = im.sudo_password = true;
      } else {
        return Status::Denied(im.name + ": " + o.user +
                              " needs a password for sudo; give it with -p/passwd");
      }
    }
  }
  return session;
}

namespace {

// One remote command's channel while it runs: stdin fed from `pending`
// then from input_fd, stdout and stderr collected, without blocking (the
// session is non-blocking meanwhile).
class ChannelPump {
 public:
  using OnOut = std::function<void(std::string_view)>;
  ChannelPump(LIBSSH2_CHANNEL* ch, std::string pending, int input_fd, const OnOut& on_out)
      : ch_(ch), pending_(std::move(pending)), input_fd_(input_fd), input_done_(input_fd < 0),
        buf_(256 * 1024), on_out_(on_out) {
    if (input_fd >= 0) fcntl(input_fd, F_SETFL, fcntl(input_fd, F_GETFL) | O_NONBLOCK);
  }

  enum class Error { kNone, kInput, kSend, kReceive };

  // Moves what can move now; *progress tells whether anything did.
  Error Step(bool* progress) {
    *progress = false;
    if (!ReadInput(progress)) return Error::kInput;
    if (!WriteInput(progress)) return Error::kSend;
    if (input_done_ && pending_off_ == pending_.size() && !eof_sent_) {
      int e = libssh2_channel_send_eof(ch_);
      if (e == 0 || e != LIBSSH2_ERROR_EAGAIN) eof_sent_ = true;
    }
    if (!ReadOutput(progress)) return Error::kReceive;
    return Error::kNone;
  }

  // The command ended its output: takes what arrived with the EOF.
  bool AtEof() {
    if (!libssh2_channel_eof(ch_)) return false;
    for (int stream : {0, 1}) {
      ssize_t n;
      while ((n = libssh2_channel_read_ex(ch_, stream, buf_.data(), buf_.size())) > 0)
        Append(stream, n);
    }
    return true;
  }

  // The fd to wait on besides the socket (-1: none).
  int WantInputFd() const {
    return !input_done_ && pending_off_ == pending_.size() ? input_fd_ : -1;
  }

  ExecResult& result() { return res_; }

 private:
  std::string& Out(int stream) { return stream == 0 ? res_.out : res_.err; }
  void Append(int stream, ssize_t n) {
    Out(stream).append(buf_.data(), n);
    if (stream == 0 && on_out_) on_out_(std::string_view(buf_.data(), n));
  }

  bool ReadInput(bool* progress) {
    if (pending_off_ != pending_.size() || input_done_) return true;
    pending_.clear();
    pending_off_ = 0;
    ssize_t n = read(input_fd_, buf_.data(), buf_.size());
    if (n > 0) {
      pending_.assign(buf_.data(), n);
      *progress = true;
    } else if (n == 0) {
      input_done_ = true;
    } else if (errno != EAGAIN && errno != EINTR) {
      return false;
    }
    return true;
  }

  bool WriteInput(bool* progress) {
    while (pending_off_ < pending_.size()) {
      ssize_t n = libssh2_channel_write(ch_, pending_.data() + pending_off_,
                                        pending_.size() - pending_off_);
      if (n == LIBSSH2_ERROR_EAGAIN) break;
      if (n < 0) {
        // The command closed its stdin early (it failed, most likely): stop
        // sending and collect its output and status.
        if (n == LIBSSH2_ERROR_CHANNEL_EOF_SENT || n == LIBSSH2_ERROR_CHANNEL_CLOSED ||
            libssh2_channel_eof(ch_)) {
          pending_off_ = pending_.size();
          input_done_ = true;
          break;
        }
        return false;
      }
      pending_off_ += n;
      *progress = true;
    }
    return true;
  }

  bool ReadOutput(bool* progress) {
    for (int stream : {0, 1}) {
      for (;;) {
        ssize_t n = libssh2_channel_read_ex(ch_, stream, buf_.data(), buf_.size());
        if (n > 0) {
          Append(stream, n);
          *progress = true;
          continue;
        }
        if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) return false;
        break;
      }
    }
    return true;
  }

  LIBSSH2_CHANNEL* ch_;
  std::string pending_;
  size_t pending_off_ = 0;
  int input_fd_;
  bool input_done_, eof_sent_ = false;
  std::vector<char> buf_;
  const OnOut& on_out_;
  ExecResult res_;
};

}  // namespace

Result<ExecResult> SshSession::Run(const std::string& command, const std::string& input,
                                   int input_fd,
                                   const std::function<void(std::string_view)>& on_out) {
  Impl& im = *impl_;
  std::string cmd = command, pending = input;
  if (im.sudo) {
    cmd = std::string(im.sudo_password ? "sudo -S -p '' " : "sudo -n ") + "sh -c " +
          ShellQuote(command);
    if (im.sudo_password) pending = im.opt.password + "\n" + pending;
  }
  libssh2_session_set_blocking(im.s, 0);
  struct Restore {
    LIBSSH2_SESSION* s;
    ~Restore() { libssh2_session_set_blocking(s, 1); }
  } restore{im.s};
  LIBSSH2_CHANNEL* ch = nullptr;
  while (!(ch = libssh2_channel_open_session(im.s))) {
    if (libssh2_session_last_errno(im.s) != LIBSSH2_ERROR_EAGAIN) return im.Fail("open channel");
    im.Wait(1000);
  }
  struct FreeChannel {
    LIBSSH2_CHANNEL* c;
    ~FreeChannel() { libssh2_channel_free(c); }
  } free_ch{ch};
  int r;
  while ((r = libssh2_channel_exec(ch, cmd.c_str())) == LIBSSH2_ERROR_EAGAIN) im.Wait(1000);
  if (r != 0) return im.Fail("exec");
  ChannelPump pump(ch, std::move(pending), input_fd, on_out);
  while (true) {
    bool progress;
    switch (pump.Step(&progress)) {
      case ChannelPump::Error::kNone: break;
      case ChannelPump::Error::kInput: return Status::IOError(im.name + ": reading the data to send");
      case ChannelPump::Error::kSend: return im.Fail("sending");
      case ChannelPump::Error::kReceive: return im.Fail("receiving");
    }
    if (pump.AtEof()) break;
    if (!progress) {
      int next = 0;
      libssh2_keepalive_send(im.s, &next);
      im.Wait(1000, pump.WantInputFd());
    }
  }
  return im.Finish(ch, std::move(pump.result()));
}

std::string SshSession::host_key() const {
  size_t len = 0;
  int type = 0;
  const char* key = libssh2_session_hostkey(impl_->s, &len, &type);
  const char* name = nullptr;
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: name = "ssh-rsa"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: name = "ecdsa-sha2-nistp256"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: name = "ecdsa-sha2-nistp384"; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: name = "ecdsa-sha2-nistp521"; break;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: name = "ssh-ed25519"; break;
    default: break;
  }
  if (!key || !name) return "";
  return std::string(name) + " " + Base64Encode(std::string_view(key, len));
}

}  // namespace cfs::deploy
