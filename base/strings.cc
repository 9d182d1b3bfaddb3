#include "base/strings.h"

#include <cctype>

namespace cfs {

std::string_view TrimView(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Trim(std::string_view s) { return std::string(TrimView(s)); }


Result<uint64_t> ParseByteSize(std::string_view s) {
  const std::string what = "size \"" + std::string(s) + "\"";
  size_t i = 0;
  uint64_t whole = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    if (whole > (UINT64_MAX - 9) / 10) return Status::Invalid(what + ": too large");
    whole = whole * 10 + static_cast<uint64_t>(s[i++] - '0');
  }
  if (i == 0) return Status::Invalid(what + ": want a number with an optional K, M, G or T");
  double frac = 0, scale = 0.1;
  if (i < s.size() && s[i] == '.') {
    for (i++; i < s.size() && s[i] >= '0' && s[i] <= '9'; i++, scale /= 10) frac += (s[i] - '0') * scale;
  }
  std::string_view unit = s.substr(i);
  int shift = 0;
  if (!unit.empty()) {
    const std::string_view units = "KMGT";
    size_t u = units.find(static_cast<char>(std::toupper(static_cast<unsigned char>(unit[0]))));
    if (u == std::string_view::npos && unit != "B")
      return Status::Invalid(what + ": unknown unit \"" + std::string(unit) + "\" (K, M, G, T)");
    if (u != std::string_view::npos) {
      shift = 10 * static_cast<int>(u + 1);
      unit.remove_prefix(1);
    }
    if (unit == "iB" || unit == "B" || unit == "ib" || unit == "b") unit = {};
    if (!unit.empty()) return Status::Invalid(what + ": unknown unit (K, M, G, T)");
  }
  if (shift > 0 && whole > (UINT64_MAX >> shift)) return Status::Invalid(what + ": too large");
  return (whole << shift) + static_cast<uint64_t>(frac * static_cast<double>(uint64_t{1} << shift));
}

}  // namespace cfs
