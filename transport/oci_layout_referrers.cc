// The referrers of an OCI image layout: index.json entries with an
// "artifactType" whose manifest has a "subject" (image-spec v1.1
// manifest.md), as OciLayoutWriter and ORAS write them. Only artifacts of the
// shape cimg keeps (transport/oci_artifact.h ArtifactLayer) are read; others
// are passed over.
#include <nlohmann/json.hpp>
#include <optional>

#include "image_source_internal.h"
#include "transport/oci_artifact.h"
#include "transport/oci_metadata.h"

namespace cfs::oci {

using nlohmann::json;

namespace {

Result<std::string> ReadArtifactBlob(const std::string& dir, const Descriptor& d,
                                     const std::string& what) {
  RETURN_IF_ERROR(CheckArtifactSize(d, what));
  ASSIGN_OR_RETURN(std::string bytes,
                   ReadFile(dir + "/blobs/sha256/" + d.digest.Hex(), d.size + 1));
  if (bytes.size() != d.size || Digest::Of(bytes) != d.digest)
    return Status::Corruption(what + ": blob " + d.digest.ToString() +
                              " does not match its size or digest");
  return bytes;
}

}  // namespace

bool IsReferrerEntry(const Descriptor& d) { return !d.artifact_type.empty(); }

Result<std::vector<SourceReferrer>> ReadLayoutReferrers(const std::string& dir,
                                                        const std::string& name,
                                                        const Digest& subject) {
  const std::string what = name + ": index.json";
  ASSIGN_OR_RETURN(std::string index, ReadFile(dir + "/index.json", 64u << 20));
  ASSIGN_OR_RETURN(json j, ParseJson(index, what));
  ASSIGN_OR_RETURN(std::vector<IndexEntry> entries, ParseIndex(j, what));
  std::vector<SourceReferrer> out;
  for (const auto& e : entries) {
    if (!IsReferrerEntry(e.desc) || !IsManifestMediaType(e.desc.media_type)) continue;
    const std::string awhat = name + ": artifact " + e.desc.digest.ToString();
    SourceReferrer r;
    r.artifact_type = e.desc.artifact_type;
    ASSIGN_OR_RETURN(r.manifest,
                     ReadVerifiedBlob(dir + "/blobs/sha256/" + e.desc.digest.Hex(), e.desc, awhat));
    ASSIGN_OR_RETURN(json m, ParseJson(r.manifest, awhat));
    ASSIGN_OR_RETURN(std::optional<Descriptor> layer, ArtifactLayer(m, subject, awhat));
    if (!layer) continue;
    ASSIGN_OR_RETURN(r.blob, ReadArtifactBlob(dir, *layer, awhat));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace cfs::oci
