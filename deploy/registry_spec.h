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
// Defaults, as sealer's (checkAndFillCluster): without spec.registry the
// built-in local registry is used; `insecure` absent is false (TLS) and `ha`
// absent is true (a registry on every master). `insecure: true` and
// `ha: false` say otherwise.
//
// What cimg does with them: the built-in registry serves localRegistry's
// port. `insecure: false` serves it over TLS with a CA made once per cluster
// (deploy/registry_tls.h) that every host's runtime trusts; `insecure: true`
// serves plain HTTP. username/password put an htpasswd (bcrypt) in front of
// it and the credentials where each host's runtime reads them
// (deploy/registry_trust.h). `cert.subjectAltName` adds DNS names and IPs to
// the server certificate (deploy/registry_san.h). With only
// externalRegistry, no built-in registry runs.
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
// Scale-up and re-deploys add a new master's registry and put it in every
// host's hosts.toml; scale-down removes a master from them. `ha: false`: the
// registry runs on master0 only and every host's /etc/hosts points the
// domain at master0.
//
// Clusters deployed by a cimg before these defaults (plain HTTP, master0
// only) keep what they were deployed with: the saved Clusterfile of such a
// cluster lacks the annotation kRegistryDefaultsAnnotation, and it (and a
// Clusterfile re-deployed onto it that leaves insecure/ha out) reads with
// the old defaults (legacy_defaults; deploy/saved_cluster.h).
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
  bool tls = true;  // localRegistry.insecure: false (the default)
  // localRegistry.username/password (both or neither). The password stays
  // in memory and in the saved Clusterfile (0600); it is never exported to
  // host environments, logged or put on a command line.
  std::string username, password;
  bool ha = true;  // localRegistry.ha: a registry on every master (the default)
  // Parsed: insecure / ha were given (not defaulted).
  bool tls_given = false, ha_given = false;
  // localRegistry.cert.subjectAltName: more names of the server certificate
  // (checked: DNS names and IP addresses).
  std::vector<std::string> san_dns, san_ips;
};

struct RegistrySpec {
  std::optional<RegistryEndpoint> local, external;
  // The cluster was deployed by a cimg before sealer's defaults: the
  // built-in registry (no spec.registry) is plain HTTP on master0 only.
  bool legacy_defaults = false;
  // Parsed: the Clusterfile carried kRegistryDefaultsAnnotation (cimg saved
  // it; its defaults are known).
  bool defaults_recorded = false;
};

// metadata.annotations key of a Clusterfile cimg saves: "sealer" (TLS and
// ha by default) or "plain" (legacy_defaults).
inline constexpr const char* kRegistryDefaultsAnnotation = "cimg.registry-defaults";

// Gives `r` the defaults of a cimg before sealer's: legacy_defaults set, and
// a localRegistry's insecure / ha that were left out become true / false
// (TLS stays when cert.subjectAltName asks for a certificate).
void UseLegacyRegistryDefaults(RegistrySpec* r);

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
