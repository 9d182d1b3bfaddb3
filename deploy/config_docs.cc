#include "deploy/config_docs.h"

#include "base/coding.h"
#include "deploy/clusterfile_docs.h"
#include "deploy/yaml_data.h"

namespace cfs::deploy {

namespace {

constexpr const char* kProcessors[] = {"value", "toJson", "toBase64", "toSecret"};

// A string node that writes back quoted when it reads as another type.
YAML::Node StringNode(const std::string& s) {
  YAML::Node n(s);
  n.SetTag("!");
  return n;
}

// data as a map of top-level keys (the `value` processor's view).
Result<YAML::Node> DataMap(const std::string& data, const std::string& what) {
  ASSIGN_OR_RETURN(YAML::Node n, LoadYaml(data, what));
  if (n.IsNull()) return YAML::Node(YAML::NodeType::Map);
  if (!n.IsMap()) return Status::Invalid(what + ": data is not a YAML map");
  return n;
}

Result<std::string> ToJsonStep(const std::string& data, bool per_value) {
  if (!per_value) {
    ASSIGN_OR_RETURN(YAML::Node n, LoadYaml(data, "toJson"));
    return YamlToJson(n);
  }
  ASSIGN_OR_RETURN(YAML::Node map, DataMap(data, "toJson"));
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& kv : map) {
    auto json = YamlToJson(kv.second);
    if (!json.ok()) return json.status().Prefix("toJson: key " + kv.first.Scalar());
    out[kv.first.Scalar()] = StringNode(*json);
  }
  return EmitSortedYaml(out, 2);
}

Result<std::string> ToBase64Step(const std::string& data, bool per_value) {
  if (!per_value) return Base64Encode(data);
  ASSIGN_OR_RETURN(YAML::Node map, DataMap(data, "toBase64"));
  YAML::Node out(YAML::NodeType::Map);
  for (const auto& kv : map) {
    ASSIGN_OR_RETURN(std::string v, ScalarString(kv.second, "toBase64: key " + kv.first.Scalar()));
    out[kv.first.Scalar()] = StringNode(Base64Encode(v));
  }
  return EmitSortedYaml(out, 2);
}

// convertSecretYaml: the Secret manifest `existing` with each key of data
// (a map of strings) set in its `data`, base64-encoded; written back as
// sigs.k8s.io/yaml writes a corev1.Secret (known fields only, metadata with
// creationTimestamp, keys sorted).
Result<std::string> ToSecret(const std::string& existing, const std::string& data) {
  ASSIGN_OR_RETURN(YAML::Node secret, LoadYaml(existing, "toSecret: the target file"));
  if (!secret.IsNull() && !secret.IsMap())
    return Status::Invalid("toSecret: the target file is not a Secret manifest");
  ASSIGN_OR_RETURN(YAML::Node values, DataMap(data, "toSecret"));
  YAML::Node out(YAML::NodeType::Map);
  for (const char* k : {"apiVersion", "kind", "immutable", "stringData", "type"})
    if (secret.IsMap() && secret[k] && !secret[k].IsNull()) out[k] = YAML::Clone(secret[k]);
  YAML::Node md = secret.IsMap() && secret["metadata"] && secret["metadata"].IsMap()
                      ? YAML::Clone(secret["metadata"])
                      : YAML::Node(YAML::NodeType::Map);
  if (!md["creationTimestamp"]) md["creationTimestamp"] = YAML::Node(YAML::NodeType::Null);
  out["metadata"] = md;
  YAML::Node d = secret.IsMap() && secret["data"] && secret["data"].IsMap()
                     ? YAML::Clone(secret["data"])
                     : YAML::Node(YAML::NodeType::Map);
  for (const auto& kv : values) {
    ASSIGN_OR_RETURN(std::string v, ScalarString(kv.second, "toSecret: key " + kv.first.Scalar()));
    d[kv.first.Scalar()] = StringNode(Base64Encode(v));
  }
  if (d.size() > 0) out["data"] = d;
  return EmitSortedYaml(out, 2);
}

}  // namespace

// getMergeConfigData: data deep-merged into each "---\n"-separated document
// of `existing` (data wins), written as yaml.v3 writes maps.
Result<std::string> MergeYamlDocuments(const std::string& existing, const std::string& data) {
  ASSIGN_OR_RETURN(YAML::Node src, DataMap(data, "merge"));
  std::string out;
  size_t pos = 0;
  for (bool first = true; pos <= existing.size(); first = false) {
    size_t sep = existing.find("---\n", pos);
    std::string piece = existing.substr(pos, sep == std::string::npos ? std::string::npos : sep - pos);
    auto dst = DataMap(piece, "merge: the target file");
    if (!dst.ok()) return dst.status();
    DeepMergeOverride(*dst, src);
    out += (first ? "" : "---\n") + EmitSortedYaml(*dst, 4);
    if (sep == std::string::npos) break;
    pos = sep + 4;
  }
  return out;
}


Result<std::vector<std::string>> ConfigProcessors(const std::string& process) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos <= process.size();) {
    size_t bar = process.find('|', pos);
    std::string p = process.substr(pos, bar == std::string::npos ? std::string::npos : bar - pos);
    pos = bar == std::string::npos ? process.size() + 1 : bar + 1;
    if (p.empty()) continue;
    if (std::none_of(std::begin(kProcessors), std::end(kProcessors),
                     [&](const char* k) { return p == k; }))
      return Status::Invalid("unknown process \"" + p + "\" (value, toJson, toBase64, toSecret)");
    out.push_back(p);
  }
  return out;
}

Result<std::string> ProcessConfigData(const ConfigDoc& c) {
  ASSIGN_OR_RETURN(auto steps, ConfigProcessors(c.process));
  std::string data = c.data;
  bool per_value = false;
  for (const auto& p : steps) {
    if (p == "value") per_value = true;
    if (p == "toJson") { ASSIGN_OR_RETURN(data, ToJsonStep(data, per_value)); }
    if (p == "toBase64") { ASSIGN_OR_RETURN(data, ToBase64Step(data, per_value)); }
  }
  return data;
}

Result<std::string> ConfigTarget(const ConfigDoc& c) {
  std::string full = c.app_name.empty() ? c.path : "application/apps/" + c.app_name + "/" + c.path;
  std::string out;
  for (size_t pos = 0; pos <= full.size();) {
    size_t slash = full.find('/', pos);
    std::string part = full.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    pos = slash == std::string::npos ? full.size() + 1 : slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return Status::Invalid("path \"" + full + "\" leaves the rootfs");
    out += (out.empty() ? "" : "/") + part;
  }
  if (out.empty()) return Status::Invalid("path \"" + full + "\" names no file");
  return out;
}

Result<std::string> ApplyConfig(const ConfigDoc& c, const std::optional<std::string>& existing) {
  ASSIGN_OR_RETURN(std::string data, ProcessConfigData(c));
  if (!existing) return data;
  ASSIGN_OR_RETURN(auto steps, ConfigProcessors(c.process));
  if (std::find(steps.begin(), steps.end(), "toSecret") != steps.end()) {
    ASSIGN_OR_RETURN(data, ToSecret(*existing, data));
  }
  if (c.strategy == "merge") return MergeYamlDocuments(*existing, data);
  return data;
}

Result<std::map<std::string, std::string>> ConfigFiles(const std::vector<ConfigDoc>& configs,
                                                       const ReadImageFile& read) {
  std::map<std::string, std::string> files;
  for (const auto& c : configs) {
    auto target = ConfigTarget(c);
    if (!target.ok()) return target.status().Prefix("Config " + c.name);
    std::optional<std::string> existing;
    if (auto it = files.find(*target); it != files.end()) {
      existing = it->second;
    } else {
      auto r = read(*target);
      if (!r.ok()) return r.status().Prefix("Config " + c.name + ": " + *target);
      existing = *r;
    }
    auto out = ApplyConfig(c, existing);
    if (!out.ok()) return out.status().Prefix("Config " + c.name + ": " + *target);
    files[*target] = std::move(*out);
  }
  return files;
}

Result<ConfigDoc> ParseConfigDoc(const YamlFields& f, const YAML::Node& doc) {
  RETURN_IF_ERROR(f.Keys(doc, "Config", {"apiVersion", "kind", "metadata", "spec"}));
  ConfigDoc c;
  const YAML::Node md = doc["metadata"];
  if (!md || !md["name"]) return f.Err(md ? md : doc, "Config: metadata.name is required");
  RETURN_IF_ERROR(f.Keys(md, "metadata", {"name", "labels", "annotations"}));
  ASSIGN_OR_RETURN(c.name, f.Str(md["name"], "metadata.name"));
  const YAML::Node spec = doc["spec"];
  if (!spec) return f.Err(doc, "Config " + c.name + ": spec is required");
  RETURN_IF_ERROR(
      f.Keys(spec, "Config spec", {"path", "appName", "strategy", "process", "data"}));
  if (!spec["path"]) return f.Err(spec, "Config " + c.name + ": spec.path is required");
  ASSIGN_OR_RETURN(c.path, f.Str(spec["path"], "spec.path"));
  if (!spec["data"]) return f.Err(spec, "Config " + c.name + ": spec.data is required");
  ASSIGN_OR_RETURN(c.data, f.Str(spec["data"], "spec.data"));
  if (c.path.empty()) return f.Err(spec["path"], "Config " + c.name + ": spec.path is empty");
  if (c.data.empty()) return f.Err(spec["data"], "Config " + c.name + ": spec.data is empty");
  if (spec["appName"]) { ASSIGN_OR_RETURN(c.app_name, f.Str(spec["appName"], "spec.appName")); }
  if (spec["strategy"]) { ASSIGN_OR_RETURN(c.strategy, f.Str(spec["strategy"], "spec.strategy")); }
  if (!c.strategy.empty() && c.strategy != "merge" && c.strategy != "overwrite")
    return f.Err(spec["strategy"], "Config " + c.name + ": unknown strategy \"" + c.strategy +
                                       "\" (overwrite, merge)");
  if (spec["process"]) { ASSIGN_OR_RETURN(c.process, f.Str(spec["process"], "spec.process")); }
  if (auto p = ConfigProcessors(c.process); !p.ok())
    return f.Err(spec["process"], "Config " + c.name + ": " + p.status().message());
  if (auto t = ConfigTarget(c); !t.ok())
    return f.Err(spec["path"], "Config " + c.name + ": " + t.status().message());
  return c;
}

}  // namespace cfs::deploy
