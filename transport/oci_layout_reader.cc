// Reading an OCI image layout (image-spec image-layout.md): the oci-layout
// marker, index.json, and content-addressed blobs under blobs/sha256/.
#include <sys/stat.h>

#include <cerrno>

#include "image_source_internal.h"
#include "transport/oci_metadata.h"

namespace cfs::oci {

using nlohmann::json;

namespace {

// Index → index nesting deeper than this is refused (a loop guard).
constexpr int kMaxIndexDepth = 8;

std::string RefName(const Descriptor& d) {
  auto it = d.annotations.find(kAnnotationRefName);
  return it == d.annotations.end() ? "" : it->second;
}

std::string ListTags(const std::vector<IndexEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    std::string t = RefName(e.desc);
    if (t.empty()) continue;
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out.empty() ? "no tagged images" : "tags: " + out;
}

class OciLayoutReader : public ImageSourceReader {
 public:
  OciLayoutReader(std::string dir, std::string tag, std::string name, TempDir owned)
      : dir_(std::move(dir)),
        tag_(std::move(tag)),
        name_(std::move(name)),
        owned_(std::move(owned)) {}

  Result<SourceImage> Resolve(const Platform& want) override;
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override;
  Result<std::vector<SourceReferrer>> Referrers(const Digest& subject) override {
    return ReadLayoutReferrers(dir_, name_, subject);
  }
  bool CanReadRanges() const override { return true; }
  Result<std::string> ReadBlobRange(const Descriptor& d, uint64_t offset,
                                    uint64_t length) override {
    const std::string path = BlobPath(d.digest);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
      if (errno == ENOENT)
        return Status::NotFound(name_ + ": blob " + d.digest.ToString() + " missing");
      return Status::IOError(path);
    }
    if (length > (1ull << 31)) return Status::Invalid(name_ + ": range too large");
    std::string out(length, '\0');
    RETURN_IF_ERROR(PreadAll(fd.get(), out.data(), length, offset).Prefix(path));
    return out;
  }

 private:
  std::string BlobPath(const Digest& d) const { return dir_ + "/blobs/sha256/" + d.Hex(); }
  Status CheckLayoutMarker() const;
  Result<IndexEntry> ChooseTopLevel(const Platform& want) const;
  // Follows indexes from d down to an image manifest; fills the manifest
  // fields of *img.
  Status ResolveManifest(Descriptor d, const Platform& want, SourceImage* img,
                         Manifest* manifest) const;

  std::string dir_, tag_, name_;
  TempDir owned_;
};

Status OciLayoutReader::CheckLayoutMarker() const {
  const std::string path = dir_ + "/oci-layout";
  auto bytes = ReadFile(path, 1 << 20);
  if (!bytes.ok()) {
    if (bytes.status().err() == ENOENT)
      return Status::NotFound(name_ + ": not an OCI image layout (no oci-layout file)");
    return bytes.status();
  }
  ASSIGN_OR_RETURN(json j, ParseJson(*bytes, name_ + ": oci-layout"));
  const json* v =
      j.is_object() && j.contains("imageLayoutVersion") ? &j["imageLayoutVersion"] : nullptr;
  if (!v || !v->is_string())
    return Status::Invalid(name_ + ": oci-layout: missing \"imageLayoutVersion\"");
  if (v->get<std::string>() != kLayoutVersion) {
    return Status::Unsupported(name_ + ": oci-layout: imageLayoutVersion \"" +
                               v->get<std::string>() + "\" (want " + kLayoutVersion + ")");
  }
  return Status::Ok();
}

Result<IndexEntry> OciLayoutReader::ChooseTopLevel(const Platform& want) const {
  const std::string what = name_ + ": index.json";
  auto bytes = ReadFile(dir_ + "/index.json", 64u << 20);
  if (!bytes.ok()) {
    if (bytes.status().err() == ENOENT) return Status::NotFound(what + ": missing");
    return bytes.status();
  }
  ASSIGN_OR_RETURN(json j, ParseJson(*bytes, what));
  ASSIGN_OR_RETURN(std::vector<IndexEntry> entries, ParseIndex(j, what));
  // Referrers (an SBOM kept with an image) are not images to choose.
  std::erase_if(entries, [](const IndexEntry& e) { return IsReferrerEntry(e.desc); });
  if (entries.empty()) return Status::NotFound(what + ": lists no images");

  std::vector<IndexEntry> matches;
  if (tag_.empty()) {
    matches = entries;
  } else {
    for (const auto& e : entries)
      if (RefName(e.desc) == tag_) matches.push_back(e);
    if (matches.empty()) {
      return Status::NotFound(name_ + ": no image tagged \"" + tag_ + "\" (" + ListTags(entries) +
                              ")");
    }
  }
  if (matches.size() == 1) return matches[0];

  // Several: one image for several platforms (same name, each with a
  // platform) is chosen from by platform; otherwise the user must name one.
  bool one_image = true;
  for (const auto& e : matches)
    one_image = one_image && e.has_platform && RefName(e.desc) == RefName(matches[0].desc);
  if (one_image) return ChooseByPlatform(matches, want, what);
  if (tag_.empty()) {
    return Status::Invalid(what + " lists " + std::to_string(matches.size()) +
                           " images; name one as " + name_ + ":TAG (" + ListTags(entries) + ")");
  }
  return Status::Invalid(what + ": " + std::to_string(matches.size()) + " images are tagged \"" +
                         tag_ + "\"");
}

Status OciLayoutReader::ResolveManifest(Descriptor d, const Platform& want, SourceImage* img,
                                        Manifest* manifest) const {
  for (int depth = 0; depth <= kMaxIndexDepth; depth++) {
    const char* role = IsIndexMediaType(d.media_type)      ? "index"
                       : IsManifestMediaType(d.media_type) ? "manifest"
                                                           : "blob";
    const std::string what = name_ + ": " + role + " " + d.digest.ToString();
    if (!d.media_type.empty() && !IsIndexMediaType(d.media_type) &&
        !IsManifestMediaType(d.media_type)) {
      return Status::Unsupported(what + ": media type \"" + d.media_type +
                                 "\" is neither an image manifest nor an index");
    }
    ASSIGN_OR_RETURN(std::string bytes, ReadVerifiedBlob(BlobPath(d.digest), d, what));
    ASSIGN_OR_RETURN(json j, ParseJson(bytes, what));
    std::string mt = d.media_type;
    if (mt.empty() && j.is_object()) {
      if (j.contains("mediaType") && j["mediaType"].is_string())
        mt = j["mediaType"].get<std::string>();
      else if (j.contains("manifests"))
        mt = kMediaTypeOciIndex;
      else
        mt = kMediaTypeOciManifest;
    }
    if (IsIndexMediaType(mt)) {
      ASSIGN_OR_RETURN(std::vector<IndexEntry> entries, ParseIndex(j, what));
      ASSIGN_OR_RETURN(IndexEntry chosen, ChooseByPlatform(entries, want, what));
      d = chosen.desc;
      continue;
    }
    ASSIGN_OR_RETURN(*manifest, ParseManifest(j, mt, what));
    img->manifest = std::move(bytes);
    img->manifest_digest = d.digest;
    img->manifest_media_type = manifest->media_type;
    return Status::Ok();
  }
  return Status::Invalid(name_ + ": image indexes nested more than " +
                         std::to_string(kMaxIndexDepth) + " deep");
}

Result<SourceImage> OciLayoutReader::Resolve(const Platform& want) {
  RETURN_IF_ERROR(CheckLayoutMarker());
  ASSIGN_OR_RETURN(IndexEntry top, ChooseTopLevel(want));
  SourceImage img;
  img.ref_name = RefName(top.desc);
  Manifest manifest;
  RETURN_IF_ERROR(ResolveManifest(top.desc, want, &img, &manifest));

  const std::string what = name_ + ": config " + manifest.config.digest.ToString();
  ASSIGN_OR_RETURN(img.config,
                   ReadVerifiedBlob(BlobPath(manifest.config.digest), manifest.config, what));
  ASSIGN_OR_RETURN(json config, ParseJson(img.config, what));
  ASSIGN_OR_RETURN(img.diff_ids, ParseDiffIds(config, what));
  if (img.diff_ids.size() != manifest.layers.size()) {
    return Status::Corruption(what + ": " + std::to_string(img.diff_ids.size()) + " diff_ids for " +
                              std::to_string(manifest.layers.size()) + " layers in manifest " +
                              img.manifest_digest.ToString());
  }
  img.config_digest = manifest.config.digest;
  img.config_media_type = manifest.config.media_type;
  img.layers = std::move(manifest.layers);
  return img;
}

Result<std::unique_ptr<ByteSource>> OciLayoutReader::OpenBlob(const Descriptor& d) {
  const std::string path = BlobPath(d.digest);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT)
      return Status::NotFound(name_ + ": blob " + d.digest.ToString() + " missing");
    return Status::IOError(path);
  }
  UniqueFd ufd(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::IOError(path);
  if (!S_ISREG(st.st_mode))
    return Status::Corruption(name_ + ": blob " + d.digest.ToString() + " is not a regular file");
  if (static_cast<uint64_t>(st.st_size) != d.size) {
    return Status::Corruption(name_ + ": blob " + d.digest.ToString() + ": size " +
                              std::to_string(st.st_size) + ", want " + std::to_string(d.size));
  }
  return std::unique_ptr<ByteSource>(std::make_unique<FdSource>(std::move(ufd)));
}

}  // namespace

Result<std::unique_ptr<ImageSourceReader>> OpenOciLayoutReader(std::string dir, std::string tag,
                                                               std::string name, TempDir owned) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::NotFound(name + ": no such directory");
    return Status::IOError(dir);
  }
  if (!S_ISDIR(st.st_mode)) return Status::Invalid(name + ": not a directory");
  return std::unique_ptr<ImageSourceReader>(std::make_unique<OciLayoutReader>(
      std::move(dir), std::move(tag), std::move(name), std::move(owned)));
}

}  // namespace cfs::oci
