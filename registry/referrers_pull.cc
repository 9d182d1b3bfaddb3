// PullReferrers: the artifacts beside an image in a registry, listed by the
// OCI 1.1 referrers API or, for a registry without it, by the index under
// the fallback tag "sha256-<hex>" (distribution-spec v1.1 "Referrers Tag
// Schema"), as PushReferrers writes them.
#include <nlohmann/json.hpp>
#include <set>

#include "registry/referrers.h"
#include "transport/oci_artifact.h"
#include "transport/oci_metadata.h"

namespace cfs::registry {

namespace {

using nlohmann::json;

// Whether j is an OCI image index (the mediaType may be left out, as the
// image-spec allows).
bool IsOciIndex(const json& j) {
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) return false;
  if (!j.contains("mediaType")) return true;
  return j["mediaType"].is_string() && j["mediaType"] == oci::kMediaTypeOciIndex;
}

// The referrers index of subject: the API's, else the fallback tag's;
// nullopt when the registry has neither.
Result<std::optional<json>> ReferrersIndex(Client& c, const std::string& repo,
                                           const Digest& subject) {
  ASSIGN_OR_RETURN(std::optional<std::string> api, c.GetReferrers(repo, subject));
  if (api) {
    json j = json::parse(*api, nullptr, false);
    if (IsOciIndex(j)) return std::optional<json>(std::move(j));
  }
  auto m = c.GetManifest(repo, ReferrersTag(subject));
  if (!m.ok() && m.status().code() == Status::Code::kNotFound) return std::optional<json>();
  if (!m.ok()) return m.status();
  json j = json::parse(m->bytes, nullptr, false);
  if (!IsOciIndex(j))
    return Status::Invalid(c.registry() + "/" + repo + ":" + ReferrersTag(subject) +
                           ": not an OCI index (the referrers of " + subject.ToString() +
                           " are listed under this tag; remove or retag what is there)");
  return std::optional<json>(std::move(j));
}

// The artifact that entry d of the index lists, when cimg keeps its shape.
Result<std::optional<SourceReferrer>> PullOne(Client& c, const std::string& repo,
                                              const Descriptor& d, const Digest& subject,
                                              const std::string& what) {
  ASSIGN_OR_RETURN(FetchedManifest m, c.GetManifest(repo, d.digest.ToString()));
  if (m.bytes.size() != d.size)
    return Status::Corruption(what + ": manifest is " + std::to_string(m.bytes.size()) +
                              " bytes, the referrers index says " + std::to_string(d.size));
  ASSIGN_OR_RETURN(json mj, oci::ParseJson(m.bytes, what));
  ASSIGN_OR_RETURN(std::optional<Descriptor> layer, oci::ArtifactLayer(mj, subject, what));
  if (!layer) return std::optional<SourceReferrer>();
  RETURN_IF_ERROR(oci::CheckArtifactSize(*layer, what));
  SourceReferrer r;
  r.artifact_type = d.artifact_type;
  r.manifest = std::move(m.bytes);
  auto blob = c.GetBlob(repo, *layer, oci::kMaxArtifactBytes);
  if (!blob.ok()) return blob.status().Prefix(what);
  r.blob = std::move(*blob);
  return std::optional<SourceReferrer>(std::move(r));
}

}  // namespace

Result<std::vector<SourceReferrer>> PullReferrers(Client& c, const std::string& repo,
                                                  const Digest& subject) {
  std::vector<SourceReferrer> out;
  ASSIGN_OR_RETURN(std::optional<json> index, ReferrersIndex(c, repo, subject));
  if (!index) return out;
  const std::string name = c.registry() + "/" + repo;
  ASSIGN_OR_RETURN(std::vector<oci::IndexEntry> entries,
                   oci::ParseIndex(*index, name + ": referrers of " + subject.ToString()));
  std::set<Digest> seen;
  for (const auto& e : entries) {
    if (e.desc.artifact_type.empty() || !oci::IsManifestMediaType(e.desc.media_type)) continue;
    if (!seen.insert(e.desc.digest).second) continue;
    const std::string what = name + ": artifact " + e.desc.digest.ToString();
    ASSIGN_OR_RETURN(std::optional<SourceReferrer> r, PullOne(c, repo, e.desc, subject, what));
    if (r) out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace cfs::registry
