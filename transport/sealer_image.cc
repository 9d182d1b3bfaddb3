#include "transport/sealer_image.h"

#include <nlohmann/json.hpp>

namespace cfs {

namespace {

// Written in the field order of sealer's Go structs (what json.Marshal
// emits); Go writes map keys sorted, as std::map iterates.
using ojson = nlohmann::ordered_json;
using nlohmann::json;

// Readers: a missing or null member is empty; a member of another type is an
// error naming it (Go's Unmarshal fails the same way).
Status ReadString(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return Status::Invalid(std::string("\"") + key + "\" is not a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadStrings(const json& j, const char* key, std::vector<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_array()) return Status::Invalid(std::string("\"") + key + "\" is not a list");
  for (const auto& v : *it) {
    if (!v.is_string()) return Status::Invalid(std::string("\"") + key + "\" holds a non-string");
    out->push_back(v.get<std::string>());
  }
  return Status::Ok();
}

Status ReadMap(const json& j, const char* key, std::map<std::string, std::string>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return Status::Invalid(std::string("\"") + key + "\" is not an object");
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string())
      return Status::Invalid(std::string("\"") + key + "\": \"" + k + "\" is not a string");
    (*out)[k] = v.get<std::string>();
  }
  return Status::Ok();
}

Status ReadObject(const json& j, const char* key, const json** out) {
  static const json kEmpty = json::object();
  *out = &kEmpty;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_object()) return Status::Invalid(std::string("\"") + key + "\" is not an object");
  *out = &*it;
  return Status::Ok();
}

Result<SealerApp> ReadApp(const json& a) {
  if (!a.is_object()) return Status::Invalid("an application is not an object");
  SealerApp app;
  app.version.clear();
  RETURN_IF_ERROR(ReadString(a, "name", &app.name));
  RETURN_IF_ERROR(ReadString(a, "type", &app.type));
  RETURN_IF_ERROR(ReadStrings(a, "files", &app.files));
  RETURN_IF_ERROR(ReadString(a, "version", &app.version));
  RETURN_IF_ERROR(ReadMap(a, "env", &app.env));
  RETURN_IF_ERROR(ReadStrings(a, "cmds", &app.cmds));
  return app;
}

Status ReadExtension(const json& j, SealerImageExtension* ext) {
  if (!j.is_object()) return Status::Invalid("not a JSON object");
  const json* client;
  RETURN_IF_ERROR(ReadObject(j, "buildClient", &client));
  RETURN_IF_ERROR(ReadString(*client, "sealerVersion", &ext->sealer_version));
  RETURN_IF_ERROR(ReadString(*client, "buildahVersion", &ext->buildah_version));
  RETURN_IF_ERROR(ReadString(j, "schemaVersion", &ext->schema_version));
  RETURN_IF_ERROR(ReadString(j, "type", &ext->type));
  if (auto it = j.find("applications"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return Status::Invalid("\"applications\" is not a list");
    for (const auto& a : *it) {
      ASSIGN_OR_RETURN(SealerApp app, ReadApp(a));
      ext->applications.push_back(std::move(app));
    }
  }
  RETURN_IF_ERROR(ReadMap(j, "labels", &ext->labels));
  RETURN_IF_ERROR(ReadMap(j, "env", &ext->env));
  const json* launch;
  RETURN_IF_ERROR(ReadObject(j, "launch", &launch));
  RETURN_IF_ERROR(ReadStrings(*launch, "cmds", &ext->launch_cmds));
  return ReadStrings(*launch, "app_names", &ext->launch_apps);
}

ojson AppJson(const SealerApp& a) {
  ojson j = {{"name", a.name}};
  if (!a.type.empty()) j["type"] = a.type;
  if (!a.files.empty()) j["files"] = a.files;
  if (!a.version.empty()) j["version"] = a.version;
  if (!a.env.empty()) j["env"] = a.env;
  if (!a.cmds.empty()) j["cmds"] = a.cmds;
  return j;
}

}  // namespace

const SealerApp* SealerImageExtension::App(const std::string& name) const {
  for (const auto& a : applications)
    if (a.name == name) return &a;
  return nullptr;
}

std::string SealerImageExtension::ToJson() const {
  ojson j;
  j["buildClient"] = {{"sealerVersion", sealer_version}, {"buildahVersion", buildah_version}};
  j["schemaVersion"] = schema_version;
  if (!type.empty()) j["type"] = type;
  if (!applications.empty()) {
    j["applications"] = ojson::array();
    for (const auto& a : applications) j["applications"].push_back(AppJson(a));
  }
  if (!labels.empty()) j["labels"] = labels;
  if (!env.empty()) j["env"] = env;
  // Go's omitempty never omits a struct: "launch" is always there.
  j["launch"] = ojson::object();
  if (!launch_cmds.empty()) j["launch"]["cmds"] = launch_cmds;
  if (!launch_apps.empty()) j["launch"]["app_names"] = launch_apps;
  return j.dump();
}

Result<SealerImageExtension> ParseSealerImageExtension(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return Status::Invalid(std::string(kSealerImageExtension) + ": not JSON");
  SealerImageExtension ext;
  ext.schema_version.clear();
  ext.type.clear();
  RETURN_IF_ERROR(ReadExtension(j, &ext).Prefix(kSealerImageExtension));
  return ext;
}

std::string SealerContainerImagesJson(const std::vector<SealerContainerImage>& images) {
  ojson list = ojson::array();
  for (const auto& i : images) {
    ojson e = {{"image", i.image}};
    if (!i.app_name.empty()) e["appName"] = i.app_name;
    ojson p = ojson::object();
    if (!i.arch.empty()) p["architecture"] = i.arch;
    if (!i.os.empty()) p["os"] = i.os;
    if (!i.variant.empty()) p["variant"] = i.variant;
    e["platform"] = p;
    list.push_back(e);
  }
  return list.dump();
}

Result<std::vector<SealerContainerImage>> ParseSealerContainerImages(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  const std::string what = kSealerContainerImages;
  if (j.is_discarded() || !j.is_array()) return Status::Invalid(what + ": not a JSON list");
  std::vector<SealerContainerImage> out;
  for (const auto& e : j) {
    if (!e.is_object()) return Status::Invalid(what + ": an entry is not an object");
    SealerContainerImage i;
    RETURN_IF_ERROR(ReadString(e, "image", &i.image).Prefix(what));
    RETURN_IF_ERROR(ReadString(e, "appName", &i.app_name).Prefix(what));
    const json* p;
    RETURN_IF_ERROR(ReadObject(e, "platform", &p).Prefix(what));
    RETURN_IF_ERROR(ReadString(*p, "architecture", &i.arch).Prefix(what));
    RETURN_IF_ERROR(ReadString(*p, "os", &i.os).Prefix(what));
    RETURN_IF_ERROR(ReadString(*p, "variant", &i.variant).Prefix(what));
    out.push_back(std::move(i));
  }
  return out;
}

}  // namespace cfs
