#include "registry/credential_helper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "base/strings.h"

extern char** environ;

namespace cfs::registry {

namespace {

using Clock = std::chrono::steady_clock;

// The helper's stdout until it closes it, at most 64 KiB; false when the
// deadline passed first.
bool ReadUntil(int fd, Clock::time_point deadline, std::string* out) {
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    if (out->size() < (64u << 10)) out->append(buf, static_cast<size_t>(n));
  }
}

std::string FirstLine(const std::string& s) {
  std::string l = Trim(s.substr(0, s.find('\n')));
  return l.size() > 200 ? l.substr(0, 200) + "..." : l;
}

// What the helper printed when it exited 0.
Result<std::optional<Credentials>> ParseAnswer(const std::string& name, const std::string& out) {
  nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  if (!j.is_object() || !j.contains("Secret") || !j["Secret"].is_string())
    return Status::Invalid(name + " get: its answer is not JSON with a Secret");  // never echoed
  Credentials c;
  std::string user = j.value("Username", "");
  std::string secret = j["Secret"].get<std::string>();
  if (user == "<token>") {
    c.identity_token = secret;
  } else {
    c.username = user;
    c.password = secret;
  }
  if (c.empty()) return std::optional<Credentials>();
  return std::optional<Credentials>(c);
}

}  // namespace

Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper,
                                                       const std::string& server_url,
                                                       const CredentialHelperOptions& o) {
  const std::string name = "docker-credential-" + helper;
  if (helper.empty() || helper.find('/') != std::string::npos)
    return Status::Invalid("credential helper \"" + helper + "\": not a helper name");
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return Status::IOError("pipe: " + std::string(std::strerror(errno)));
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return Status::IOError("pipe: " + std::string(std::strerror(errno)));
  UniqueFd out_r(out[0]), out_w(out[1]);
  // The input goes into the pipe before the helper starts: a helper that
  // exits without reading it cannot make this write fail (nor raise SIGPIPE).
  const std::string input = server_url + "\n";
  RETURN_IF_ERROR(WriteAll(in_w.get(), input.data(), input.size()));
  in_w.Reset();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::string get = "get";
  char* argv[] = {const_cast<char*>(name.c_str()), get.data(), nullptr};
  pid_t pid = -1;
  int err = ::posix_spawnp(&pid, name.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err == ENOENT) return Status::NotFound("credential helper " + name + " is not on $PATH");
  if (err != 0) return Status::IOError("running " + name + ": " + std::strerror(err));
  in_r.Reset();
  out_w.Reset();
  std::string output;
  const bool answered = ReadUntil(out_r.get(), Clock::now() + o.timeout, &output);
  if (!answered) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!answered)
    return Status::Unavailable(name + " get: no answer within " +
                               std::to_string(o.timeout.count() / 1000.0).substr(0, 4) + " s (killed)");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ParseAnswer(name, output);
  // As docker: a helper without credentials for the server says so.
  if (output.find("credentials not found") != std::string::npos) return std::optional<Credentials>();
  std::string why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  std::string line = FirstLine(output);
  return Status::Invalid(name + " get " + server_url + ": " + why + (line.empty() ? "" : ": " + line));
}

}  // namespace cfs::registry
