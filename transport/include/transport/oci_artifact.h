// Which OCI 1.1 artifact manifests cimg keeps with an image (the SBOM
// cimg build --sbom attaches, store.h Referrer): an image manifest with the
// empty config ({} as application/vnd.oci.empty.v1+json), exactly one
// layer (the artifact), and the image's manifest as its "subject". Shared
// by every source of referrers (an OCI layout, a registry), so they accept
// the same shape.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/digest.h"
#include "base/status.h"
#include "transport/image_source.h"

namespace cfs::oci {

inline constexpr char kMediaTypeEmptyConfig[] = "application/vnd.oci.empty.v1+json";
// The largest artifact blob read (into memory): an SBOM of a million files
// is ~300 MB.
inline constexpr uint64_t kMaxArtifactBytes = 1ull << 30;

// The artifact's one layer when m (a parsed manifest) is an artifact of the
// shape above whose subject is `subject`; nullopt for any other document
// (another subject, another config, several layers: passed over, not an
// error). Invalid (prefixed with what) when a descriptor it needs is malformed.
Result<std::optional<Descriptor>> ArtifactLayer(const nlohmann::json& m, const Digest& subject,
                                                const std::string& what);

// Invalid when an artifact blob of d.size bytes exceeds kMaxArtifactBytes.
Status CheckArtifactSize(const Descriptor& d, const std::string& what);

}  // namespace cfs::oci
