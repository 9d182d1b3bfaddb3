// SshSession: one authenticated SSH connection to a host (libssh2), running
// commands as root on it.
//
// Host keys are checked against an OpenSSH known_hosts file unless the caller
// opts out; key (OpenSSH or PEM, optionally passphrase-protected) and password
// authentication; commands run through `sudo` when the login user is not
// root (with the password on sudo's stdin when sudo asks for one); TCP and
// SSH keep-alives so a dead peer is noticed.
//
// Thread-safety: a session is used by one thread at a time; different
// sessions may run concurrently (libssh2 is initialised once per process).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cfs::deploy {

struct SshOptions {
  std::string host;       // IPv4/IPv6 address or name
  int port = 22;
  std::string user = "root";
  // Password authentication; also given to sudo for non-root users.
  std::string password;
  // Private key file for public-key authentication. Default: none given →
  // ~/.ssh/id_ed25519, id_ecdsa, id_rsa are tried when no password is set.
  std::string key_file;
  std::string key_passphrase;
  // known_hosts file the host key must be in. Default: ~/.ssh/known_hosts.
  std::string known_hosts;
  bool check_host_key = true;  // false: --insecure-host-keys
  int connect_timeout_ms = 10000;
  int keepalive_sec = 10;
};

// The outcome of a remote command.
struct ExecResult {
  int exit_code = -1;   // -1 if killed by a signal
  std::string signal;   // the signal's name when killed by one
  std::string out;      // stdout
  std::string err;      // stderr
  // The last lines of the output (stderr, else stdout) for an error message.
  std::string Tail(size_t max_lines = 15) const;
};

class SshSession {
 public:
  // Connects, checks the host key, authenticates and, for a non-root user,
  // checks that sudo works (with o.password when it asks for one).
  // Errors name user@host:port and the reason in one line.
  static Result<std::unique_ptr<SshSession>> Connect(const SshOptions& o);
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  // Runs `command` with /bin/sh as root on the host. `input` is written to
  // its stdin first, then everything readable from `input_fd` (if >= 0) until
  // EOF there; stdin is then closed. Returns the exit status and output (a
  // non-zero exit is not an error of Run). Fails only when the connection
  // breaks or `input_fd` fails. `on_out` (optional) sees stdout as it
  // arrives, on this thread, while the command runs (it is collected too).
  Result<ExecResult> Run(const std::string& command, const std::string& input = "",
                         int input_fd = -1,
                         const std::function<void(std::string_view)>& on_out = nullptr);

  // The host key this session checked, as known_hosts writes it:
  // "ssh-ed25519 AAAA..." (empty for a key type without an OpenSSH name).
  std::string host_key() const;

  // Bytes written to and read from the network so far (SSH framing included,
  // after SSH's own compression, if any).
  uint64_t bytes_sent() const;
  uint64_t bytes_received() const;

  // "user@host:port", for messages.
  const std::string& name() const;

 private:
  struct Impl;
  explicit SshSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Quotes s for a POSIX shell (single quotes).
std::string ShellQuote(const std::string& s);

}  // namespace cfs::deploy
