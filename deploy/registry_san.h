// The names the built-in registry's server certificate carries (its
// subjectAltName, deploy/registry_tls.h), and the checks of the names a
// Clusterfile adds (spec.registry.localRegistry.cert.subjectAltName, as
// sealer's pkg/registry installer adds them):
//
//   1. the registry domain (DNS, or IP when the domain is an address);
//   2. the IP of every host the registry runs on (master0; every master
//      with ha: true, deploy/registry_hosts.h), so that a runtime reaching
//      one by address verifies it;
//   3. cert.subjectAltName.dnsNames, then .ips.
//
// Each name once, in that order; IPs in their canonical text (inet_ntop).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/registry_spec.h"

namespace cfs::deploy {

// Ok when `name` can be a DNS name of a certificate: labels of letters,
// digits and '-' (not first or last), 1-63 bytes each, 253 bytes in all,
// optionally "*." first (a wildcard); else why not.
Status CheckSanDnsName(const std::string& name);

// Ok when `ip` is an IPv4 or IPv6 address (no prefix length); else why not.
Status CheckSanIp(const std::string& ip);

// `ip` in canonical text ("::1" for "0:0::1"); `ip` itself when it is no
// address.
std::string CanonicalIp(const std::string& ip);

// The names above, for `r` served on `server_ips`.
std::vector<std::string> RegistryCertNames(const RegistryEndpoint& r,
                                           const std::vector<std::string>& server_ips);

}  // namespace cfs::deploy
