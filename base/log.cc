#include "base/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>

namespace cfs {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kWarn)};
std::atomic<int> g_fd{2};
const auto g_start = std::chrono::steady_clock::now();

const char* Name(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "ERRO";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kDebug: return "DEBU";
  }
  return "?";
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view s) {
  if (s == "error") return LogLevel::kError;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "info") return LogLevel::kInfo;
  if (s == "debug") return LogLevel::kDebug;
  return Status::Invalid("log level \"" + std::string(s) + "\": want error, warn, info or debug");
}

void SetLogLevel(LogLevel l) { g_level = static_cast<int>(l); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }
void SetLogFd(int fd) { g_fd = fd; }

void Log(LogLevel l, std::string_view message) {
  if (!LogEnabled(l)) return;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
  char head[48];
  std::snprintf(head, sizeof head, "%s[%07.3f] ", Name(l), secs);
  std::string line = head;
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;  // one line, always
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(g_fd.load(), p, left);
    if (n <= 0) return;  // a log line lost is not an error of the command
    p += n;
    left -= static_cast<size_t>(n);
  }
}

std::string LoggableUrl(std::string_view url) {
  std::string u(url.substr(0, url.find_first_of("?#")));
  const size_t scheme = u.find("://");
  const size_t host = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t slash = u.find('/', host);
  const size_t at = u.rfind('@', slash == std::string::npos ? u.size() : slash);
  if (at != std::string::npos && at >= host) u.erase(host, at + 1 - host);
  return u;
}

}  // namespace cfs
