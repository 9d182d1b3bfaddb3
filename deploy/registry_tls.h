// The built-in registry's TLS material of one cluster (spec.registry.
// localRegistry.insecure: false): a self-signed CA and a server certificate
// it signs, made with OpenSSL's API on the deploy host the first time a
// cluster needs them and kept beside its saved Clusterfile, so later deploys
// and scale-ups install the same CA on every host:
//
//   <store root>/clusters/<name>/registry-tls/   (0700)
//     ca.crt      PEM, the CA every host's runtime trusts         0644
//     ca.key      PEM (PKCS#8), the CA's private key               0600
//     server.crt  PEM, the registry's certificate                  0644
//     server.key  PEM (PKCS#8), the registry's private key         0600
//
// Keys are ECDSA P-256. The CA: CN "cimg registry CA <cluster>", CA:TRUE
// (critical), keyUsage keyCertSign+cRLSign, valid 10 years. The server
// certificate: CN = the registry domain, subjectAltName the names of
// deploy/registry_san.h (the domain, the IP of every host the registry runs
// on, cert.subjectAltName), extendedKeyUsage serverAuth, valid 10 years (a cluster's life; Go clients, containerd and
// docker-registry, set no shorter limit for a private CA).
//
// The server certificate is made again (with the same CA) when its
// subjectAltName is not exactly the names asked for (a master or a name
// added or removed), or it expires within 30 days; the CA is
// never replaced while ca.crt and ca.key are there. Private keys never leave
// these files except over SSH stdin to the hosts the registry runs on
// (deploy/registry_trust.h).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace cfs::deploy {

struct RegistryTls {
  std::string ca_pem;          // ca.crt
  std::string server_pem;      // server.crt
  std::string server_key_pem;  // server.key
};

// The material in `dir` for `cluster`'s registry whose certificate names
// `names` (RegistryCertNames: the domain first, the CN), made (or its
// server certificate renewed) first when needed.
// Not thread-safe for one dir (one deploy of a cluster at a time).
Result<RegistryTls> EnsureRegistryTls(const std::string& dir, const std::string& cluster,
                                      const std::vector<std::string>& names);

}  // namespace cfs::deploy
