#include "base/mountinfo.h"

#include "base/io.h"

namespace cfs {

namespace {

// "\NNN" (octal) → the byte; everything else as is.
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    auto octal = [&](size_t j) { return j < s.size() && s[j] >= '0' && s[j] <= '7'; };
    if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::vector<MountInfo> ParseMountInfo(std::string_view text) {
  std::vector<MountInfo> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    std::string_view f[5];
    size_t n = 0;
    while (n < 5 && !line.empty()) {
      size_t sp = line.find(' ');
      f[n++] = line.substr(0, sp);
      line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    }
    if (n < 5) continue;
    out.push_back(MountInfo{std::string(f[2]), Unescape(f[3]), Unescape(f[4])});
  }
  return out;
}

Result<std::vector<MountInfo>> ReadMountInfo() {
  ASSIGN_OR_RETURN(std::string text, ReadFile("/proc/self/mountinfo", 64 << 20));
  return ParseMountInfo(text);
}

}  // namespace cfs
