// Writing an OCI image layout: blobs first (each renamed into place only
// when complete and verified), index.json last, so a reader never sees a
// manifest whose blobs are missing.
#include <sys/stat.h>

#include <cerrno>

#include "transport/image_source.h"
#include "transport/oci_metadata.h"

namespace cfs {

using nlohmann::json;

namespace {

// Hashes what passes through to an fd.
class HashingFdSink : public ByteSink {
 public:
  HashingFdSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  using ByteSink::Write;
  Status Write(const void* data, size_t n) override {
    hash_.Update(data, n);
    size_ += n;
    return WriteAll(fd_, data, n).Prefix(path_);
  }
  Digest Finish() { return hash_.Finish(); }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  std::string path_;
  Sha256 hash_;
  uint64_t size_ = 0;
};

// Removes a temporary file unless disarmed.
class UnlinkGuard {
 public:
  explicit UnlinkGuard(std::string path) : path_(std::move(path)) {}
  ~UnlinkGuard() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  void Disarm() { path_.clear(); }

 private:
  std::string path_;
};

std::string RefName(const json& descriptor) {
  if (!descriptor.is_object()) return "";
  auto ann = descriptor.find("annotations");
  if (ann == descriptor.end() || !ann->is_object()) return "";
  auto name = ann->find(oci::kAnnotationRefName);
  return name != ann->end() && name->is_string() ? name->get<std::string>() : "";
}

}  // namespace

Result<std::unique_ptr<OciLayoutWriter>> OciLayoutWriter::Create(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirs(dir + "/blobs/sha256"));
  const std::string marker = dir + "/oci-layout";
  if (PathExists(marker)) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(marker, 1 << 20));
    ASSIGN_OR_RETURN(json j, oci::ParseJson(bytes, marker));
    if (!j.is_object() || j.value("imageLayoutVersion", json()) != oci::kLayoutVersion) {
      return Status::Unsupported(marker + ": not an OCI image layout version " +
                                 oci::kLayoutVersion);
    }
  } else {
    json j = {{"imageLayoutVersion", oci::kLayoutVersion}};
    RETURN_IF_ERROR(WriteFileAtomic(marker, j.dump()));
  }
  return std::unique_ptr<OciLayoutWriter>(new OciLayoutWriter(dir));
}

std::string OciLayoutWriter::BlobPath(const Digest& d) const {
  return dir_ + "/blobs/sha256/" + d.Hex();
}

bool OciLayoutWriter::HasBlob(const Digest& d) const { return PathExists(BlobPath(d)); }

Status OciLayoutWriter::PutBlob(const Digest& d, std::string_view bytes) {
  if (HasBlob(d)) return Status::Ok();
  Digest got = Digest::Of(bytes.data(), bytes.size());
  if (got != d) {
    return Status::Corruption("blob " + d.ToString() + ": content has digest " + got.ToString() +
                              "; not written to " + dir_);
  }
  return WriteFileAtomic(BlobPath(d), bytes);
}

Result<Descriptor> OciLayoutWriter::PutBlobStream(const std::string& media_type,
                                                  const std::function<Status(ByteSink&)>& write) {
  const std::string tmp = dir_ + "/blobs/sha256/.tmp-" + RandomHex(8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(tmp);
  UniqueFd out(fd);
  UnlinkGuard guard(tmp);
  HashingFdSink sink(fd, tmp);
  RETURN_IF_ERROR(write(sink));
  RETURN_IF_ERROR(sink.Close());
  Descriptor d;
  d.media_type = media_type;
  d.digest = sink.Finish();
  d.size = sink.size();
  if (::fsync(fd) != 0) return Status::IOError("fsync " + tmp);
  out.Reset();
  if (::rename(tmp.c_str(), BlobPath(d.digest).c_str()) != 0)
    return Status::IOError("rename " + BlobPath(d.digest));
  guard.Disarm();
  RETURN_IF_ERROR(FsyncDir(dir_ + "/blobs/sha256"));
  return d;
}

void OciLayoutWriter::AddManifest(const Descriptor& manifest, const std::string& tag) {
  for (auto& [d, t] : manifests_) {
    if (!tag.empty() && t == tag) {
      d = manifest;
      return;
    }
    if (tag.empty() && t.empty() && d.digest == manifest.digest) return;  // listed once
  }
  manifests_.emplace_back(manifest, tag);
}

Status OciLayoutWriter::Finish() {
  const std::string path = dir_ + "/index.json";
  json index = json::object();
  json kept = json::array();
  if (PathExists(path)) {
    ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, 64u << 20));
    ASSIGN_OR_RETURN(index, oci::ParseJson(bytes, path));
    if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array())
      return Status::Invalid(path + ": not an image index (no \"manifests\" array)");
    for (const json& m : index["manifests"]) {
      if (!m.is_object()) return Status::Invalid(path + ": manifest entry is not an object");
      const std::string t = RefName(m);
      auto digest = m.find("digest");
      const bool has_digest = digest != m.end() && digest->is_string();
      bool replaced = false;
      for (const auto& [d, tag] : manifests_) {
        if (!tag.empty()) {
          replaced = replaced || t == tag;
        } else {  // the same untagged image is listed once
          replaced = replaced || (t.empty() && has_digest && *digest == d.digest.ToString());
        }
      }
      if (!replaced) kept.push_back(m);
    }
  }
  for (const auto& [d, tag] : manifests_) {
    if (!HasBlob(d.digest)) {
      return Status::Invalid(dir_ + ": manifest " + d.digest.ToString() +
                             " was added but its blob was not written");
    }
    Descriptor with_tag = d;
    if (!tag.empty()) with_tag.annotations[oci::kAnnotationRefName] = tag;
    kept.push_back(oci::DescriptorToJson(with_tag));
  }
  index["schemaVersion"] = 2;
  index["mediaType"] = oci::kMediaTypeOciIndex;
  index["manifests"] = std::move(kept);
  return WriteFileAtomic(path, index.dump());
}

}  // namespace cfs
