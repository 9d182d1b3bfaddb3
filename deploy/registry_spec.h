// spec.registry and spec.containerRuntime of a Clusterfile (sealer
// types/api/v2 Registry, ContainerRuntimeConfig), and the environment
// sealer derives from the Clusterfile for the image's scripts and templates
// (pkg/clusterfile/decoder.go checkAndFillCluster, pkg/infradriver):
//
//   LocalRegistryDomain, LocalRegistryPort, LocalRegistryURL   (local registry)
//   ExternalRegistryDomain, ExternalRegistryPort, ExternalRegistryURL
//   RegistryDomain, RegistryPort, RegistryURL   (the one in use: local, else external)
//   ContainerRuntime        spec.containerRuntime.type, when given
//   KubeSvcIP, DNSSvcIP     the 1st and 10th address of env SvcCIDR, when given
//   HostIP                  the host's IP, unless its env sets it
//   HostIPFamily            "ipv6" on IPv6 hosts (all hosts are of one family)
//
// URL is DOMAIN:PORT (DOMAIN alone without a port). These keys given in
// spec.env are dropped, as sealer drops them (the derived values win).
// Without spec.registry the local registry is the built-in one: domain
// $REGISTRY_DOMAIN, else sea.hub; port $REGISTRY_PORT, else 5000.
//
//   registry:
//     localRegistry: {domain: sea.hub, port: 5000, ha: false, insecure: false,
//                     username: admin, password: secret}
//     externalRegistry: {domain: reg.example.com, port: 443}
//   containerRuntime: {type: docker}
//
// What cimg does with them: the built-in registry on master0 serves
// localRegistry's port, and every host's /etc/hosts points its domain at
// master0 (as sealer's non-HA registry). `insecure: false` serves it over
// TLS with a CA made once per cluster (deploy/registry_tls.h) that every
// host's runtime trusts; username/password put an htpasswd (bcrypt) in
// front of it and the credentials where each host's runtime reads them
// (deploy/registry_trust.h). Without `insecure`, plain HTTP as before (sealer
// defaults to TLS). Refused, with the reason: `ha: true` (cimg runs the
// registry on master0 only; sealer's default is every master), `cert` (a
// certificate of the user's own), one of username/password without the
// other, and externalRegistry credentials. With only externalRegistry, no
// built-in registry runs.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/status.h"

namespace cfs::deploy {

struct RegistryEndpoint {
  std::string domain;
  int port = 0;      // 0: none given
  bool tls = false;  // localRegistry.insecure: false
  // localRegistry.username/password (both or neither). The password stays
  // in memory and in the saved Clusterfile (0600); it is never exported to
  // host environments, logged or put on a command line.
  std::string username, password;
};

struct RegistrySpec {
  std::optional<RegistryEndpoint> local, external;
};

// The derived environment of one host, given its env (image < cluster <
// host) and its IP; `env` itself is not changed.
std::map<std::string, std::string> SealerEnv(const RegistrySpec& registry,
                                             const std::string& container_runtime,
                                             const std::map<std::string, std::string>& env,
                                             const std::string& ip);

// Ok unless SvcCIDR (its first network when comma-separated) has no 10th
// address, which sealer refuses.
Status CheckSvcCidr(const std::string& svc_cidr);

// DOMAIN:PORT ([DOMAIN]:PORT for an IPv6 address; DOMAIN without a port),
// as RegistryURL and the runtimes' certs.d directories name it.
std::string RegistryUrl(const RegistryEndpoint& r);

// Whether spec.env key `k` is one sealer derives (and so drops from spec.env).
bool IsDerivedEnvKey(const std::string& k);

// The local registry in use: localRegistry, else (without externalRegistry)
// the built-in one from env; nullopt with only an external registry.
std::optional<RegistryEndpoint> LocalRegistry(const RegistrySpec& registry,
                                              const std::map<std::string, std::string>& env);

}  // namespace cfs::deploy
