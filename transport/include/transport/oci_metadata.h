// OCI and Docker image metadata documents (index, manifest, config): media
// types, and parsing into the structs of image_source.h. Used by store/ and
// registry/.
//
// Every parser takes `what`, the name of the document for messages
// ("oci:/x blob sha256:ab…"), and returns Invalid("<what>: malformed JSON:
// …") or Invalid("<what>: <field> …") for bad input; nothing throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "transport/image_source.h"

namespace cfs::oci {

inline constexpr char kMediaTypeOciIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kMediaTypeOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kMediaTypeOciConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kMediaTypeOciLayer[] = "application/vnd.oci.image.layer.v1.tar";
inline constexpr char kMediaTypeOciLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kMediaTypeOciLayerZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr char kMediaTypeDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kMediaTypeDockerManifest[] =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kMediaTypeDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kMediaTypeDockerLayer[] = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr char kMediaTypeDockerLayerGzip[] =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr char kMediaTypeDockerLayerZstd[] =
    "application/vnd.docker.image.rootfs.diff.tar.zstd";

inline constexpr char kAnnotationRefName[] = "org.opencontainers.image.ref.name";
inline constexpr char kLayoutVersion[] = "1.0.0";

bool IsIndexMediaType(std::string_view mt);
bool IsManifestMediaType(std::string_view mt);
// OK for the layer media types we can unpack; Unsupported (naming the layer)
// for foreign/non-distributable layers and anything else.
Status CheckLayerMediaType(const Descriptor& d, const std::string& what);

// Parses bytes as one JSON value.
Result<nlohmann::json> ParseJson(std::string_view bytes, const std::string& what);

// {"mediaType","digest","size","annotations","artifactType"}: digest must be sha256 (an
// other algorithm is Unsupported), size a non-negative integer.
Result<Descriptor> ParseDescriptor(const nlohmann::json& j, const std::string& what);
nlohmann::json DescriptorToJson(const Descriptor& d);

// One entry of an index: the descriptor and its optional "platform".
struct IndexEntry {
  Descriptor desc;
  bool has_platform = false;
  Platform platform;
};
// An image index / Docker manifest list (also index.json of a layout).
Result<std::vector<IndexEntry>> ParseIndex(const nlohmann::json& j, const std::string& what);

// True when `have` satisfies `want`: each non-empty field of want equals
// have's, after normalizing default variants (arm64 → v8, arm → v7).
bool PlatformMatches(const Platform& want, const Platform& have);

// Picks the first entry (index order is the writer's preference) whose
// platform matches want; NotFound listing the platforms there are otherwise.
Result<IndexEntry> ChooseByPlatform(const std::vector<IndexEntry>& entries, const Platform& want,
                                    const std::string& what);

// An image manifest (OCI v1 or Docker v2 schema2).
struct Manifest {
  std::string media_type;  // from the document, else the fallback given
  Descriptor config;
  std::vector<Descriptor> layers;
};
// Accepts only schemaVersion 2 with a config and layers; checks every layer
// media type with CheckLayerMediaType.
Result<Manifest> ParseManifest(const nlohmann::json& j, const std::string& fallback_media_type,
                               const std::string& what);

// config.rootfs.diff_ids, in order.
Result<std::vector<Digest>> ParseDiffIds(const nlohmann::json& config, const std::string& what);

// Reads a metadata blob file and checks it has exactly the size and digest
// of d (Corruption "<what>: size N, want M" / "digest mismatch" otherwise).
Result<std::string> ReadVerifiedBlob(const std::string& path, const Descriptor& d,
                                     const std::string& what);

}  // namespace cfs::oci
