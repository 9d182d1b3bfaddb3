#include "deploy/registry_spec.h"

#include <arpa/inet.h>

#include <algorithm>

#include "deploy/clusterfile_docs.h"
#include "deploy/htpasswd.h"
#include "deploy/registry_san.h"

namespace cfs::deploy {

namespace {

constexpr const char* kDerived[] = {
    "LocalRegistryDomain", "LocalRegistryPort", "LocalRegistryURL", "ExternalRegistryDomain",
    "ExternalRegistryPort", "ExternalRegistryURL", "RegistryDomain", "RegistryPort",
    "RegistryURL", "ContainerRuntime", "DNSSvcIP", "KubeSvcIP"};

void Put(std::map<std::string, std::string>& out, const std::string& prefix,
         const RegistryEndpoint& r) {
  out[prefix + "Domain"] = r.domain;
  out[prefix + "Port"] = r.port ? std::to_string(r.port) : "";
  out[prefix + "URL"] = RegistryUrl(r);
}

// The index-th address of IPv4 or IPv6 network `cidr` ("" when it has none).
std::string IndexIp(const std::string& cidr, unsigned index) {
  size_t slash = cidr.find('/');
  std::string ip = cidr.substr(0, slash);
  unsigned char b[16];
  int len = inet_pton(AF_INET, ip.c_str(), b) == 1 ? 4 : inet_pton(AF_INET6, ip.c_str(), b) == 1 ? 16 : 0;
  if (len == 0 || slash == std::string::npos) return "";
  int bits = std::atoi(cidr.c_str() + slash + 1);
  if (bits < 0 || bits > len * 8 || (len * 8 - bits < 32 && (1ull << (len * 8 - bits)) <= index))
    return "";
  unsigned carry = index;
  for (int i = len - 1; i >= 0 && carry; i--) {
    unsigned v = b[i] + (carry & 0xff);
    b[i] = static_cast<unsigned char>(v & 0xff);
    carry = (carry >> 8) + (v >> 8);
  }
  char text[INET6_ADDRSTRLEN];
  inet_ntop(len == 4 ? AF_INET : AF_INET6, b, text, sizeof text);
  return text;
}

}  // namespace

std::string RegistryUrl(const RegistryEndpoint& r) {
  if (r.port == 0) return r.domain;
  bool v6 = r.domain.find(':') != std::string::npos;
  return (v6 ? "[" + r.domain + "]" : r.domain) + ":" + std::to_string(r.port);
}

bool IsDerivedEnvKey(const std::string& k) {
  return std::any_of(std::begin(kDerived), std::end(kDerived),
                     [&](const char* d) { return k.rfind(d, 0) == 0; });
}

std::optional<RegistryEndpoint> LocalRegistry(const RegistrySpec& registry,
                                              const std::map<std::string, std::string>& env) {
  if (registry.local) return registry.local;
  if (registry.external) return std::nullopt;
  RegistryEndpoint r;
  r.domain = "sea.hub";
  r.port = 5000;
  r.tls = r.ha = !registry.legacy_defaults;
  if (auto it = env.find("REGISTRY_DOMAIN"); it != env.end()) r.domain = it->second;
  if (auto it = env.find("REGISTRY_PORT"); it != env.end()) r.port = std::atoi(it->second.c_str());
  return r;
}

void UseLegacyRegistryDefaults(RegistrySpec* r) {
  r->legacy_defaults = true;
  if (!r->local) return;
  RegistryEndpoint& l = *r->local;
  if (!l.tls_given && l.san_dns.empty() && l.san_ips.empty()) l.tls = false;
  if (!l.ha_given) l.ha = false;
}

std::map<std::string, std::string> SealerEnv(const RegistrySpec& registry,
                                             const std::string& container_runtime,
                                             const std::map<std::string, std::string>& env,
                                             const std::string& ip) {
  std::map<std::string, std::string> out;
  auto local = LocalRegistry(registry, env);
  if (local) Put(out, "LocalRegistry", *local);
  if (registry.external) Put(out, "ExternalRegistry", *registry.external);
  if (local || registry.external) Put(out, "Registry", local ? *local : *registry.external);
  if (!container_runtime.empty()) out["ContainerRuntime"] = container_runtime;
  if (auto it = env.find("SvcCIDR"); it != env.end() && !it->second.empty()) {
    std::string first = it->second.substr(0, it->second.find(','));
    out["KubeSvcIP"] = IndexIp(first, 1);
    out["DNSSvcIP"] = IndexIp(first, 10);
  }
  if (!env.count("HostIP")) out["HostIP"] = ip;
  if (ip.find(':') != std::string::npos) out["HostIPFamily"] = "ipv6";
  return out;
}

Status CheckSvcCidr(const std::string& svc_cidr) {
  std::string first = svc_cidr.substr(0, svc_cidr.find(','));
  if (svc_cidr.empty() || !IndexIp(first, 10).empty()) return Status::Ok();
  return Status::Invalid("SvcCIDR \"" + first + "\" is not a network with 10 addresses");
}

}  // namespace cfs::deploy

namespace cfs::deploy {

namespace {

// A list of cert.subjectAltName: each entry passes `check`, or an error at
// its line.
Result<std::vector<std::string>> SanList(const YamlFields& f, const YAML::Node& n,
                                         const std::string& what,
                                         Status (*check)(const std::string&)) {
  ASSIGN_OR_RETURN(std::vector<std::string> list, f.StrList(n, what));
  for (size_t i = 0; i < list.size(); i++)
    if (Status s = check(list[i]); !s.ok()) return f.Err(n[i], what + ": " + s.message());
  return list;
}

// localRegistry.cert: subjectAltName {dnsNames, ips} only (cimg makes the
// certificate; registry_san.h).
Status CertNames(const YamlFields& f, const YAML::Node& cert, const std::string& where,
                 RegistryEndpoint* r) {
  if (cert.IsNull()) return Status::Ok();
  RETURN_IF_ERROR(f.Keys(cert, where, {"subjectAltName"}));
  const YAML::Node san = cert["subjectAltName"];
  if (!san || san.IsNull()) return Status::Ok();
  const std::string at = where + ".subjectAltName";
  RETURN_IF_ERROR(f.Keys(san, at, {"dnsNames", "ips"}));
  if (san["dnsNames"]) {
    ASSIGN_OR_RETURN(r->san_dns, SanList(f, san["dnsNames"], at + ".dnsNames", CheckSanDnsName));
  }
  if (san["ips"]) { ASSIGN_OR_RETURN(r->san_ips, SanList(f, san["ips"], at + ".ips", CheckSanIp)); }
  if ((!r->san_dns.empty() || !r->san_ips.empty()) && !r->tls)
    return f.Err(cert, where + ": a certificate needs TLS: drop insecure: true");
  return Status::Ok();
}

// localRegistry's insecure, cert, username and password.
Status LocalSecurity(const YamlFields& f, const YAML::Node& n, const std::string& where,
                     RegistryEndpoint* r) {
  if (n["insecure"]) {
    ASSIGN_OR_RETURN(bool insecure, f.Bool(n["insecure"], where + ".insecure"));
    r->tls = !insecure;
    r->tls_given = true;
  }
  if (n["cert"]) RETURN_IF_ERROR(CertNames(f, n["cert"], where + ".cert", r));
  if (n["username"]) { ASSIGN_OR_RETURN(r->username, f.Str(n["username"], where + ".username")); }
  if (n["password"]) { ASSIGN_OR_RETURN(r->password, f.Str(n["password"], where + ".password")); }
  if (r->username.empty() != r->password.empty())
    return f.Err(n[r->username.empty() ? "password" : "username"],
                 where + ": give both username and password, or neither");
  if (r->username.empty()) return Status::Ok();
  if (Status s = CheckHtpasswdInput(r->username, r->password); !s.ok())
    return f.Err(n["username"], where + ": " + s.message());
  return Status::Ok();
}

Result<RegistryEndpoint> Endpoint(const YamlFields& f, const YAML::Node& n, const std::string& where,
                                  bool local) {
  if (local)
    RETURN_IF_ERROR(f.Keys(n, where, {"domain", "port", "username", "password", "ha", "insecure", "cert"}));
  else
    RETURN_IF_ERROR(f.Keys(n, where, {"domain", "port", "username", "password"}));
  RegistryEndpoint r;
  if (n["domain"]) { ASSIGN_OR_RETURN(r.domain, f.Str(n["domain"], where + ".domain")); }
  if (n["port"]) { ASSIGN_OR_RETURN(r.port, f.Port(n["port"], where + ".port")); }
  if (!local) {
    for (const char* k : {"username", "password"})
      if (n[k])
        return f.Err(n[k], where + "." + k +
                               ": credentials of an external registry are not supported by cimg "
                               "yet (log the hosts' runtime in to it in a pre-install plugin)");
    if (r.domain.empty()) return f.Err(n, where + ".domain is required");
    r.tls = r.ha = false;  // not cimg's to serve
    return r;
  }
  if (r.domain.empty()) r.domain = "sea.hub";
  if (r.port == 0) r.port = 5000;
  if (n["ha"]) {
    ASSIGN_OR_RETURN(r.ha, f.Bool(n["ha"], where + ".ha"));
    r.ha_given = true;
  }
  RETURN_IF_ERROR(LocalSecurity(f, n, where, &r));
  return r;
}

}  // namespace

Status ParseRegistry(const YamlFields& f, const YAML::Node& spec, RegistrySpec* r,
                     std::string* container_runtime) {
  if (const YAML::Node reg = spec["registry"]; reg && !reg.IsNull()) {
    RETURN_IF_ERROR(f.Keys(reg, "spec.registry", {"localRegistry", "externalRegistry"}));
    if (reg["localRegistry"]) {
      ASSIGN_OR_RETURN(r->local, Endpoint(f, reg["localRegistry"], "spec.registry.localRegistry", true));
    }
    if (reg["externalRegistry"]) {
      ASSIGN_OR_RETURN(r->external,
                       Endpoint(f, reg["externalRegistry"], "spec.registry.externalRegistry", false));
    }
  }
  if (const YAML::Node cr = spec["containerRuntime"]; cr && !cr.IsNull()) {
    RETURN_IF_ERROR(f.Keys(cr, "spec.containerRuntime", {"type"}));
    if (cr["type"]) { ASSIGN_OR_RETURN(*container_runtime, f.Str(cr["type"], "spec.containerRuntime.type")); }
  }
  return Status::Ok();
}

}  // namespace cfs::deploy
