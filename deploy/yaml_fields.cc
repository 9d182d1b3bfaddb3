#include "deploy/yaml_fields.h"

#include <algorithm>

#include "deploy/clusterfile.h"

namespace cfs::deploy {

int YamlFields::Line(const YAML::Node& n) {
  int line = n.IsDefined() ? n.Mark().line + 1 : 0;
  return line > 0 ? line : 1;
}

Status YamlFields::Err(const YAML::Node& n, const std::string& why) const {
  return Status::Invalid(file_ + ":" + std::to_string(Line(n)) + ": " + why);
}

Status YamlFields::Keys(const YAML::Node& map, const std::string& where,
                        std::initializer_list<const char*> allowed) const {
  if (!map.IsMap()) return Err(map, where + " must be a mapping");
  for (const auto& kv : map) {
    std::string k = kv.first.Scalar();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; })) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Err(kv.first, "unknown field " + where + "." + k + " (known: " + list + ")");
    }
  }
  return Status::Ok();
}

Result<std::string> YamlFields::Str(const YAML::Node& n, const std::string& what) const {
  if (!n.IsScalar()) return Err(n, what + " must be a string");
  return n.Scalar();
}

Result<std::vector<std::string>> YamlFields::StrList(const YAML::Node& n,
                                                     const std::string& what) const {
  std::vector<std::string> out;
  if (n.IsNull()) return out;
  if (!n.IsSequence()) return Err(n, what + " must be a list");
  for (const auto& i : n) {
    ASSIGN_OR_RETURN(std::string s, Str(i, what + " item"));
    out.push_back(s);
  }
  return out;
}

Result<std::vector<std::string>> YamlFields::EnvList(const YAML::Node& n,
                                                     const std::string& what) const {
  ASSIGN_OR_RETURN(auto list, StrList(n, what));
  size_t i = 0;
  for (const auto& kv : list) {
    auto p = ParseEnvEntry(kv);
    if (!p.ok()) return Err(n[i], what + ": " + p.status().message());
    i++;
  }
  return list;
}

Result<bool> YamlFields::Bool(const YAML::Node& n, const std::string& what) const {
  ASSIGN_OR_RETURN(std::string s, Str(n, what));
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return Err(n, what + " \"" + s + "\" is not true or false");
}

Result<int> YamlFields::Port(const YAML::Node& n, const std::string& what) const {
  ASSIGN_OR_RETURN(std::string p, Str(n, what));
  int v = 0;
  bool ok = !p.empty() && p.size() <= 5 && std::all_of(p.begin(), p.end(), ::isdigit);
  if (ok) v = std::stoi(p);
  if (!ok || v < 1 || v > 65535)
    return Err(n, what + " \"" + p + "\" is not a port number (1-65535)");
  return v;
}

}  // namespace cfs::deploy
