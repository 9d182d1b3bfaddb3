#include "registry/policy.h"

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/coding.h"
#include "base/io.h"

namespace cfs::registry {

using Requirements = std::vector<PolicyRequirement>;

struct SignaturePolicy::Data {
  Requirements default_reqs;
  std::map<std::string, std::map<std::string, Requirements>> transports;
};

namespace {

using nlohmann::json;

Status CheckKeys(const json& j, const std::string& what, const std::set<std::string>& allowed) {
  if (!j.is_object()) return Status::Invalid(what + " is not a JSON object");
  for (const auto& [k, v] : j.items())
    if (!allowed.count(k)) return Status::Invalid(what + ": unknown field \"" + k + "\"");
  return Status::Ok();
}

Result<std::string> Str(const json& j, const char* k, const std::string& what) {
  if (!j.contains(k)) return std::string();
  if (!j[k].is_string()) return Status::Invalid(what + ": \"" + k + "\" is not a string");
  return j[k].get<std::string>();
}

Result<std::string> Base64Field(const json& v, const std::string& what) {
  if (!v.is_string()) return Status::Invalid(what + " is not a string");
  auto r = Base64Decode(v.get<std::string>());
  if (!r.ok()) return Status::Invalid(what + " is not base64");
  return r;
}

Result<SignedIdentity> ParseIdentity(const json& j, const std::string& what) {
  SignedIdentity id;
  if (j.is_null()) return id;
  using T = SignedIdentity::Type;
  static const std::map<std::string, std::pair<T, std::set<std::string>>> kinds = {
      {"matchRepoDigestOrExact", {T::kMatchRepoDigestOrExact, {"type"}}},
      {"matchExact", {T::kMatchExact, {"type"}}},
      {"matchRepository", {T::kMatchRepository, {"type"}}},
      {"exactReference", {T::kExactReference, {"type", "dockerReference"}}},
      {"exactRepository", {T::kExactRepository, {"type", "dockerRepository"}}},
      {"remapIdentity", {T::kRemapIdentity, {"type", "prefix", "signedPrefix"}}}};
  ASSIGN_OR_RETURN(std::string type, Str(j, "type", what));
  auto k = kinds.find(type);
  if (k == kinds.end()) return Status::Invalid(what + ": unknown type \"" + type + "\"");
  RETURN_IF_ERROR(CheckKeys(j, what, k->second.second));
  id.type = k->second.first;
  const char* ref_key = id.type == T::kExactReference ? "dockerReference" : "dockerRepository";
  ASSIGN_OR_RETURN(id.reference, Str(j, ref_key, what));
  ASSIGN_OR_RETURN(id.prefix, Str(j, "prefix", what));
  ASSIGN_OR_RETURN(id.signed_prefix, Str(j, "signedPrefix", what));
  if ((id.type == T::kExactReference || id.type == T::kExactRepository) && id.reference.empty())
    return Status::Invalid(what + ": \"" + ref_key + "\" missing");
  if (id.type == T::kRemapIdentity && (id.prefix.empty() || id.signed_prefix.empty()))
    return Status::Invalid(what + ": remapIdentity needs prefix and signedPrefix");
  return id;
}

Status ParseSigstore(const json& j, const std::string& what, PolicyRequirement* r) {
  RETURN_IF_ERROR(CheckKeys(j, what, {"type", "keyPath", "keyPaths", "keyData", "keyDatas", "fulcio",
                                      "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
                                      "rekorPublicKeyDatas", "pki", "signedIdentity"}));
  int sources = 0;
  ASSIGN_OR_RETURN(std::string path, Str(j, "keyPath", what));
  if (!path.empty()) r->key_paths.push_back(path), sources++;
  if (j.contains("keyPaths")) {
    if (!j["keyPaths"].is_array() || j["keyPaths"].empty()) return Status::Invalid(what + ": keyPaths is not a list of paths");
    for (const auto& p : j["keyPaths"]) {
      if (!p.is_string()) return Status::Invalid(what + ": keyPaths is not a list of paths");
      r->key_paths.push_back(p.get<std::string>());
    }
    sources++;
  }
  if (j.contains("keyData")) {
    ASSIGN_OR_RETURN(std::string d, Base64Field(j["keyData"], what + ": keyData"));
    r->key_datas.push_back(std::move(d));
    sources++;
  }
  if (j.contains("keyDatas")) {
    if (!j["keyDatas"].is_array() || j["keyDatas"].empty()) return Status::Invalid(what + ": keyDatas is not a list");
    for (const auto& v : j["keyDatas"]) {
      ASSIGN_OR_RETURN(std::string d, Base64Field(v, what + ": keyDatas"));
      r->key_datas.push_back(std::move(d));
    }
    sources++;
  }
  for (const char* k : {"fulcio", "pki", "rekorPublicKeyPath", "rekorPublicKeyPaths", "rekorPublicKeyData",
                        "rekorPublicKeyDatas"})
    if (j.contains(k)) {
      r->type = PolicyRequirement::Type::kUnsupported;
      r->unsupported = std::string("cimg does not verify sigstore signatures with ") + k;
      sources++;
    }
  if (sources == 0) return Status::Invalid(what + ": sigstoreSigned needs one of keyPath, keyPaths, keyData, keyDatas");
  if (sources > 1 && r->type != PolicyRequirement::Type::kUnsupported)
    return Status::Invalid(what + ": sigstoreSigned takes only one of keyPath, keyPaths, keyData, keyDatas");
  ASSIGN_OR_RETURN(r->identity, ParseIdentity(j.value("signedIdentity", json()), what + ": signedIdentity"));
  return Status::Ok();
}

Result<PolicyRequirement> ParseRequirement(const json& j, const std::string& what) {
  if (!j.is_object()) return Status::Invalid(what + " is not a JSON object");
  PolicyRequirement r;
  ASSIGN_OR_RETURN(r.name, Str(j, "type", what));
  using T = PolicyRequirement::Type;
  if (r.name == "insecureAcceptAnything" || r.name == "reject") {
    RETURN_IF_ERROR(CheckKeys(j, what, {"type"}));
    r.type = r.name == "reject" ? T::kReject : T::kInsecureAcceptAnything;
  } else if (r.name == "sigstoreSigned") {
    r.type = T::kSigstoreSigned;
    RETURN_IF_ERROR(ParseSigstore(j, what, &r));
  } else if (r.name == "signedBy" || r.name == "signedBaseLayer") {
    r.type = T::kUnsupported;
    r.unsupported = "cimg does not verify " + r.name + " (GPG) signatures";
  } else {
    return Status::Invalid(what + ": unknown policy requirement type \"" + r.name + "\"");
  }
  return r;
}

Result<Requirements> ParseRequirements(const json& j, const std::string& what) {
  if (!j.is_array()) return Status::Invalid(what + " is not a list of requirements");
  if (j.empty()) return Status::Invalid(what + ": the list of requirements must not be empty");
  Requirements out;
  for (size_t i = 0; i < j.size(); i++) {
    ASSIGN_OR_RETURN(auto r, ParseRequirement(j[i], what + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(r));
  }
  return out;
}

Status CheckScope(const std::string& transport, const std::string& scope, const std::string& what) {
  if (scope.empty()) return Status::Ok();
  if (transport == "docker-archive") return Status::Invalid(what + ": docker-archive takes no scope but \"\"");
  if (transport == "oci" || transport == "oci-archive") {
    if (scope[0] != '/') return Status::Invalid(what + ": must be an absolute path");
    if (scope.find("//") != std::string::npos || scope.find("/./") != std::string::npos ||
        scope.find("/../") != std::string::npos || scope.back() == '/')
      return Status::Invalid(what + ": not a clean path");
  }
  return Status::Ok();
}

std::string Quoted(const std::string& s) { return json(s).dump(); }

// Line of byte offset `pos` in text.
size_t LineOf(std::string_view text, size_t pos) {
  size_t line = 1;
  for (size_t i = 0; i < pos && i < text.size(); i++) line += text[i] == '\n';
  return line;
}

}  // namespace

bool PolicyScope::AcceptsAnything() const {
  if (!requirements) return true;
  for (const auto& r : *requirements)
    if (r.type != PolicyRequirement::Type::kInsecureAcceptAnything) return false;
  return true;
}

SignaturePolicy::SignaturePolicy() {
  auto d = std::make_shared<Data>();
  PolicyRequirement accept;
  accept.type = PolicyRequirement::Type::kInsecureAcceptAnything;
  accept.name = "insecureAcceptAnything";
  d->default_reqs.push_back(accept);
  d_ = std::move(d);
}

Result<SignaturePolicy> SignaturePolicy::Parse(std::string_view text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return Status::Invalid(path + ":" + std::to_string(LineOf(text, e.byte)) + ": not JSON");
  }
  RETURN_IF_ERROR(CheckKeys(j, "policy", {"default", "transports"}).Prefix(path));
  if (!j.contains("default")) return Status::Invalid(path + ": the default policy is missing");
  auto d = std::make_shared<Data>();
  auto reqs = ParseRequirements(j["default"], "default");
  if (!reqs.ok()) return reqs.status().Prefix(path);
  d->default_reqs = std::move(*reqs);
  const json& ts = j.value("transports", json::object());
  if (!ts.is_object()) return Status::Invalid(path + ": transports is not an object");
  for (const auto& [t, scopes] : ts.items()) {
    if (!scopes.is_object()) return Status::Invalid(path + ": transports." + t + " is not an object");
    for (const auto& [scope, list] : scopes.items()) {
      const std::string what = "transports." + t + "[" + Quoted(scope) + "]";
      RETURN_IF_ERROR(CheckScope(t, scope, what).Prefix(path));
      auto r = ParseRequirements(list, what);
      if (!r.ok()) return r.status().Prefix(path);
      d->transports[t][scope] = std::move(*r);
    }
  }
  SignaturePolicy p;
  p.d_ = std::move(d);
  p.path_ = path;
  return p;
}

Result<SignaturePolicy> SignaturePolicy::LoadFile(const std::string& path) {
  auto text = ReadFile(path, 16 << 20);
  if (!text.ok()) return text.status().Prefix(path);
  return Parse(*text, path);
}

std::string SignaturePolicy::DefaultPath() {
  if (const char* e = std::getenv("CONTAINERS_POLICY"); e && *e) return e;
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::string user = std::string(home) + "/.config/containers/policy.json";
    if (PathExists(user)) return user;
  }
  return PathExists("/etc/containers/policy.json") ? "/etc/containers/policy.json" : "";
}

Result<SignaturePolicy> SignaturePolicy::LoadDefault() {
  std::string path = DefaultPath();
  if (path.empty()) return SignaturePolicy();
  return LoadFile(path);
}

PolicyScope SignaturePolicy::For(const std::string& transport, const std::string& identity,
                                 const std::vector<std::string>& namespaces) const {
  const std::string file = path_.empty() ? "(no policy file)" : path_;
  auto t = d_->transports.find(transport);
  if (t != d_->transports.end()) {
    std::vector<std::string> tries;
    if (!identity.empty()) tries.push_back(identity);
    tries.insert(tries.end(), namespaces.begin(), namespaces.end());
    tries.push_back("");
    for (const auto& s : tries) {
      auto hit = t->second.find(s);
      if (hit != t->second.end())
        return {&hit->second, file + " transports." + transport + "[" + Quoted(s) + "]"};
    }
  }
  return {&d_->default_reqs, file + " default"};
}

PolicyScope SignaturePolicy::ForDocker(const Reference& ref) const {
  return For("docker", DockerPolicyIdentity(ref), DockerPolicyNamespaces(ref));
}

PolicyScope SignaturePolicy::ForLocal(const std::string& transport, const std::string& path) const {
  std::vector<std::string> ns;
  if (transport != "docker-archive") {
    std::string p = path;
    while (p.size() > 1) {
      size_t slash = p.rfind('/');
      if (slash == std::string::npos || slash == 0) break;
      p.resize(slash);
      ns.push_back(p);
    }
  }
  return For(transport, transport == "docker-archive" ? "" : path, ns);
}

std::string DockerPolicyIdentity(const Reference& ref) {
  std::string s = ref.registry + "/" + ref.repository;
  if (!ref.tag.empty()) return s + ":" + ref.tag;
  return ref.digest ? s + "@" + ref.digest->ToString() : s;
}

std::vector<std::string> DockerPolicyNamespaces(const Reference& ref) {
  std::vector<std::string> out;
  std::string name = ref.registry + "/" + ref.repository;
  while (true) {
    out.push_back(name);
    size_t slash = name.rfind('/');
    if (slash == std::string::npos) break;
    name.resize(slash);
  }
  if (size_t colon = name.find(':'); colon != std::string::npos) name.resize(colon);
  for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.')) {
    name = name.substr(dot + 1);
    out.push_back("*." + name);
  }
  return out;
}

}  // namespace cfs::registry
