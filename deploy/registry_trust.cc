#include "deploy/registry_trust.h"

#include <nlohmann/json.hpp>

#include "base/coding.h"
#include "deploy/htpasswd.h"

namespace cfs::deploy {

namespace {

constexpr const char* kKubeletAuth = "/var/lib/kubelet/config.json";

std::string ContainerdDir(const RegistryEndpoint& r) {
  return "/etc/containerd/certs.d/" + RegistryUrl(r);
}
std::string DockerDir(const RegistryEndpoint& r) {
  return "/etc/docker/certs.d/" + RegistryUrl(r);
}

// containerd's hosts.toml (docs/hosts.md): the registry itself, over
// HTTPS, verified against the cluster's CA. TOML basic strings: the values
// are a host name, a port and a path made of them, quoted as JSON quotes.
std::string HostsToml(const RegistryEndpoint& r) {
  const std::string url = "https://" + RegistryUrl(r);
  const std::string ca = ContainerdDir(r) + "/" + r.domain + ".crt";
  const std::string q_url = nlohmann::json(url).dump();
  return "# written by cimg deploy: the cluster's built-in registry\n"
         "server = " + q_url + "\n\n[host." + q_url + "]\n"
         "  capabilities = [\"pull\", \"resolve\"]\n"
         "  ca = " + nlohmann::json(ca).dump() + "\n";
}

std::string DockerAuthJson(const RegistryEndpoint& r) {
  nlohmann::json j;
  j["auths"][RegistryUrl(r)]["auth"] = Base64Encode(r.username + ":" + r.password);
  return j.dump() + "\n";
}

}  // namespace

Result<std::vector<HostFile>> RegistryServerFiles(const RegistryEndpoint& r,
                                                  const RegistryTls* tls,
                                                  const std::string& rootfs) {
  std::vector<HostFile> files;
  if (r.tls) {
    if (!tls) return Status::Invalid("registry TLS: no certificate for " + r.domain);
    files.push_back({rootfs + "/certs/" + r.domain + ".crt", tls->server_pem, 0644});
    files.push_back({rootfs + "/certs/" + r.domain + ".key", tls->server_key_pem, 0600});
  }
  if (!r.username.empty()) {
    ASSIGN_OR_RETURN(std::string line, HtpasswdLine(r.username, r.password));
    files.push_back({rootfs + "/etc/registry_htpasswd", line, 0600});
  }
  return files;
}

std::vector<HostFile> RuntimeTrustFiles(const RegistryEndpoint& r, const std::string& ca_pem) {
  std::vector<HostFile> files;
  if (r.tls) {
    files.push_back({ContainerdDir(r) + "/" + r.domain + ".crt", ca_pem, 0644});
    files.push_back({ContainerdDir(r) + "/hosts.toml", HostsToml(r), 0644});
    files.push_back({DockerDir(r) + "/" + r.domain + ".crt", ca_pem, 0644});
  }
  if (!r.username.empty()) files.push_back({kKubeletAuth, DockerAuthJson(r), 0600});
  return files;
}

std::vector<std::string> RuntimeTrustPaths(const RegistryEndpoint& r) {
  return {ContainerdDir(r), DockerDir(r), kKubeletAuth};
}

}  // namespace cfs::deploy
