// Reading what `docker save` and `skopeo copy ... docker-archive:` write
// (Docker image spec v1.2): a tar whose manifest.json is
//   [{"Config": "<hex>.json", "RepoTags": ["name:tag"], "Layers": ["<id>/layer.tar", ...],
//     "LayerSources": {...}}]
// with layer and config paths relative to the archive root (newer Docker
// writes an OCI layout alongside and names them "blobs/sha256/<hex>").
//
// The archive has no registry manifest, so Resolve synthesizes a Docker v2
// schema2 one from the files as stored: each layer descriptor carries the
// sha256 and size of the layer file and a media type chosen by its magic
// bytes (tar, gzip or zstd).
#include <sys/stat.h>

#include <cerrno>
#include <map>

#include "image_source_internal.h"
#include "transport/oci_metadata.h"

namespace cfs::oci {

using nlohmann::json;

namespace {

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// A member path from manifest.json: relative, no "..", no empty name.
Status CheckMemberPath(const std::string& p, const std::string& what) {
  if (p.empty() || p[0] == '/')
    return Status::Invalid(what + ": path \"" + p + "\" is not relative to the archive");
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (p.compare(i, j - i, "..") == 0)
      return Status::Invalid(what + ": path \"" + p + "\" leaves the archive");
    i = j + 1;
  }
  return Status::Ok();
}

// The digest a member path promises by its name ("<hex>.json",
// "blobs/sha256/<hex>"), if any.
bool DigestFromName(const std::string& p, Digest* out) {
  std::string hex;
  if (p.size() == 64 + 5 && p.compare(64, 5, ".json") == 0) {
    hex = p.substr(0, 64);
  } else if (p.size() == 13 + 64 && p.compare(0, 13, "blobs/sha256/") == 0) {
    hex = p.substr(13);
  } else {
    return false;
  }
  if (!IsHex64(hex)) return false;
  auto d = Digest::Parse(hex, /*allow_bare=*/true);
  if (!d.ok()) return false;
  *out = *d;
  return true;
}

// "busybox:latest" and "docker.io/library/busybox:latest" name the same image.
std::string NormalizeRepoTag(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return "docker.io/library/" + s;
  std::string first = s.substr(0, slash);
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos &&
      first != "localhost")
    return "docker.io/" + s;
  return s;
}

std::vector<std::string> RepoTags(const json& entry) {
  std::vector<std::string> out;
  auto it = entry.find("RepoTags");
  if (it == entry.end() || !it->is_array()) return out;
  for (const auto& t : *it)
    if (t.is_string()) out.push_back(t.get<std::string>());
  return out;
}

struct LayerFile {
  Digest digest;
  uint64_t size = 0;
  std::string media_type;
};

// Hashes a layer file and sniffs its compression from the magic bytes.
Result<LayerFile> ScanLayerFile(const std::string& path) {
  ASSIGN_OR_RETURN(auto src, FdSource::Open(path));
  LayerFile out;
  Sha256 h;
  std::string buf(1 << 20, '\0');
  unsigned char magic[4] = {0, 0, 0, 0};
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, src->Read(buf.data(), buf.size()));
    if (n == 0) break;
    for (size_t i = out.size; i < 4 && i < out.size + n; i++)
      magic[i] = static_cast<unsigned char>(buf[i - out.size]);
    h.Update(buf.data(), n);
    out.size += n;
  }
  out.digest = h.Finish();
  if (out.size >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    out.media_type = kMediaTypeDockerLayerGzip;
  } else if (out.size >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f &&
             magic[3] == 0xfd) {
    out.media_type = kMediaTypeDockerLayerZstd;
  } else {
    out.media_type = kMediaTypeDockerLayer;
  }
  return out;
}

class DockerArchiveReader : public ImageSourceReader {
 public:
  DockerArchiveReader(std::string dir, std::string selector, std::string name, TempDir owned)
      : dir_(std::move(dir)),
        selector_(std::move(selector)),
        name_(std::move(name)),
        owned_(std::move(owned)) {}

  Result<SourceImage> Resolve(const Platform& want) override;
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override;

 private:
  Result<json> ChooseEntry() const;
  Result<Descriptor> LayerDescriptor(const json& entry, const std::string& path,
                                     const Digest& diff_id);

  std::string dir_, selector_, name_;
  TempDir owned_;
  // Blobs of the resolved image: digest → file in dir_.
  std::map<Digest, std::string> blobs_;
  std::map<std::string, LayerFile> scanned_;  // path → facts, for duplicate layers
};

Result<json> DockerArchiveReader::ChooseEntry() const {
  const std::string what = name_ + ": manifest.json";
  auto bytes = ReadFile(dir_ + "/manifest.json", 64u << 20);
  if (!bytes.ok()) {
    if (bytes.status().err() == ENOENT)
      return Status::Invalid(name_ + ": not a docker-archive (no manifest.json)");
    return bytes.status();
  }
  ASSIGN_OR_RETURN(json j, ParseJson(*bytes, what));
  if (!j.is_array()) return Status::Invalid(what + ": not a JSON array");
  for (const auto& e : j)
    if (!e.is_object()) return Status::Invalid(what + ": entry is not an object");
  if (j.empty()) return Status::NotFound(what + ": lists no images");

  if (selector_.empty()) {
    if (j.size() == 1) return j[0];
    std::string tags;
    for (const auto& e : j)
      for (const auto& t : RepoTags(e)) tags += (tags.empty() ? "" : ", ") + t;
    return Status::Invalid(what + " lists " + std::to_string(j.size()) + " images; name one as " +
                           name_ + ":NAME:TAG or " + name_ +
                           ":@N (tags: " + (tags.empty() ? "none" : tags) + ")");
  }
  if (selector_[0] == '@') {
    size_t n = 0;
    const std::string digits = selector_.substr(1);
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      return Status::Invalid(name_ + ": bad image index \"" + selector_ + "\"");
    n = std::stoul(digits);
    if (n >= j.size()) {
      return Status::NotFound(name_ + ": no image " + selector_ + " (the archive has " +
                              std::to_string(j.size()) + ")");
    }
    return j[n];
  }
  const std::string want = NormalizeRepoTag(selector_);
  for (const auto& e : j)
    for (const auto& t : RepoTags(e))
      if (NormalizeRepoTag(t) == want) return e;
  return Status::NotFound(name_ + ": no image tagged \"" + selector_ + "\"");
}

Result<Descriptor> DockerArchiveReader::LayerDescriptor(const json& entry, const std::string& path,
                                                        const Digest& diff_id) {
  const std::string what = name_ + ": layer " + path;
  RETURN_IF_ERROR(CheckMemberPath(path, what));
  const std::string full = dir_ + "/" + path;
  struct stat st;
  if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    auto sources = entry.find("LayerSources");
    if (sources != entry.end() && sources->is_object() && sources->contains(diff_id.ToString())) {
      return Status::Unsupported(what + ": foreign layer " + diff_id.ToString() +
                                 " is not in the archive");
    }
    return Status::NotFound(what + ": missing from the archive");
  }
  auto it = scanned_.find(path);
  if (it == scanned_.end()) {
    ASSIGN_OR_RETURN(LayerFile f, ScanLayerFile(full));
    it = scanned_.emplace(path, f).first;
  }
  const LayerFile& f = it->second;
  Digest named;
  if (DigestFromName(path, &named) && named != f.digest) {
    return Status::Corruption(what + ": digest mismatch (content has " + f.digest.ToString() + ")");
  }
  if (f.media_type == kMediaTypeDockerLayer && f.digest != diff_id) {
    return Status::Corruption(what + ": content has digest " + f.digest.ToString() +
                              ", config says diff_id " + diff_id.ToString());
  }
  blobs_[f.digest] = full;
  Descriptor d;
  d.media_type = f.media_type;
  d.digest = f.digest;
  d.size = f.size;
  return d;
}

Result<SourceImage> DockerArchiveReader::Resolve(const Platform& /*want*/) {
  ASSIGN_OR_RETURN(json entry, ChooseEntry());
  const std::string what = name_ + ": manifest.json";
  auto config_it = entry.find("Config");
  if (config_it == entry.end() || !config_it->is_string())
    return Status::Invalid(what + ": entry without \"Config\"");
  const std::string config_path = config_it->get<std::string>();
  const std::string config_what = name_ + ": config " + config_path;
  RETURN_IF_ERROR(CheckMemberPath(config_path, config_what));

  SourceImage img;
  auto config = ReadFile(dir_ + "/" + config_path, 64u << 20);
  if (!config.ok()) {
    if (config.status().err() == ENOENT) return Status::NotFound(config_what + ": missing");
    return config.status();
  }
  img.config = std::move(*config);
  img.config_digest = Digest::Of(img.config);
  img.config_media_type = kMediaTypeDockerConfig;
  Digest named;
  if (DigestFromName(config_path, &named) && named != img.config_digest) {
    return Status::Corruption(config_what + ": digest mismatch (content has " +
                              img.config_digest.ToString() + ")");
  }
  ASSIGN_OR_RETURN(json config_json, ParseJson(img.config, config_what));
  ASSIGN_OR_RETURN(img.diff_ids, ParseDiffIds(config_json, config_what));

  auto layers_it = entry.find("Layers");
  if (layers_it == entry.end() || !layers_it->is_array())
    return Status::Invalid(what + ": entry without \"Layers\"");
  if (layers_it->size() != img.diff_ids.size()) {
    return Status::Corruption(config_what + ": " + std::to_string(img.diff_ids.size()) +
                              " diff_ids for " + std::to_string(layers_it->size()) + " layers");
  }
  blobs_.clear();
  blobs_[img.config_digest] = dir_ + "/" + config_path;
  for (size_t i = 0; i < layers_it->size(); i++) {
    const json& l = (*layers_it)[i];
    if (!l.is_string()) return Status::Invalid(what + ": \"Layers\" entry is not a string");
    ASSIGN_OR_RETURN(Descriptor d, LayerDescriptor(entry, l.get<std::string>(), img.diff_ids[i]));
    img.layers.push_back(std::move(d));
  }

  json m = json::object();
  m["schemaVersion"] = 2;
  m["mediaType"] = kMediaTypeDockerManifest;
  Descriptor config_desc;
  config_desc.media_type = kMediaTypeDockerConfig;
  config_desc.digest = img.config_digest;
  config_desc.size = img.config.size();
  m["config"] = DescriptorToJson(config_desc);
  m["layers"] = json::array();
  for (const auto& d : img.layers) m["layers"].push_back(DescriptorToJson(d));
  img.manifest = m.dump();
  img.manifest_digest = Digest::Of(img.manifest);
  img.manifest_media_type = kMediaTypeDockerManifest;
  std::vector<std::string> tags = RepoTags(entry);
  if (!tags.empty()) img.ref_name = tags[0];
  return img;
}

Result<std::unique_ptr<ByteSource>> DockerArchiveReader::OpenBlob(const Descriptor& d) {
  auto it = blobs_.find(d.digest);
  if (it == blobs_.end()) {
    return Status::NotFound(name_ + ": no blob " + d.digest.ToString() + " in the resolved image");
  }
  int fd = ::open(it->second.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::IOError(it->second);
  UniqueFd ufd(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::IOError(it->second);
  if (static_cast<uint64_t>(st.st_size) != d.size) {
    return Status::Corruption(name_ + ": blob " + d.digest.ToString() + ": size " +
                              std::to_string(st.st_size) + ", want " + std::to_string(d.size));
  }
  return std::unique_ptr<ByteSource>(std::make_unique<FdSource>(std::move(ufd)));
}

}  // namespace

Result<std::unique_ptr<ImageSourceReader>> OpenDockerArchiveReader(std::string dir,
                                                                   std::string selector,
                                                                   std::string name,
                                                                   TempDir owned) {
  return std::unique_ptr<ImageSourceReader>(std::make_unique<DockerArchiveReader>(
      std::move(dir), std::move(selector), std::move(name), std::move(owned)));
}

}  // namespace cfs::oci
