// The files that put the built-in registry's TLS and credentials in place,
// at sealer's paths (pkg/registry local.go configureRegistryCert,
// configureDaemonService, configureAccessCredential; the base image's
// scripts/init-registry.sh). EP is DOMAIN:PORT.
//
// On master0 (every master with ha: true), for the registry (read by
// scripts/init-registry.sh, or by cimg's own start when the image has none):
//   ROOTFS/certs/DOMAIN.crt   server certificate                 0644  (TLS)
//   ROOTFS/certs/DOMAIN.key   its private key                    0600  (TLS)
//   ROOTFS/etc/registry_htpasswd  "USER:bcrypt"                  0600  (credentials)
// On every host, for its container runtime:
//   /etc/containerd/certs.d/EP/DOMAIN.crt   the cluster's CA      0644  (TLS)
//   /etc/containerd/certs.d/EP/hosts.toml   server = "https://EP", its CA  (TLS)
//                                           with ha: true, a host per master
//                                           (registry_hosts.h; http:// without TLS)
//   /etc/docker/certs.d/EP/DOMAIN.crt       the CA (docker reads *.crt there)
//   /var/lib/kubelet/config.json            {"auths":{"EP":{"auth":base64(USER:PASSWORD)}}}
//                                           0600 (credentials; docker's format, read by
//                                           kubelet and by the image's scripts)
// Contents travel on the SSH channel's stdin (deploy/host/install_file.sh),
// never on a command line.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/registry_spec.h"
#include "deploy/registry_tls.h"

namespace cfs::deploy {

struct HostFile {
  std::string path;
  std::string content;
  int mode = 0644;
};

// The files of a host the registry runs on (none when neither TLS nor credentials).
// `tls` is required when r.tls.
Result<std::vector<HostFile>> RegistryServerFiles(const RegistryEndpoint& r,
                                                  const RegistryTls* tls,
                                                  const std::string& rootfs);

// Every host's files for its runtime; `mirrors`: the hosts of its
// hosts.toml (RegistryMirrors), none for the registry domain alone.
std::vector<HostFile> RuntimeTrustFiles(const RegistryEndpoint& r, const std::string& ca_pem,
                                        const std::vector<std::string>& mirrors = {});

// The hosts.toml of RuntimeTrustFiles alone (none without TLS and mirrors).
std::optional<HostFile> RuntimeHostsToml(const RegistryEndpoint& r,
                                         const std::vector<std::string>& mirrors);

// The paths RuntimeTrustFiles may write, the directories first: what
// cimg delete removes.
std::vector<std::string> RuntimeTrustPaths(const RegistryEndpoint& r);

}  // namespace cfs::deploy
