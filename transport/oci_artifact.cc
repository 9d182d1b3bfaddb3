#include "transport/oci_artifact.h"

#include "transport/oci_metadata.h"

namespace cfs::oci {

using nlohmann::json;

Result<std::optional<Descriptor>> ArtifactLayer(const json& m, const Digest& subject,
                                                const std::string& what) {
  if (!m.is_object() || !m.contains("subject") || !m["subject"].is_object())
    return std::optional<Descriptor>();
  ASSIGN_OR_RETURN(Descriptor subj, ParseDescriptor(m["subject"], what + ": subject"));
  if (subj.digest != subject) return std::optional<Descriptor>();
  if (!m.contains("config") || !m.contains("layers") || !m["layers"].is_array() ||
      m["layers"].size() != 1)
    return std::optional<Descriptor>();
  ASSIGN_OR_RETURN(Descriptor config, ParseDescriptor(m["config"], what + ": config"));
  if (config.media_type != kMediaTypeEmptyConfig || config.digest != Digest::Of("{}"))
    return std::optional<Descriptor>();
  ASSIGN_OR_RETURN(Descriptor layer, ParseDescriptor(m["layers"][0], what + ": layer"));
  return std::optional<Descriptor>(std::move(layer));
}

Status CheckArtifactSize(const Descriptor& d, const std::string& what) {
  if (d.size > kMaxArtifactBytes)
    return Status::Invalid(what + ": " + std::to_string(d.size) + " bytes, more than the " +
                           std::to_string(kMaxArtifactBytes) + " allowed for an artifact");
  return Status::Ok();
}

}  // namespace cfs::oci
