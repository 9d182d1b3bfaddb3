// The diagnostic log of the commands: lines on stderr, each with its level,
// shown from --log-level up (error, warn, info, debug; default warn, as
// podman). What a user asked for (tables, progress, results) is not logged:
// it is the commands' output. Secrets never reach a log line: callers pass
// what is safe to show (a URL without its query, a step's name, never a
// command line or a header).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace cfs {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn" (or "warning"), "info", "debug"; anything else is Invalid.
Result<LogLevel> ParseLogLevel(std::string_view s);
void SetLogLevel(LogLevel l);
LogLevel GetLogLevel();
inline bool LogEnabled(LogLevel l) { return static_cast<int>(l) <= static_cast<int>(GetLogLevel()); }

// Writes "LEVEL[SS.mmm] message" (seconds since the process started) when
// `l` is enabled; one write per line, so lines of threads do not mix.
void Log(LogLevel l, std::string_view message);
inline void LogDebug(std::string_view m) { if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug, m); }
inline void LogInfo(std::string_view m) { if (LogEnabled(LogLevel::kInfo)) Log(LogLevel::kInfo, m); }
inline void LogWarn(std::string_view m) { if (LogEnabled(LogLevel::kWarn)) Log(LogLevel::kWarn, m); }

// A URL as it may be logged: without its query and fragment (a redirect to
// storage carries signed credentials there) and without user:password@.
std::string LoggableUrl(std::string_view url);

// Where lines go (stderr by default); for tests. fd >= 0.
void SetLogFd(int fd);

}  // namespace cfs
