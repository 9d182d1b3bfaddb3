// Where the built-in registry runs and how each host of the cluster reaches
// it (spec.registry.localRegistry.ha, deploy/registry_spec.h):
//
//                 registry runs on    /etc/hosts: DOMAIN is   hosts.toml hosts, in order
//   ha: false     master0             master0                 (none: the server, DOMAIN)
//   ha: true      every master        a master: itself        a master: itself, then the
//                                     a node: master0         other masters; a node: every
//                                                             master, master0 first
//
// hosts.toml (/etc/containerd/certs.d/DOMAIN:PORT/, registry_trust.h) names
// the masters by IP, so containerd's fallback to the next host does not
// depend on name resolution, and the server certificate names every
// master's IP (registry_san.h). This is cimg's replacement for sealer's
// registry VIP (an IPVS virtual server kept by lvscare), which needs IPVS
// in the kernel and a kubelet.
#pragma once

#include <string>
#include <vector>

#include "deploy/clusterfile.h"
#include "deploy/registry_spec.h"

namespace cfs::deploy {

// The IPs the registry runs on, master0 first. REQUIRES: hosts[0] is
// master0 (Clusterfile::Hosts()).
std::vector<std::string> RegistryServers(const RegistryEndpoint& r,
                                         const std::vector<Clusterfile::Host>& hosts);

// The IP host `ip`'s /etc/hosts gives the registry domain.
// REQUIRES: servers not empty.
std::string RegistryAliasIp(const std::vector<std::string>& servers, const std::string& ip);

// The hosts of host `ip`'s hosts.toml for the registry, in the order
// containerd tries them: empty unless there are several servers.
std::vector<std::string> RegistryMirrors(const std::vector<std::string>& servers,
                                         const std::string& ip);

}  // namespace cfs::deploy
