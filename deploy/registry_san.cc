#include "deploy/registry_san.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

namespace cfs::deploy {

namespace {

// Ok when `label` is a host name label (RFC 1123).
bool GoodLabel(const std::string& label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  return std::all_of(label.begin(), label.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-';
  });
}

void AddOnce(std::vector<std::string>& names, const std::string& name) {
  if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end())
    names.push_back(name);
}

}  // namespace

Status CheckSanDnsName(const std::string& name) {
  std::string rest = name.rfind("*.", 0) == 0 ? name.substr(2) : name;
  if (name.size() > 253 || rest.empty())
    return Status::Invalid("\"" + name + "\" is not a DNS name (1-253 bytes)");
  size_t start = 0;
  while (true) {
    size_t dot = rest.find('.', start);
    if (!GoodLabel(rest.substr(start, dot - start)))
      return Status::Invalid("\"" + name +
                             "\" is not a DNS name (labels of letters, digits and '-', "
                             "1-63 bytes, '*.' only first)");
    if (dot == std::string::npos) return Status::Ok();
    start = dot + 1;
  }
}

Status CheckSanIp(const std::string& ip) {
  unsigned char b[16];
  if (inet_pton(AF_INET, ip.c_str(), b) == 1 || inet_pton(AF_INET6, ip.c_str(), b) == 1)
    return Status::Ok();
  return Status::Invalid("\"" + ip + "\" is not an IPv4 or IPv6 address");
}

std::string CanonicalIp(const std::string& ip) {
  unsigned char b[16];
  char text[INET6_ADDRSTRLEN];
  int family = inet_pton(AF_INET, ip.c_str(), b) == 1    ? AF_INET
               : inet_pton(AF_INET6, ip.c_str(), b) == 1 ? AF_INET6
                                                         : 0;
  if (family == 0 || !inet_ntop(family, b, text, sizeof text)) return ip;
  return text;
}

std::vector<std::string> RegistryCertNames(const RegistryEndpoint& r,
                                           const std::vector<std::string>& server_ips) {
  std::vector<std::string> names;
  AddOnce(names, CanonicalIp(r.domain));
  for (const std::string& ip : server_ips) AddOnce(names, CanonicalIp(ip));
  for (const std::string& d : r.san_dns) AddOnce(names, d);
  for (const std::string& ip : r.san_ips) AddOnce(names, CanonicalIp(ip));
  return names;
}

}  // namespace cfs::deploy
