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
//                     username: admin, password: secret,
//                     cert: {subjectAltName: {dnsNames: [hub.example.com], ips: [192.0.2.7]}}}
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
// defaults to TLS). `cert.subjectAltName` adds DNS names and IPs to the
// server certificate (deploy/registry_san.h). With only externalRegistry, no
// built-in registry runs.
//
// `ha: true` (deploy/registry_hosts.h): the registry (the same registry/ data,
// certificate and htpasswd) runs on every master, and each master's
// /etc/hosts points the domain at itself, as sealer does. sealer gives the
// other nodes a virtual IP (an IPVS rule kept by lvscare) in front of the
// masters; cimg does not (no IPVS or kubelet needed): each host's containerd
// hosts.toml for the registry lists every master's registry, by IP, in
// order (containerd tries the next one when one fails), the server
// certificate names every master's IP, and the nodes' /etc/hosts point the
// domain at master0 (so what resolves the domain itself has no failover).
// Absent, ha is false (sealer's default is true): a Clusterfile that says
// nothing keeps the single registry of earlier cimg deploys. Scale-up and
// re-deploys add a new master's registry and put it in every host's
// hosts.toml; scale-down removes a master from them.
//
// Refused, with the reason: `cert` other than subjectAltName (a certificate
// of the user's own), one of username/password without the other, and
// externalRegistry credentials.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

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
  bool ha = false;  // localRegistry.ha: a registry on every master
  // localRegistry.cert.subjectAltName: more names of the server certificate
  // (checked: DNS names and IP addresses).
  std::vector<std::string> san_dns, san_ips;
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
