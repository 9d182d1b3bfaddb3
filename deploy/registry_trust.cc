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
// HTTPS, verified against the cluster's CA; with `mirrors` (ha: true), one
// host a registry, tried in order before the server. TOML basic strings:
// the values are host names, ports and paths made of them, quoted as JSON
// quotes.
std::string HostsToml(const RegistryEndpoint& r, const std::vector<std::string>& mirrors) {
  const std::string scheme = r.tls ? "https://" : "http://";
  const std::string ca = ContainerdDir(r) + "/" + r.domain + ".crt";
  std::vector<std::string> hosts;
  for (const std::string& ip : mirrors) {
    RegistryEndpoint at = r;
    at.domain = ip;
    hosts.push_back(scheme + RegistryUrl(at));
  }
  if (hosts.empty()) hosts.push_back(scheme + RegistryUrl(r));
  std::string out = "# written by cimg deploy: the cluster's built-in registry";
  out += mirrors.empty() ? "\n" : " on every master, tried in order\n";
  out += "server = " + nlohmann::json(scheme + RegistryUrl(r)).dump() + "\n";
  for (const std::string& h : hosts) {
    out += "\n[host." + nlohmann::json(h).dump() + "]\n  capabilities = [\"pull\", \"resolve\"]\n";
    if (r.tls) out += "  ca = " + nlohmann::json(ca).dump() + "\n";
  }
  return out;
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

std::optional<HostFile> RuntimeHostsToml(const RegistryEndpoint& r,
                                         const std::vector<std::string>& mirrors) {
  if (!r.tls && mirrors.empty()) return std::nullopt;
  return HostFile{ContainerdDir(r) + "/hosts.toml", HostsToml(r, mirrors), 0644};
}

std::vector<HostFile> RuntimeTrustFiles(const RegistryEndpoint& r, const std::string& ca_pem,
                                        const std::vector<std::string>& mirrors) {
  std::vector<HostFile> files;
  if (r.tls) files.push_back({ContainerdDir(r) + "/" + r.domain + ".crt", ca_pem, 0644});
  if (auto toml = RuntimeHostsToml(r, mirrors)) files.push_back(std::move(*toml));
  if (r.tls) files.push_back({DockerDir(r) + "/" + r.domain + ".crt", ca_pem, 0644});
  if (!r.username.empty()) files.push_back({kKubeletAuth, DockerAuthJson(r), 0600});
  return files;
}

std::vector<std::string> RuntimeTrustPaths(const RegistryEndpoint& r) {
  return {ContainerdDir(r), DockerDir(r), kKubeletAuth};
}

}  // namespace cfs::deploy
