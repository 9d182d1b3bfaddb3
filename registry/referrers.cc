#include "registry/referrers.h"

#include <nlohmann/json.hpp>

namespace cfs::registry {

namespace {

using nlohmann::json;

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";

// The referrers index under the fallback tag, or a new empty one.
Result<json> FallbackIndex(Client& c, const std::string& repo, const Digest& subject) {
  auto m = c.GetManifest(repo, ReferrersTag(subject));
  if (!m.ok() && m.status().code() == Status::Code::kNotFound)
    return json{{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", json::array()}};
  if (!m.ok()) return m.status();
  json j = json::parse(m->bytes, nullptr, false);
  const std::string what = c.registry() + "/" + repo + ":" + ReferrersTag(subject);
  if (!j.is_object() || j.value("mediaType", "") != kOciIndex || !j["manifests"].is_array())
    return Status::Invalid(what + ": not an OCI index (refusing to replace it)");
  return j;
}

// Adds desc to the fallback index of subject (replacing an entry of the same digest).
Status AddToFallbackIndex(Client& c, const std::string& repo, const Digest& subject,
                          const json& desc) {
  ASSIGN_OR_RETURN(json index, FallbackIndex(c, repo, subject));
  json kept = json::array();
  for (const auto& e : index["manifests"])
    if (!e.is_object() || e.value("digest", "") != desc["digest"]) kept.push_back(e);
  kept.push_back(desc);
  index["manifests"] = kept;
  return c.PutManifest(repo, ReferrersTag(subject), kOciIndex, index.dump());
}

// One referrer: blobs, then the manifest with the new subject.
Result<PushedReferrer> PushOne(Store& store, Client& c, const std::string& repo, const Referrer& r,
                               const json& subject, const std::string& tmp_dir) {
  ASSIGN_OR_RETURN(std::string blob, store.ReadBlob(r.blob));
  ASSIGN_OR_RETURN(std::string stored, store.ReadBlob(r.manifest));
  RETURN_IF_ERROR(c.UploadBytes(repo, blob, r.artifact_type, tmp_dir));
  RETURN_IF_ERROR(c.UploadBytes(repo, "{}", kEmptyConfigMediaType, tmp_dir));
  json m = json::parse(stored, nullptr, false);
  if (!m.is_object())
    return Status::Corruption("artifact manifest " + r.manifest.ToString() + " is not JSON");
  m["subject"] = subject;
  const std::string bytes = m.dump();
  PushedReferrer out{r.artifact_type, Digest::Of(bytes), false};
  std::string oci_subject;
  RETURN_IF_ERROR(c.PutManifest(repo, out.manifest.ToString(), kOciManifest, bytes, &oci_subject));
  if (!oci_subject.empty()) return out;
  json desc = {{"mediaType", kOciManifest},
               {"digest", out.manifest.ToString()},
               {"size", bytes.size()},
               {"artifactType", r.artifact_type}};
  if (m.contains("annotations")) desc["annotations"] = m["annotations"];
  ASSIGN_OR_RETURN(Digest subject_digest, Digest::Parse(subject["digest"].get<std::string>()));
  RETURN_IF_ERROR(AddToFallbackIndex(c, repo, subject_digest, desc));
  out.fallback_tag = true;
  return out;
}

}  // namespace

std::string ReferrersTag(const Digest& d) { return "sha256-" + d.Hex(); }

Result<std::vector<PushedReferrer>> PushReferrers(Store& store, Client& c, const std::string& repo,
                                                  const ImageDetails& image, const Digest& pushed,
                                                  const std::string& tmp_dir) {
  std::vector<PushedReferrer> out;
  if (image.referrers.empty()) return out;
  ASSIGN_OR_RETURN(FetchedManifest subject_manifest, c.GetManifest(repo, pushed.ToString()));
  json subject = {{"mediaType", subject_manifest.media_type.empty() ? kOciManifest
                                                                    : subject_manifest.media_type},
                  {"digest", pushed.ToString()},
                  {"size", subject_manifest.bytes.size()}};
  for (const Referrer& r : image.referrers) {
    auto p = PushOne(store, c, repo, r, subject, tmp_dir);
    if (!p.ok()) return p.status().Prefix("referrer " + r.artifact_type);
    out.push_back(std::move(*p));
  }
  return out;
}

}  // namespace cfs::registry
