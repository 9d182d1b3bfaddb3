#include "tar_header.h"

#include <cstring>
#include <limits>

namespace cfs {

std::string_view TarString(const char* blk, TarField f) {
  const char* p = blk + f.off;
  const void* nul = std::memchr(p, 0, f.len);
  return {p, nul ? static_cast<size_t>(static_cast<const char*>(nul) - p) : f.len};
}

namespace {

std::optional<int64_t> ParseBase256(const unsigned char* f, size_t len) {
  const unsigned char inv = (f[0] & 0x40) ? 0xff : 0x00;
  uint64_t x = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = f[i] ^ inv;
    if (i == 0) c &= 0x7f;
    if (x >> 56) return std::nullopt;
    x = (x << 8) | c;
  }
  if (x >> 63) return std::nullopt;
  return inv ? ~static_cast<int64_t>(x) : static_cast<int64_t>(x);
}

// The octal digits of f[begin, end), all of which must be digits.
std::optional<int64_t> ParseOctalDigits(const unsigned char* f, size_t begin, size_t end) {
  uint64_t v = 0;
  for (size_t i = begin; i < end; i++) {
    if (f[i] < '0' || f[i] > '7' || (v >> 60)) return std::nullopt;
    v = v * 8 + (f[i] - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(v);
}

}  // namespace

std::optional<int64_t> ParseTarNumber(const char* blk, TarField fld, TarOctal syntax) {
  const auto* f = reinterpret_cast<const unsigned char*>(blk + fld.off);
  const size_t len = fld.len;
  if (f[0] & 0x80) return ParseBase256(f, len);
  if (syntax == TarOctal::kGo) {
    auto pad = [](unsigned char c) { return c == ' ' || c == '\0'; };
    size_t b = 0, e = len;
    while (b < e && pad(f[b])) b++;
    while (e > b && pad(f[e - 1])) e--;
    return ParseOctalDigits(f, b, e);
  }
  size_t b = 0;
  while (b < len && f[b] == ' ') b++;
  size_t e = b;
  while (e < len && f[e] >= '0' && f[e] <= '7') e++;
  if (e < len && f[e] != ' ' && f[e] != '\0') return std::nullopt;
  return ParseOctalDigits(f, b, e);
}

bool TarChecksumOk(const char* blk) {
  auto stored = ParseTarNumber(blk, tar::kChksum, TarOctal::kGnu);
  if (!stored) return false;
  int64_t usum = 0, ssum = 0;
  for (size_t i = 0; i < kTarBlock; i++) {
    bool in_field = i >= tar::kChksum.off && i < tar::kChksum.off + tar::kChksum.len;
    char c = in_field ? ' ' : blk[i];
    usum += static_cast<unsigned char>(c);
    ssum += static_cast<signed char>(c);
  }
  return *stored == usum || *stored == ssum;
}

std::optional<uint64_t> ParseTarDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

bool ParsePaxTime(std::string_view s, int64_t* sec, uint32_t* nsec) {
  bool neg = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  auto w = ParseTarDecimal(s.substr(0, dot));
  if (!w || *w > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  uint32_t ns = 0;
  for (size_t i = 0; i < frac.size(); i++) {
    if (frac[i] < '0' || frac[i] > '9') return false;
    if (i < 9) ns = ns * 10 + static_cast<uint32_t>(frac[i] - '0');
  }
  for (size_t i = frac.size(); i < 9; i++) ns *= 10;
  int64_t v = static_cast<int64_t>(*w);
  if (neg && ns > 0) {
    *sec = -v - 1;
    *nsec = 1'000'000'000 - ns;
  } else {
    *sec = neg ? -v : v;
    *nsec = ns;
  }
  return true;
}

bool ParsePaxRecords(std::string_view data, PaxRecords* out) {
  while (!data.empty()) {
    if (AllZero(data.data(), data.size())) break;
    size_t sp = data.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 20) return false;
    auto len = ParseTarDecimal(data.substr(0, sp));
    if (!len || *len > data.size() || *len < sp + 4) return false;
    std::string_view rec = data.substr(0, *len);
    if (rec.back() != '\n') return false;
    std::string_view kv = rec.substr(sp + 1, rec.size() - sp - 2);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    out->emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    data.remove_prefix(*len);
  }
  return true;
}

bool AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0) return false;
  return true;
}

}  // namespace cfs
