#include "transport/oci_metadata.h"

#include <sys/stat.h>

#include <cerrno>

namespace cfs::oci {

using nlohmann::json;

namespace {

// Metadata documents (index, manifest, config) beyond this are refused
// before they are read: they are held in memory and parsed whole.
constexpr uint64_t kMaxMetadataBlob = 64u << 20;

const json* Member(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

Result<std::string> OptionalString(const json& j, const char* key, const std::string& what) {
  const json* v = Member(j, key);
  if (!v || v->is_null()) return std::string();
  if (!v->is_string()) return Status::Invalid(what + ": \"" + key + "\" is not a string");
  return v->get<std::string>();
}

Status CheckSchemaVersion(const json& j, const std::string& what) {
  const json* v = Member(j, "schemaVersion");
  if (!v || !v->is_number_integer())
    return Status::Invalid(what + ": missing integer \"schemaVersion\"");
  if (v->get<int64_t>() != 2) {
    return Status::Unsupported(what + ": schemaVersion " + std::to_string(v->get<int64_t>()) +
                               " (Docker schema 1 and others are not supported; want 2)");
  }
  return Status::Ok();
}

std::string DefaultVariant(const std::string& arch) {
  if (arch == "arm64") return "v8";
  if (arch == "arm") return "v7";
  return "";
}

}  // namespace

bool IsIndexMediaType(std::string_view mt) {
  return mt == kMediaTypeOciIndex || mt == kMediaTypeDockerManifestList;
}

bool IsManifestMediaType(std::string_view mt) {
  return mt == kMediaTypeOciManifest || mt == kMediaTypeDockerManifest;
}

Status CheckLayerMediaType(const Descriptor& d, const std::string& what) {
  static const char* const kAccepted[] = {
      kMediaTypeOciLayer,    kMediaTypeOciLayerGzip,    kMediaTypeOciLayerZstd,
      kMediaTypeDockerLayer, kMediaTypeDockerLayerGzip, kMediaTypeDockerLayerZstd,
  };
  for (const char* mt : kAccepted)
    if (d.media_type == mt) return Status::Ok();
  const std::string layer = what + ": layer " + d.digest.ToString();
  if (d.media_type.find("nondistributable") != std::string::npos ||
      d.media_type.find("foreign") != std::string::npos) {
    return Status::Unsupported(layer + ": foreign (non-distributable) layer \"" + d.media_type +
                               "\" is not supported");
  }
  return Status::Unsupported(layer + ": unsupported media type \"" + d.media_type + "\"");
}

Result<json> ParseJson(std::string_view bytes, const std::string& what) {
  try {
    return json::parse(bytes.begin(), bytes.end());
  } catch (const json::exception& e) {
    return Status::Invalid(what + ": malformed JSON: " + e.what());
  }
}

Result<Descriptor> ParseDescriptor(const json& j, const std::string& what) {
  if (!j.is_object()) return Status::Invalid(what + ": descriptor is not an object");
  Descriptor d;
  ASSIGN_OR_RETURN(d.media_type, OptionalString(j, "mediaType", what));
  ASSIGN_OR_RETURN(std::string digest, OptionalString(j, "digest", what));
  if (digest.empty()) return Status::Invalid(what + ": descriptor without \"digest\"");
  auto colon = digest.find(':');
  if (colon != std::string::npos && digest.compare(0, colon, "sha256") != 0) {
    return Status::Unsupported(what + ": digest algorithm \"" + digest.substr(0, colon) +
                               "\" is not supported (want sha256)");
  }
  auto parsed = Digest::Parse(digest);
  if (!parsed.ok()) return parsed.status().Prefix(what);
  d.digest = *parsed;
  const json* size = Member(j, "size");
  if (!size || !size->is_number_integer() || size->get<int64_t>() < 0)
    return Status::Invalid(what + ": descriptor " + digest + " without a valid \"size\"");
  d.size = size->get<uint64_t>();
  ASSIGN_OR_RETURN(d.artifact_type, OptionalString(j, "artifactType", what));
  if (const json* ann = Member(j, "annotations"); ann && !ann->is_null()) {
    if (!ann->is_object()) return Status::Invalid(what + ": \"annotations\" is not an object");
    for (const auto& [k, v] : ann->items()) {
      if (!v.is_string())
        return Status::Invalid(what + ": annotation \"" + k + "\" is not a string");
      d.annotations[k] = v.get<std::string>();
    }
  }
  return d;
}

json DescriptorToJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.ToString();
  j["size"] = d.size;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  return j;
}

Result<std::vector<IndexEntry>> ParseIndex(const json& j, const std::string& what) {
  if (!j.is_object()) return Status::Invalid(what + ": not a JSON object");
  RETURN_IF_ERROR(CheckSchemaVersion(j, what));
  const json* manifests = Member(j, "manifests");
  if (!manifests || !manifests->is_array())
    return Status::Invalid(what + ": missing \"manifests\" array");
  std::vector<IndexEntry> out;
  for (const json& m : *manifests) {
    IndexEntry e;
    ASSIGN_OR_RETURN(e.desc, ParseDescriptor(m, what));
    if (const json* p = Member(m, "platform"); p && !p->is_null()) {
      if (!p->is_object()) return Status::Invalid(what + ": \"platform\" is not an object");
      e.has_platform = true;
      ASSIGN_OR_RETURN(e.platform.os, OptionalString(*p, "os", what));
      ASSIGN_OR_RETURN(e.platform.arch, OptionalString(*p, "architecture", what));
      ASSIGN_OR_RETURN(e.platform.variant, OptionalString(*p, "variant", what));
    }
    out.push_back(std::move(e));
  }
  return out;
}

bool PlatformMatches(const Platform& want, const Platform& have) {
  if (!want.os.empty() && want.os != have.os) return false;
  if (!want.arch.empty() && want.arch != have.arch) return false;
  if (want.variant.empty()) return true;
  std::string have_variant = have.variant.empty() ? DefaultVariant(have.arch) : have.variant;
  return want.variant == have_variant;
}

Result<Manifest> ParseManifest(const json& j, const std::string& fallback_media_type,
                               const std::string& what) {
  if (!j.is_object()) return Status::Invalid(what + ": not a JSON object");
  RETURN_IF_ERROR(CheckSchemaVersion(j, what));
  Manifest m;
  ASSIGN_OR_RETURN(m.media_type, OptionalString(j, "mediaType", what));
  if (m.media_type.empty()) m.media_type = fallback_media_type;
  if (!IsManifestMediaType(m.media_type))
    return Status::Unsupported(what + ": unsupported manifest media type \"" + m.media_type + "\"");
  const json* config = Member(j, "config");
  if (!config) return Status::Invalid(what + ": missing \"config\"");
  ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, what + ": config"));
  const json* layers = Member(j, "layers");
  if (!layers || !layers->is_array()) return Status::Invalid(what + ": missing \"layers\" array");
  for (const json& l : *layers) {
    ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor(l, what + ": layer"));
    RETURN_IF_ERROR(CheckLayerMediaType(d, what));
    m.layers.push_back(std::move(d));
  }
  return m;
}

Result<std::vector<Digest>> ParseDiffIds(const json& config, const std::string& what) {
  const json* rootfs = Member(config, "rootfs");
  if (!rootfs || !rootfs->is_object()) return Status::Invalid(what + ": missing \"rootfs\"");
  ASSIGN_OR_RETURN(std::string type, OptionalString(*rootfs, "type", what));
  if (type != "layers")
    return Status::Invalid(what + ": rootfs.type is \"" + type + "\", want \"layers\"");
  const json* ids = Member(*rootfs, "diff_ids");
  if (!ids || ids->is_null()) return std::vector<Digest>{};  // an image with no layers
  if (!ids->is_array()) return Status::Invalid(what + ": rootfs.diff_ids is not an array");
  std::vector<Digest> out;
  for (const json& id : *ids) {
    if (!id.is_string()) return Status::Invalid(what + ": rootfs.diff_ids entry is not a string");
    auto d = Digest::Parse(id.get<std::string>());
    if (!d.ok()) return d.status().Prefix(what + ": rootfs.diff_ids");
    // A zero diffID verifies nothing, and push and mount cannot use it.
    if (d->IsZero())
      return Status::Corruption(what + ": rootfs.diff_ids[" + std::to_string(out.size()) +
                                "] is all zeros");
    out.push_back(*d);
  }
  return out;
}

Result<std::string> ReadVerifiedBlob(const std::string& path, const Descriptor& d,
                                     const std::string& what) {
  if (d.size > kMaxMetadataBlob) {
    return Status::Invalid(what + ": " + std::to_string(d.size) + " bytes, more than the " +
                           std::to_string(kMaxMetadataBlob) + " allowed for metadata");
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(what + ": blob missing");
    return Status::IOError(path);
  }
  if (!S_ISREG(st.st_mode)) return Status::Corruption(what + ": blob is not a regular file");
  if (static_cast<uint64_t>(st.st_size) != d.size) {
    return Status::Corruption(what + ": size " + std::to_string(st.st_size) + ", want " +
                              std::to_string(d.size));
  }
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, d.size));
  if (bytes.size() != d.size) {
    return Status::Corruption(what + ": size " + std::to_string(bytes.size()) + ", want " +
                              std::to_string(d.size));
  }
  Digest got = Digest::Of(bytes);
  if (got != d.digest)
    return Status::Corruption(what + ": digest mismatch (content has " + got.ToString() + ")");
  return bytes;
}

namespace {

std::string PlatformName(const IndexEntry& e) {
  return e.has_platform ? e.platform.ToString() : "unspecified";
}

}  // namespace

// Picks the first entry (index order is the writer's preference) whose
// platform matches. Entries without a platform, and "unknown/unknown" ones
// (attestations), are never chosen.
Result<IndexEntry> ChooseByPlatform(const std::vector<IndexEntry>& entries, const Platform& want,
                                    const std::string& what) {
  std::string available;
  for (const auto& e : entries) {
    bool unknown = e.platform.os == "unknown" || e.platform.arch == "unknown";
    if (e.has_platform && !unknown && PlatformMatches(want, e.platform)) return e;
    if (unknown) continue;
    if (!available.empty()) available += ", ";
    available += PlatformName(e);
  }
  std::string want_name = want.ToString().empty() ? "any" : want.ToString();
  return Status::NotFound(what + ": no image for platform " + want_name +
                          " (available: " + (available.empty() ? "none" : available) + ")");
}

}  // namespace cfs::oci
