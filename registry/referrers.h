// The artifacts kept with an image (Store::AttachArtifact: an SBOM from
// cimg build --sbom) pushed beside it, as OCI 1.1 referrers
// (distribution-spec v1.1 "Pushing Manifests with Subject"): the artifact
// blob, the empty config, then the artifact manifest by digest with its
// subject rewritten to the manifest the push wrote (a push re-encodes the
// layers, so the digest differs from the stored one). A registry with the
// referrers API answers the manifest PUT with an OCI-Subject header and
// indexes it itself; for one without (Debian's docker-registry 2.8) the
// fallback: the OCI index tagged "sha256-<hex of the subject>" lists the
// referrers, read first and merged, so referrers others pushed stay.
// A pull reads them back the same two ways (PullReferrers).
#pragma once

#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "registry/client.h"
#include "store/store.h"
#include "transport/image_source.h"

namespace cfs::registry {

struct PushedReferrer {
  std::string artifact_type;
  Digest manifest;            // as pushed (subject rewritten)
  bool fallback_tag = false;  // listed in the sha256-<hex> index
};

// Pushes image's referrers to repo, with subject = manifest `pushed` of repo
// (already there). tmp_dir: where blobs wait while uploaded.
Result<std::vector<PushedReferrer>> PushReferrers(Store& store, Client& c, const std::string& repo,
                                                  const ImageDetails& image, const Digest& pushed,
                                                  const std::string& tmp_dir);

// The referrers of manifest `subject` of repo that cimg keeps (the shape
// of transport/oci_artifact.h; others are passed over), in the order the
// registry lists them: the referrers API's index when the registry answers
// it with an OCI index, else the index under the fallback tag (none when
// that tag is absent; any other failure to read it is an error). Each
// artifact manifest and its blob (at most oci::kMaxArtifactBytes) are
// fetched by digest and verified: Corruption naming the artifact when
// either does not match.
Result<std::vector<SourceReferrer>> PullReferrers(Client& c, const std::string& repo,
                                                  const Digest& subject);

// "sha256-<hex>": the fallback tag of subject d's referrers index.
std::string ReferrersTag(const Digest& d);

}  // namespace cfs::registry
