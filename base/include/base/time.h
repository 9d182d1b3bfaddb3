// Times as the image formats write them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cfs {

// An RFC 3339 time ("2023-11-14T22:13:20.5Z", "...+01:00") as seconds
// since the epoch and nanoseconds; false when malformed.
bool ParseRfc3339(std::string_view s, int64_t* sec, uint32_t* nsec);

// Seconds since the epoch in UTC, formatted by strftime(3) `fmt` (at most
// 63 characters of output).
std::string FormatUtc(int64_t sec, const char* fmt);

// Seconds since the epoch as RFC 3339 in UTC: "2023-11-14T22:13:20Z".
std::string Rfc3339Utc(int64_t sec);

}  // namespace cfs
