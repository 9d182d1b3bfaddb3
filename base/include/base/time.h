// Times as the image formats write them.
#pragma once

#include <cstdint>
#include <string_view>

namespace cfs {

// An RFC 3339 time ("2023-11-14T22:13:20.5Z", "...+01:00") as seconds
// since the epoch and nanoseconds; false when malformed.
bool ParseRfc3339(std::string_view s, int64_t* sec, uint32_t* nsec);

}  // namespace cfs
