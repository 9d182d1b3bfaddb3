#include "registry/sigstore_attachments.h"

#include <nlohmann/json.hpp>

#include "base/io.h"

namespace cfs::registry::sigstore {

namespace {

using nlohmann::json;

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciConfig = "application/vnd.oci.image.config.v1+json";
constexpr size_t kMaxPayload = 4 << 20;

// The layers of an attachment manifest ("" bytes: none yet).
Result<json> Layers(const std::string& manifest, const std::string& what) {
  if (manifest.empty()) return json::array();
  json m = json::parse(manifest, nullptr, false);
  if (!m.is_object() || m.value("mediaType", std::string(kOciManifest)) != kOciManifest)
    return Status::Invalid(what + ": not an OCI image manifest");
  if (!m.contains("layers")) return json::array();
  if (!m["layers"].is_array()) return Status::Invalid(what + ": layers is not a list");
  return m["layers"];
}

Result<Descriptor> ParseLayer(const json& l, const std::string& what) {
  Descriptor d;
  if (!l.is_object() || !l["digest"].is_string() || !l["size"].is_number_unsigned())
    return Status::Invalid(what + ": a layer without digest or size");
  ASSIGN_OR_RETURN(d.digest, Digest::Parse(l["digest"].get<std::string>()));
  d.size = l["size"].get<uint64_t>();
  d.media_type = l.value("mediaType", "");
  if (l.contains("annotations") && l["annotations"].is_object())
    for (const auto& [k, v] : l["annotations"].items())
      if (v.is_string()) d.annotations[k] = v.get<std::string>();
  return d;
}

// The attachment manifest of d, "" when the repository has none.
Result<std::string> AttachmentManifest(Client& c, const std::string& repo, const Digest& d) {
  auto m = c.GetManifest(repo, AttachmentTag(d));
  if (!m.ok() && m.status().code() == Status::Code::kNotFound) return std::string();
  if (!m.ok()) return m.status();
  return std::move(m->bytes);
}

json DescriptorJson(const std::string& media_type, const std::string& bytes) {
  return {{"mediaType", media_type}, {"digest", Digest::Of(bytes).ToString()}, {"size", bytes.size()}};
}

}  // namespace

Result<std::vector<Signature>> FetchSignatures(Client& c, const std::string& repo, const Digest& d) {
  const std::string what = c.registry() + "/" + repo + ":" + AttachmentTag(d);
  ASSIGN_OR_RETURN(std::string manifest, AttachmentManifest(c, repo, d));
  ASSIGN_OR_RETURN(json layers, Layers(manifest, what));
  std::vector<Signature> out;
  for (const auto& l : layers) {
    ASSIGN_OR_RETURN(Descriptor desc, ParseLayer(l, what));
    if (desc.size > kMaxPayload) return Status::Invalid(what + ": a signature payload over 4 MiB");
    Signature s;
    s.media_type = desc.media_type;
    s.annotations = desc.annotations;
    if (s.media_type == kSignatureMediaType) {
      ASSIGN_OR_RETURN(s.payload, c.GetBlob(repo, desc, kMaxPayload));
    }
    out.push_back(std::move(s));
  }
  return out;
}

Status PutSignature(Client& c, const std::string& repo, const Digest& d, const Signature& sig,
                    const std::string& tmp_dir) {
  const std::string what = c.registry() + "/" + repo + ":" + AttachmentTag(d);
  ASSIGN_OR_RETURN(std::string manifest, AttachmentManifest(c, repo, d));
  ASSIGN_OR_RETURN(json layers, Layers(manifest, what));
  json layer = DescriptorJson(sig.media_type, sig.payload);
  if (!sig.annotations.empty()) layer["annotations"] = sig.annotations;
  for (const auto& l : layers)
    if (l == layer) return Status::Ok();  // the same signature is there
  layers.push_back(layer);
  RETURN_IF_ERROR(c.UploadBytes(repo, sig.payload, sig.media_type, tmp_dir).Prefix(what));
  json config = {{"architecture", ""}, {"os", ""}, {"config", json::object()},
                 {"rootfs", {{"type", "layers"}, {"diff_ids", json::array()}}}};
  for (const auto& l : layers) config["rootfs"]["diff_ids"].push_back(l.value("digest", ""));
  const std::string config_bytes = config.dump();
  RETURN_IF_ERROR(c.UploadBytes(repo, config_bytes, kOciConfig, tmp_dir).Prefix(what));
  json m = {{"schemaVersion", 2}, {"mediaType", kOciManifest},
            {"config", DescriptorJson(kOciConfig, config_bytes)}, {"layers", layers}};
  return c.PutManifest(repo, AttachmentTag(d), kOciManifest, m.dump());
}

}  // namespace cfs::registry::sigstore
