#include "deploy/clusterfile.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "base/io.h"
#include "deploy/clusterfile_docs.h"
#include "deploy/ip_range.h"
#include "deploy/kubeadm_config.h"
#include "deploy/node_labels.h"
#include "deploy/yaml_fields.h"

namespace cfs::deploy {

SshSpec SshSpec::Merge(const SshSpec& over) const {
  SshSpec m = *this;
  if (over.user) m.user = over.user;
  if (over.passwd) m.passwd = over.passwd;
  if (over.pk) m.pk = over.pk;
  if (over.pk_passwd) m.pk_passwd = over.pk_passwd;
  if (over.port) m.port = over.port;
  return m;
}

Result<std::pair<std::string, std::string>> ParseEnvEntry(const std::string& kv) {
  size_t eq = kv.find('=');
  std::string k = kv.substr(0, eq);
  bool ok = eq != std::string::npos && !k.empty() && !(k[0] >= '0' && k[0] <= '9');
  for (char c : k) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) return Status::Invalid("env entry \"" + kv + "\" is not KEY=VALUE with KEY a shell name");
  return std::make_pair(k, kv.substr(eq + 1));
}

Status CheckClusterName(const std::string& n) {
  bool ok = !n.empty() && n.size() <= 63 && n.front() != '-' && n.back() != '-';
  for (char c : n) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  if (!ok)
    return Status::Invalid("cluster name \"" + n +
                           "\": use lower-case letters, digits and '-' (at most 63)");
  // Names the local store uses under the same /var/lib/cimg.
  for (const char* r : {"index", "packs", "tmp", "leases", "clusters"})
    if (n == r) return Status::Invalid("cluster name \"" + n + "\" is reserved");
  return Status::Ok();
}

namespace {

// The Cluster and Plugin documents (the other kinds have files of their own).
class Parser : public YamlFields {
 public:
  using YamlFields::YamlFields;

  Result<SshSpec> Ssh(const YAML::Node& n, const std::string& where) const {
    SshSpec s;
    if (n.IsNull()) return s;
    RETURN_IF_ERROR(Keys(n, where, {"user", "passwd", "pk", "pkPasswd", "port"}));
    if (n["user"]) { ASSIGN_OR_RETURN(s.user, Str(n["user"], where + ".user")); }
    if (n["passwd"]) { ASSIGN_OR_RETURN(s.passwd, Str(n["passwd"], where + ".passwd")); }
    if (n["pk"]) { ASSIGN_OR_RETURN(s.pk, Str(n["pk"], where + ".pk")); }
    if (n["pkPasswd"]) { ASSIGN_OR_RETURN(s.pk_passwd, Str(n["pkPasswd"], where + ".pkPasswd")); }
    if (n["port"]) { ASSIGN_OR_RETURN(s.port, Port(n["port"], where + ".port")); }
    if (s.user && s.user->empty()) return Err(n["user"], where + ".user is empty");
    return s;
  }

  Result<HostGroup> Hosts(const YAML::Node& n, size_t i) const {
    std::string where = "spec.hosts[" + std::to_string(i) + "]";
    RETURN_IF_ERROR(Keys(n, where, {"ips", "roles", "ssh", "env", "labels", "taints"}));
    HostGroup g;
    if (!n["ips"]) return Err(n, where + ": ips is required");
    ASSIGN_OR_RETURN(auto items, StrList(n["ips"], where + ".ips"));
    if (items.empty()) return Err(n["ips"], where + ".ips is empty");
    for (size_t k = 0; k < items.size(); k++) {
      auto ips = ExpandIpRange(items[k]);
      if (!ips.ok()) return Err(n["ips"][k], where + ".ips: " + ips.status().message());
      for (const auto& ip : *ips) {
        if (!IsIpAddress(ip))
          return Err(n["ips"][k], where + ".ips: \"" + ip + "\" is not an IP address");
        g.ips.push_back(ip);
        g.ip_lines.push_back(Line(n["ips"][k]));
      }
    }
    if (!n["roles"]) return Err(n, where + ": roles is required (master or node)");
    ASSIGN_OR_RETURN(g.roles, StrList(n["roles"], where + ".roles"));
    int kinds = 0;
    for (size_t k = 0; k < g.roles.size(); k++) {
      if (g.roles[k] == "master" || g.roles[k] == "node")
        kinds++;
      else
        return Err(n["roles"][k], where + ".roles: unknown role \"" + g.roles[k] +
                                      "\" (master or node)");
    }
    if (kinds != 1) return Err(n["roles"], where + ".roles: give exactly one of master, node");
    if (n["ssh"]) { ASSIGN_OR_RETURN(g.ssh, Ssh(n["ssh"], where + ".ssh")); }
    if (n["env"]) { ASSIGN_OR_RETURN(g.env, EnvList(n["env"], where + ".env")); }
    if (n["taints"]) { ASSIGN_OR_RETURN(g.taints, StrList(n["taints"], where + ".taints")); }
    for (size_t k = 0; k < g.taints.size(); k++)
      if (auto t = ParseTaint(g.taints[k]); !t.ok())
        return Err(n["taints"][k], where + ".taints: " + t.status().message());
    if (const auto& l = n["labels"]; l && !l.IsNull()) {
      if (!l.IsMap()) return Err(l, where + ".labels must be a mapping");
      for (const auto& kv : l) {
        ASSIGN_OR_RETURN(std::string v, Str(kv.second, where + ".labels." + kv.first.Scalar()));
        g.labels[kv.first.Scalar()] = v;
      }
    }
    return g;
  }

  Status Cluster(const YAML::Node& doc, Clusterfile* c) const {
    RETURN_IF_ERROR(Keys(doc, "Cluster", {"apiVersion", "kind", "metadata", "spec", "status"}));
    const YAML::Node md = doc["metadata"];
    if (!md) return Err(doc, "metadata.name is required");
    RETURN_IF_ERROR(Keys(md, "metadata", {"name", "labels", "annotations"}));
    if (!md["name"]) return Err(md, "metadata.name is required");
    ASSIGN_OR_RETURN(c->name, Str(md["name"], "metadata.name"));
    if (Status s = CheckClusterName(c->name); !s.ok()) return Err(md["name"], s.message());
    RETURN_IF_ERROR(RegistryDefaults(md, c));
    const YAML::Node spec = doc["spec"];
    if (!spec) return Err(doc, "spec is required");
    RETURN_IF_ERROR(Keys(spec, "spec", {"image", "env", "cmd", "ssh", "hosts", "cmdArgs",
                                        "appNames", "registry", "containerRuntime",
                                        "cmd_args", "hostAliases", "dataRoot"}));
    RETURN_IF_ERROR(ParseRegistry(*this, spec, &c->registry, &c->container_runtime));
    if (c->registry.legacy_defaults) UseLegacyRegistryDefaults(&c->registry);
    if (spec["appNames"]) {
      c->has_app_names = true;
      ASSIGN_OR_RETURN(c->app_names, StrList(spec["appNames"], "spec.appNames"));
    }
    for (const char* unsupported : {"cmdArgs", "cmd_args", "hostAliases", "dataRoot"})
      if (spec[unsupported])
        return Err(spec[unsupported].IsDefined() ? spec[unsupported] : spec,
                   std::string("spec.") + unsupported + " is not supported by cimg");
    if (!spec["image"]) return Err(spec, "spec.image is required");
    ASSIGN_OR_RETURN(c->image, Str(spec["image"], "spec.image"));
    if (c->image.empty()) return Err(spec["image"], "spec.image is empty");
    if (spec["env"]) { ASSIGN_OR_RETURN(c->env, EnvList(spec["env"], "spec.env")); }
    if (spec["cmd"]) { ASSIGN_OR_RETURN(c->cmd, StrList(spec["cmd"], "spec.cmd")); }
    if (spec["ssh"]) { ASSIGN_OR_RETURN(c->ssh, Ssh(spec["ssh"], "spec.ssh")); }
    if (!spec["hosts"] || !spec["hosts"].IsSequence() || spec["hosts"].size() == 0)
      return Err(spec["hosts"] ? spec["hosts"] : spec, "spec.hosts must list at least one master");
    std::set<std::string> seen;
    bool master = false;
    for (size_t i = 0; i < spec["hosts"].size(); i++) {
      ASSIGN_OR_RETURN(HostGroup g, Hosts(spec["hosts"][i], i));
      for (size_t k = 0; k < g.ips.size(); k++)
        if (!seen.insert(g.ips[k]).second)
          return Status::Invalid(file() + ":" + std::to_string(g.ip_lines[k]) + ": host " +
                                 g.ips[k] + " is listed twice");
      master = master || g.roles[0] == "master" || g.roles.back() == "master";
      c->hosts.push_back(std::move(g));
    }
    if (!master) return Err(spec["hosts"], "spec.hosts has no master");
    return CheckEnvAndFamily(spec, *c);
  }

  // metadata.annotations[kRegistryDefaultsAnnotation] of a saved Clusterfile.
  Status RegistryDefaults(const YAML::Node& md, Clusterfile* c) const {
    const YAML::Node a = md["annotations"];
    if (!a || !a.IsMap() || !a[kRegistryDefaultsAnnotation]) return Status::Ok();
    const YAML::Node v = a[kRegistryDefaultsAnnotation];
    const std::string where = std::string("metadata.annotations.") + kRegistryDefaultsAnnotation;
    ASSIGN_OR_RETURN(std::string value, Str(v, where));
    if (value != "sealer" && value != "plain") return Err(v, where + ": give sealer or plain");
    c->registry.defaults_recorded = true;
    c->registry.legacy_defaults = value == "plain";
    return Status::Ok();
  }

  // As sealer: one IP family for all hosts; SvcCIDR a network with 10 addresses.
  Status CheckEnvAndFamily(const YAML::Node& spec, const Clusterfile& c) const {
    for (size_t i = 0; i < c.env.size(); i++)
      if (auto kv = ParseEnvEntry(c.env[i]); kv.ok() && kv->first == "SvcCIDR")
        if (Status s = CheckSvcCidr(kv->second); !s.ok())
          return Err(spec["env"][i], "spec.env: " + s.message());
    const std::string& first = c.hosts[0].ips[0];
    for (const auto& g : c.hosts)
      for (size_t k = 0; k < g.ips.size(); k++)
        if ((g.ips[k].find(':') == std::string::npos) != (first.find(':') == std::string::npos))
          return Status::Invalid(file() + ":" + std::to_string(g.ip_lines[k]) + ": host " +
                                 g.ips[k] + " and host " + first +
                                 " are of different IP families (sealer needs one)");
    return Status::Ok();
  }

  Result<Plugin> PluginDoc(const YAML::Node& doc) const {
    RETURN_IF_ERROR(Keys(doc, "Plugin", {"apiVersion", "kind", "metadata", "spec"}));
    Plugin p;
    const YAML::Node md = doc["metadata"];
    if (!md || !md["name"]) return Err(md ? md : doc, "Plugin: metadata.name is required");
    RETURN_IF_ERROR(Keys(md, "metadata", {"name", "labels", "annotations"}));
    ASSIGN_OR_RETURN(p.name, Str(md["name"], "metadata.name"));
    const YAML::Node spec = doc["spec"];
    if (!spec) return Err(doc, "Plugin " + p.name + ": spec is required");
    RETURN_IF_ERROR(Keys(spec, "Plugin spec", {"type", "action", "scope", "data"}));
    ASSIGN_OR_RETURN(std::string type, Str(spec["type"], "spec.type"));
    if (type != "SHELL" && type != "shell")
      return Err(spec["type"], "Plugin " + p.name + ": type \"" + type + "\" is not supported (SHELL)");
    if (!spec["action"]) return Err(spec, "Plugin " + p.name + ": spec.action is required");
    ASSIGN_OR_RETURN(std::string action, Str(spec["action"], "spec.action"));
    size_t pos = 0;
    while (pos <= action.size()) {
      size_t bar = action.find('|', pos);
      std::string a = action.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos);
      // "post-install", "PostInstall" and "postinstall" name one phase.
      std::string key;
      for (char ch : a)
        if (ch != '-' && ch != ' ') key += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      const char* found = nullptr;
      for (const char* ph : kPhases) {
        std::string k;
        for (const char* q = ph; *q; q++)
          if (*q != '-') k += *q;
        if (k == key) found = ph;
      }
      if (!found) {
        std::string list;
        for (const char* ph : kPhases) list += (list.empty() ? "" : ", ") + std::string(ph);
        return Err(spec["action"], "Plugin " + p.name + ": unknown action \"" + a + "\" (" + list + ")");
      }
      p.phases.push_back(found);
      if (bar == std::string::npos) break;
      pos = bar + 1;
    }
    if (spec["scope"]) {
      ASSIGN_OR_RETURN(std::string scope, Str(spec["scope"], "spec.scope"));
      size_t s = 0;
      while (!scope.empty() && s <= scope.size()) {
        size_t bar = scope.find('|', s);
        std::string r = scope.substr(s, bar == std::string::npos ? std::string::npos : bar - s);
        if (r != "master" && r != "node")
          return Err(spec["scope"], "Plugin " + p.name + ": unknown scope \"" + r + "\" (master, node)");
        p.scope.push_back(r);
        if (bar == std::string::npos) break;
        s = bar + 1;
      }
    }
    if (!spec["data"]) return Err(spec, "Plugin " + p.name + ": spec.data is required");
    ASSIGN_OR_RETURN(p.data, Str(spec["data"], "spec.data"));
    return p;
  }

};

}  // namespace

namespace {

// The apiVersions each kind is accepted with ("" ends a list).
struct KindInfo {
  const char* kind;
  const char* api[5];
};
constexpr KindInfo kKinds[] = {
    {"Cluster", {"sealer.io/v2", "sealer.cloud/v2", ""}},
    {"Plugin", {"sealer.io/v2", "sealer.cloud/v2", "sealer.io/v1", "sealer.cloud/v1", ""}},
    {"Config", {"sealer.io/v2", "sealer.cloud/v2", "sealer.io/v1", "sealer.cloud/v1", ""}},
    {"Application", {"sealer.io/v2", "sealer.cloud/v2", ""}},
};

// The kind of doc, checked against its apiVersion.
Result<std::string> DocKind(const Parser& p, const YAML::Node& doc) {
  if (!doc.IsMap()) return p.Err(doc, "a document must be a mapping");
  if (!doc["apiVersion"]) return p.Err(doc, "apiVersion is required");
  ASSIGN_OR_RETURN(std::string api, p.Str(doc["apiVersion"], "apiVersion"));
  if (!doc["kind"]) return p.Err(doc, "kind is required");
  ASSIGN_OR_RETURN(std::string kind, p.Str(doc["kind"], "kind"));
  if (IsKubeadmKind(kind)) {
    if (KubeadmApiVersionOk(kind, api)) return kind;
    return p.Err(doc["apiVersion"], "apiVersion \"" + api + "\" is not supported for kind " +
                                        kind + " (" + KubeadmApiVersions(kind) + ")");
  }
  std::string kinds;
  for (const KindInfo& k : kKinds) {
    kinds += (kinds.empty() ? "" : ", ") + std::string(k.kind);
    if (kind != k.kind) continue;
    std::string apis;
    for (const char* const* a = k.api; **a; a++) {
      if (api == *a) return kind;
      apis += (apis.empty() ? "" : ", ") + std::string(*a);
    }
    return p.Err(doc["apiVersion"],
                 "apiVersion \"" + api + "\" is not supported for kind " + kind + " (" + apis + ")");
  }
  return p.Err(doc["kind"], "kind \"" + kind + "\" is not supported (" + kinds +
                                ", InitConfiguration, ClusterConfiguration, JoinConfiguration, "
                                "KubeletConfiguration, KubeProxyConfiguration)");
}

// One document into c.
Status AddDoc(const Parser& p, const YAML::Node& doc, Clusterfile* c, bool* have_cluster) {
  ASSIGN_OR_RETURN(const std::string kind, DocKind(p, doc));
  if (kind == "Cluster") {
    if (*have_cluster) return p.Err(doc, "a second kind: Cluster document");
    *have_cluster = true;
    return p.Cluster(doc, c);
  }
  if (kind == "Plugin") {
    ASSIGN_OR_RETURN(Plugin pl, p.PluginDoc(doc));
    c->plugins.push_back(std::move(pl));
  } else if (kind == "Config") {
    ASSIGN_OR_RETURN(ConfigDoc cd, ParseConfigDoc(p, doc));
    c->configs.push_back(std::move(cd));
  } else if (kind == "Application") {
    if (c->application) return p.Err(doc, "a second kind: Application document");
    ASSIGN_OR_RETURN(c->application, ParseApplicationDoc(p, doc));
    c->application_yaml = YAML::Dump(doc) + "\n";
  } else if (IsKubeadmKind(kind)) {
    for (const auto& k : c->kubeadm)
      if (k.kind == kind) return p.Err(doc, "a second kind: " + kind + " document");
    c->kubeadm.push_back({kind, doc["apiVersion"].Scalar(), YAML::Dump(doc) + "\n"});
  }
  return Status::Ok();
}

}  // namespace

Result<Clusterfile> ParseClusterfile(const std::string& text, const std::string& file) {
  Parser p(file);
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  Clusterfile c;
  bool have_cluster = false;
  try {
    for (const auto& doc : docs)
      if (!doc.IsNull()) RETURN_IF_ERROR(AddDoc(p, doc, &c, &have_cluster));
  } catch (const YAML::Exception& e) {
    return Status::Invalid(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!have_cluster) return Status::Invalid(file + ":1: no kind: Cluster document");
  return c;
}

Result<std::vector<Plugin>> ParsePluginDocs(const std::string& text, const std::string& file) {
  Parser p(file);
  std::vector<Plugin> out;
  try {
    for (const auto& doc : YAML::LoadAll(text)) {
      if (doc.IsNull() || !doc.IsMap() || !doc["kind"] || doc["kind"].Scalar() != "Plugin") continue;
      ASSIGN_OR_RETURN(Plugin pl, p.PluginDoc(doc));
      out.push_back(std::move(pl));
    }
  } catch (const YAML::Exception& e) {
    return Status::Invalid(file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return out;
}

Result<Clusterfile> LoadClusterfile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return Status::NotFound("Clusterfile " + path + ": " + text.status().message());
  return ParseClusterfile(*text, path);
}

std::vector<Clusterfile::Host> Clusterfile::Hosts() const {
  std::map<std::string, std::string> base;
  for (const auto& kv : env)  // sealer drops the keys it derives (registry_spec.h)
    if (auto p = ParseEnvEntry(kv); p.ok() && !IsDerivedEnvKey(p->first)) base[p->first] = p->second;
  std::vector<Host> masters, nodes;
  for (const auto& g : hosts) {
    bool m = std::find(g.roles.begin(), g.roles.end(), "master") != g.roles.end();
    for (const auto& ip : g.ips) {
      Host h;
      h.ip = ip;
      h.master = m;
      h.ssh = ssh.Merge(g.ssh);
      h.env = base;
      for (const auto& kv : g.env)
        if (auto p = ParseEnvEntry(kv); p.ok()) h.env[p->first] = p->second;
      h.labels = g.labels;
      h.taints = g.taints;
      (m ? masters : nodes).push_back(std::move(h));
    }
  }
  for (auto& n : nodes) masters.push_back(std::move(n));
  return masters;
}

namespace {
void EmitSsh(YAML::Emitter& e, const SshSpec& s) {
  e << YAML::BeginMap;
  if (s.user) e << YAML::Key << "user" << YAML::Value << *s.user;
  if (s.passwd) e << YAML::Key << "passwd" << YAML::Value << *s.passwd;
  if (s.pk) e << YAML::Key << "pk" << YAML::Value << *s.pk;
  if (s.pk_passwd) e << YAML::Key << "pkPasswd" << YAML::Value << *s.pk_passwd;
  if (s.port) e << YAML::Key << "port" << YAML::Value << std::to_string(*s.port);
  e << YAML::EndMap;
}
std::string EmitConfigDoc(const ConfigDoc& c) {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "sealer.io/v1" << YAML::Key
    << "kind" << YAML::Value << "Config" << YAML::Key << "metadata" << YAML::Value
    << YAML::BeginMap << YAML::Key << "name" << YAML::Value << c.name << YAML::EndMap
    << YAML::Key << "spec" << YAML::Value << YAML::BeginMap << YAML::Key << "path"
    << YAML::Value << c.path;
  if (!c.app_name.empty()) e << YAML::Key << "appName" << YAML::Value << c.app_name;
  if (!c.strategy.empty()) e << YAML::Key << "strategy" << YAML::Value << c.strategy;
  if (!c.process.empty()) e << YAML::Key << "process" << YAML::Value << c.process;
  e << YAML::Key << "data" << YAML::Value << YAML::Literal << c.data << YAML::EndMap
    << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}
void EmitRegistry(YAML::Emitter& e, const Clusterfile& c) {
  auto endpoint = [&](const char* key, const RegistryEndpoint& r, bool local) {
    e << YAML::Key << key << YAML::Value << YAML::BeginMap << YAML::Key << "domain"
      << YAML::Value << r.domain;
    if (r.port) e << YAML::Key << "port" << YAML::Value << r.port;
    if (local)  // always explicit: the saved Clusterfile keeps what was deployed
      e << YAML::Key << "insecure" << YAML::Value << !r.tls << YAML::Key << "ha" << YAML::Value
        << r.ha;
    if (!r.san_dns.empty() || !r.san_ips.empty())
      e << YAML::Key << "cert" << YAML::Value << YAML::BeginMap << YAML::Key << "subjectAltName"
        << YAML::Value << YAML::BeginMap << YAML::Key << "dnsNames" << YAML::Value << YAML::Flow
        << r.san_dns << YAML::Key << "ips" << YAML::Value << YAML::Flow << r.san_ips
        << YAML::EndMap << YAML::EndMap;
    if (!r.username.empty())
      e << YAML::Key << "username" << YAML::Value << r.username << YAML::Key << "password"
        << YAML::Value << r.password;
    e << YAML::EndMap;
  };
  if (c.registry.local || c.registry.external) {
    e << YAML::Key << "registry" << YAML::Value << YAML::BeginMap;
    if (c.registry.local) endpoint("localRegistry", *c.registry.local, true);
    if (c.registry.external) endpoint("externalRegistry", *c.registry.external, false);
    e << YAML::EndMap;
  }
  if (!c.container_runtime.empty())
    e << YAML::Key << "containerRuntime" << YAML::Value << YAML::BeginMap << YAML::Key << "type"
      << YAML::Value << c.container_runtime << YAML::EndMap;
}
bool Empty(const SshSpec& s) { return !s.user && !s.passwd && !s.pk && !s.pk_passwd && !s.port; }
}  // namespace

std::string EmitClusterfile(const Clusterfile& c) {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "sealer.io/v2"
    << YAML::Key << "kind" << YAML::Value << "Cluster" << YAML::Key << "metadata" << YAML::Value
    << YAML::BeginMap << YAML::Key << "name" << YAML::Value << c.name << YAML::Key
    << "annotations" << YAML::Value << YAML::BeginMap << YAML::Key << kRegistryDefaultsAnnotation
    << YAML::Value << (c.registry.legacy_defaults ? "plain" : "sealer") << YAML::EndMap
    << YAML::EndMap << YAML::Key << "spec" << YAML::Value << YAML::BeginMap << YAML::Key
    << "image" << YAML::Value << c.image;
  if (!c.env.empty()) e << YAML::Key << "env" << YAML::Value << c.env;
  if (!c.cmd.empty()) e << YAML::Key << "cmd" << YAML::Value << c.cmd;
  if (!Empty(c.ssh)) {
    e << YAML::Key << "ssh" << YAML::Value;
    EmitSsh(e, c.ssh);
  }
  EmitRegistry(e, c);
  if (c.has_app_names) e << YAML::Key << "appNames" << YAML::Value << c.app_names;
  e << YAML::Key << "hosts" << YAML::Value << YAML::BeginSeq;
  for (const auto& g : c.hosts) {
    e << YAML::BeginMap << YAML::Key << "ips" << YAML::Value << YAML::Flow << g.ips
      << YAML::Key << "roles" << YAML::Value << YAML::Flow << g.roles;
    if (!Empty(g.ssh)) {
      e << YAML::Key << "ssh" << YAML::Value;
      EmitSsh(e, g.ssh);
    }
    if (!g.env.empty()) e << YAML::Key << "env" << YAML::Value << g.env;
    if (!g.labels.empty()) e << YAML::Key << "labels" << YAML::Value << g.labels;
    if (!g.taints.empty()) e << YAML::Key << "taints" << YAML::Value << g.taints;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap << YAML::EndMap;
  std::string out = std::string(e.c_str()) + "\n";
  for (const auto& p : c.plugins) {
    YAML::Emitter pe;
    std::string action, scope;
    for (const auto& ph : p.phases) action += (action.empty() ? "" : "|") + ph;
    for (const auto& s : p.scope) scope += (scope.empty() ? "" : "|") + s;
    pe << YAML::BeginMap << YAML::Key << "apiVersion" << YAML::Value << "sealer.io/v2"
       << YAML::Key << "kind" << YAML::Value << "Plugin" << YAML::Key << "metadata"
       << YAML::Value << YAML::BeginMap << YAML::Key << "name" << YAML::Value << p.name
       << YAML::EndMap << YAML::Key << "spec" << YAML::Value << YAML::BeginMap << YAML::Key
       << "type" << YAML::Value << "SHELL" << YAML::Key << "action" << YAML::Value << action;
    if (!scope.empty()) pe << YAML::Key << "scope" << YAML::Value << scope;
    pe << YAML::Key << "data" << YAML::Value << YAML::Literal << p.data << YAML::EndMap
       << YAML::EndMap;
    out += "---\n" + std::string(pe.c_str()) + "\n";
  }
  for (const auto& cd : c.configs) out += "---\n" + EmitConfigDoc(cd);
  if (c.application) out += "---\n" + c.application_yaml;
  for (const auto& k : c.kubeadm) out += "---\n" + k.yaml;
  return out;
}

}  // namespace cfs::deploy
