#include "deploy/ip_range.h"

#include <arpa/inet.h>

#include <cstring>

namespace cfs::deploy {

namespace {

// An address as a 128-bit number (IPv4 in the low 32 bits).
struct IpNumber {
  int family = 0;  // AF_INET or AF_INET6; 0 when not an IP
  unsigned __int128 value = 0;
};

IpNumber Parse(const std::string& s) {
  IpNumber n;
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    n.family = AF_INET;
    for (int i = 0; i < 4; i++) n.value = (n.value << 8) | buf[i];
  } else if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    n.family = AF_INET6;
    for (int i = 0; i < 16; i++) n.value = (n.value << 8) | buf[i];
  }
  return n;
}

std::string Format(const IpNumber& n) {
  unsigned char buf[16];
  int len = n.family == AF_INET ? 4 : 16;
  unsigned __int128 v = n.value;
  for (int i = len - 1; i >= 0; i--, v >>= 8) buf[i] = static_cast<unsigned char>(v & 0xff);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(n.family, buf, text, sizeof text);
  return text;
}

}  // namespace

bool IsIpAddress(const std::string& ip) { return Parse(ip).family != 0; }

Result<std::vector<std::string>> ExpandIpRange(const std::string& text) {
  size_t dash = text.find('-');
  if (dash == std::string::npos) return std::vector<std::string>{text};
  auto bad = [&](const std::string& why) {
    return Status::Invalid("IP range \"" + text + "\": " + why);
  };
  if (text.find('-', dash + 1) != std::string::npos)
    return bad("give FIRST-LAST, e.g. 192.168.0.2-192.168.0.9");
  const std::string a = text.substr(0, dash), b = text.substr(dash + 1);
  IpNumber first = Parse(a), last = Parse(b);
  if (!first.family) return bad("\"" + a + "\" is not an IP address");
  if (!last.family) return bad("\"" + b + "\" is not an IP address");
  if (first.family != last.family) return bad("the two ends are not of one IP family");
  if (first.value > last.value) return bad(a + " comes after " + b);
  if (last.value - first.value >= kMaxRangeHosts)
    return bad("more than " + std::to_string(kMaxRangeHosts) + " addresses");
  std::vector<std::string> out;
  const auto count = static_cast<size_t>(last.value - first.value) + 1;
  for (IpNumber n = first; out.size() < count; n.value++) out.push_back(Format(n));
  return out;
}

Result<std::vector<std::string>> ExpandIpRanges(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& item : items) {
    ASSIGN_OR_RETURN(auto ips, ExpandIpRange(item));
    out.insert(out.end(), ips.begin(), ips.end());
  }
  return out;
}

}  // namespace cfs::deploy
