// Small string helpers used across the libraries.
#pragma once

#include <string>
#include <string_view>

namespace cfs {

// s without leading and trailing ASCII whitespace (" \t\r\n\f\v").
std::string_view TrimView(std::string_view s);
std::string Trim(std::string_view s);

}  // namespace cfs
