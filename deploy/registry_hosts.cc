#include "deploy/registry_hosts.h"

#include <algorithm>

namespace cfs::deploy {

std::vector<std::string> RegistryServers(const RegistryEndpoint& r,
                                         const std::vector<Clusterfile::Host>& hosts) {
  std::vector<std::string> out;
  for (size_t i = 0; i < hosts.size(); i++)
    if (i == 0 || (r.ha && hosts[i].master)) out.push_back(hosts[i].ip);
  return out;
}

std::string RegistryAliasIp(const std::vector<std::string>& servers, const std::string& ip) {
  bool serves = std::find(servers.begin(), servers.end(), ip) != servers.end();
  return serves ? ip : servers.front();
}

std::vector<std::string> RegistryMirrors(const std::vector<std::string>& servers,
                                         const std::string& ip) {
  if (servers.size() < 2) return {};
  std::vector<std::string> out;
  if (std::find(servers.begin(), servers.end(), ip) != servers.end()) out.push_back(ip);
  for (const std::string& s : servers)
    if (s != ip) out.push_back(s);
  return out;
}

}  // namespace cfs::deploy
