#include "base/time.h"

#include <ctime>

namespace cfs {

namespace {

// n decimal digits of s at pos, or -1.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

bool ParseRfc3339(std::string_view s, int64_t* sec, uint32_t* nsec) {
  const int y = Digits(s, 0, 4), mo = Digits(s, 5, 2), d = Digits(s, 8, 2);
  const int h = Digits(s, 11, 2), mi = Digits(s, 14, 2), se = Digits(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      se < 0 || se > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return false;
  size_t p = 19;
  uint32_t ns = 0;
  if (p < s.size() && s[p] == '.') {
    size_t digits = 0;
    for (p++; p < s.size() && s[p] >= '0' && s[p] <= '9'; p++, digits++)
      if (digits < 9) ns = ns * 10 + static_cast<uint32_t>(s[p] - '0');
    if (digits == 0) return false;
    for (; digits < 9; digits++) ns *= 10;
  }
  int64_t offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    p++;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int oh = Digits(s, p + 1, 2), om = Digits(s, p + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59 || s[p + 3] != ':') return false;
    offset = (s[p] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    p += 6;
  } else {
    return false;
  }
  if (p != s.size()) return false;
  *sec = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  *nsec = ns;
  return true;
}

std::string FormatUtc(int64_t sec, const char* fmt) {
  std::time_t t = static_cast<std::time_t>(sec);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, fmt, &tm);
  return std::string(buf, n);
}

std::string Rfc3339Utc(int64_t sec) { return FormatUtc(sec, "%Y-%m-%dT%H:%M:%SZ"); }

}  // namespace cfs
