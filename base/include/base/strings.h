// Small string helpers used across the libraries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cfs {

// s without leading and trailing ASCII whitespace (" \t\r\n\f\v").
std::string_view TrimView(std::string_view s);
std::string Trim(std::string_view s);

// A byte count as people write one: "1048576", "700M", "4G", "4GiB", "1.5G"
// (K, M, G, T are powers of 1024, as split(1) and dd read them; an optional
// "B", "iB" follows). Invalid naming s otherwise, or when it overflows.
Result<uint64_t> ParseByteSize(std::string_view s);

}  // namespace cfs
