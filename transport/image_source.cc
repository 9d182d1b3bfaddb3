// Platform names and the transport dispatch of OpenImageSource.
#include "transport/image_source.h"

#include <sys/stat.h>
#include <sys/utsname.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "image_source_internal.h"

namespace cfs {

namespace {

// uname(2) machine → GOARCH (and the variant OCI indexes use).
struct MachineName {
  const char* machine;
  const char* arch;
  const char* variant;
};
// clang-format off
constexpr MachineName kMachines[] = {
    {"x86_64", "amd64", ""},      {"amd64", "amd64", ""},
    {"i386", "386", ""},          {"i486", "386", ""},
    {"i586", "386", ""},          {"i686", "386", ""},
    {"aarch64", "arm64", "v8"},   {"arm64", "arm64", "v8"},
    {"armv8l", "arm", "v8"},      {"armv7l", "arm", "v7"},
    {"armv7", "arm", "v7"},       {"armv6l", "arm", "v6"},
    {"armv5tel", "arm", "v5"},    {"armv5l", "arm", "v5"},
    {"ppc64le", "ppc64le", ""},   {"ppc64", "ppc64", ""},
    {"s390x", "s390x", ""},       {"riscv64", "riscv64", ""},
    {"mips64", "mips64", ""},     {"loongarch64", "loong64", ""},
};
// clang-format on

enum class PathKind { kDir, kFile };

bool Exists(const std::string& p, PathKind kind) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) return false;
  return kind == PathKind::kDir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

// Splits "PATH[:TAG]" (see OpenImageSource). A tag is never empty.
void SplitPathAndTag(const std::string& s, PathKind kind, std::string* path, std::string* tag) {
  *path = s;
  tag->clear();
  if (Exists(s, kind)) return;
  for (size_t i = s.find(':'); i != std::string::npos; i = s.find(':', i + 1)) {
    if (i + 1 < s.size() && Exists(s.substr(0, i), kind)) {
      *path = s.substr(0, i);
      *tag = s.substr(i + 1);
      return;
    }
  }
  auto last = s.rfind(':');
  if (last != std::string::npos && last + 1 < s.size() &&
      s.find('/', last + 1) == std::string::npos) {
    *path = s.substr(0, last);
    *tag = s.substr(last + 1);
  }
}

// For docker-archive the part after FILE is a "NAME:TAG" that itself has a
// ':', so the split is at the first ':' after an existing file, else at the
// first ':' at all.
void SplitArchiveAndSelector(const std::string& s, std::string* path, std::string* selector) {
  *path = s;
  selector->clear();
  if (Exists(s, PathKind::kFile)) return;
  for (size_t i = s.find(':'); i != std::string::npos; i = s.find(':', i + 1)) {
    if (Exists(s.substr(0, i), PathKind::kFile)) {
      *path = s.substr(0, i);
      *selector = s.substr(i + 1);
      return;
    }
  }
  auto first = s.find(':');
  if (first != std::string::npos) {
    *path = s.substr(0, first);
    *selector = s.substr(first + 1);
  }
}

Result<TempDir> Unpack(const std::string& archive, const std::string& name,
                       const std::string& tmp_parent) {
  if (!Exists(archive, PathKind::kFile)) {
    struct stat st;
    if (::stat(archive.c_str(), &st) == 0) return Status::Invalid(name + ": not a regular file");
    return Status::NotFound(name + ": no such file");
  }
  ASSIGN_OR_RETURN(TempDir dir, TempDir::Create(tmp_parent, "src-"));
  RETURN_IF_ERROR(oci::ExtractImageArchive(archive, dir.path()));
  return dir;
}

}  // namespace

Platform Platform::Host() {
  struct utsname u;
  if (::uname(&u) != 0) return Platform{"linux", "", ""};
  return FromMachine(u.machine);
}

Platform Platform::FromMachine(const std::string& machine) {
  Platform p;
  p.os = "linux";
  p.arch = machine;
  for (const auto& m : kMachines) {
    if (machine == m.machine) {
      p.arch = m.arch;
      p.variant = m.variant;
      break;
    }
  }
  return p;
}

Result<Platform> Platform::Parse(const std::string& s) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string::npos) j = s.size();
    parts.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  bool ok = parts.size() == 2 || parts.size() == 3;
  for (const auto& p : parts) ok = ok && !p.empty();
  if (!ok)
    return Status::Invalid("bad platform \"" + s +
                           "\": want OS/ARCH[/VARIANT], e.g. linux/arm64/v8");
  Platform p;
  p.os = parts[0];
  p.arch = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

std::string Platform::ToString() const {
  if (os.empty() && arch.empty() && variant.empty()) return "";
  std::string s = os + "/" + arch;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Result<std::unique_ptr<ImageSourceReader>> OpenImageSource(const std::string& ref,
                                                           const std::string& tmp_parent) {
  auto has = [&](const char* prefix) { return ref.starts_with(prefix); };
  std::string path, tag;
  if (has("oci:")) {
    SplitPathAndTag(ref.substr(4), PathKind::kDir, &path, &tag);
    if (path.empty()) return Status::Invalid("\"" + ref + "\": no directory after oci:");
    return oci::OpenOciLayoutReader(path, tag, "oci:" + path, TempDir());
  }
  if (has("oci-archive:")) {
    SplitPathAndTag(ref.substr(12), PathKind::kFile, &path, &tag);
    if (path.empty()) return Status::Invalid("\"" + ref + "\": no file after oci-archive:");
    const std::string name = "oci-archive:" + path;
    ASSIGN_OR_RETURN(TempDir dir, Unpack(path, name, tmp_parent));
    std::string dir_path = dir.path();
    return oci::OpenOciLayoutReader(dir_path, tag, name, std::move(dir));
  }
  if (has("docker-archive:")) {
    SplitArchiveAndSelector(ref.substr(15), &path, &tag);
    if (path.empty()) return Status::Invalid("\"" + ref + "\": no file after docker-archive:");
    const std::string name = "docker-archive:" + path;
    ASSIGN_OR_RETURN(TempDir dir, Unpack(path, name, tmp_parent));
    std::string dir_path = dir.path();
    return oci::OpenDockerArchiveReader(dir_path, tag, name, std::move(dir));
  }
  return Status::Invalid("unknown transport in \"" + ref +
                         "\": want oci:, oci-archive: or docker-archive:");
}

std::vector<BlobRange> PlanRanges(std::vector<BlobRange> want, uint64_t max_gap,
                                  uint64_t max_len) {
  std::sort(want.begin(), want.end(),
            [](const BlobRange& a, const BlobRange& b) { return a.offset < b.offset; });
  std::vector<BlobRange> out;
  for (const auto& r : want) {
    if (!out.empty()) {
      BlobRange& last = out.back();
      uint64_t end = last.offset + last.length;
      if (r.offset >= last.offset && r.offset <= end + max_gap &&
          std::max(end, r.offset + r.length) - last.offset <= max_len) {
        last.length = std::max(end, r.offset + r.length) - last.offset;
        continue;
      }
    }
    out.push_back(r);
  }
  return out;
}

Status ImageSourceReader::ReadBlobRanges(
    const Descriptor& d, const std::vector<BlobRange>& ranges,
    const std::function<Status(size_t, std::string)>& fn) {
  for (size_t i = 0; i < ranges.size(); i++) {
    ASSIGN_OR_RETURN(std::string b, ReadBlobRange(d, ranges[i].offset, ranges[i].length));
    RETURN_IF_ERROR(fn(i, std::move(b)));
  }
  return Status::Ok();
}

namespace {

// The tags of an OCI layout's index.json, one per manifest ("" when none).
Result<std::vector<std::string>> LayoutTags(const std::string& dir, const std::string& file) {
  ASSIGN_OR_RETURN(std::string body, ReadFile(dir + "/index.json", 64 << 20));
  std::vector<std::string> tags;
  try {
    auto idx = nlohmann::json::parse(body);
    for (const auto& m : idx.at("manifests")) {
      if (m.contains("artifactType")) continue;  // a referrer, loaded with its image
      std::string tag;
      if (m.contains("annotations"))
        tag = m["annotations"].value("org.opencontainers.image.ref.name", "");
      tags.push_back(tag);
    }
  } catch (const std::exception& e) {
    return Status::Invalid(file + ": index.json: " + e.what());
  }
  if (tags.size() > 1 && std::count(tags.begin(), tags.end(), "") > 0)
    return Status::Invalid(file + ": an image in the archive has no name to load it by");
  return tags;
}

// How many images a docker archive's manifest.json lists.
Result<size_t> DockerArchiveCount(const std::string& dir, const std::string& file) {
  ASSIGN_OR_RETURN(std::string body, ReadFile(dir + "/manifest.json", 64 << 20));
  try {
    return nlohmann::json::parse(body).size();
  } catch (const std::exception& e) {
    return Status::Invalid(file + ": manifest.json: " + e.what());
  }
}

}  // namespace

Result<ArchiveImages> OpenArchiveImages(const std::string& file, const std::string& tmp_parent) {
  ArchiveImages out;
  ASSIGN_OR_RETURN(out.dir, TempDir::Create(tmp_parent, "load-"));
  const std::string& dir = out.dir.path();
  RETURN_IF_ERROR(oci::ExtractImageArchive(file, dir).Prefix(file));
  if (PathExists(dir + "/oci-layout")) {
    ASSIGN_OR_RETURN(auto tags, LayoutTags(dir, file));
    for (const auto& t : tags) {
      ASSIGN_OR_RETURN(auto r, oci::OpenOciLayoutReader(dir, tags.size() > 1 ? t : "",
                                                        "oci-archive:" + file, TempDir()));
      out.images.push_back({std::move(r), t});
    }
  } else if (PathExists(dir + "/manifest.json")) {
    ASSIGN_OR_RETURN(size_t n, DockerArchiveCount(dir, file));
    for (size_t i = 0; i < n; i++) {
      ASSIGN_OR_RETURN(auto r, oci::OpenDockerArchiveReader(dir, "@" + std::to_string(i),
                                                            "docker-archive:" + file, TempDir()));
      out.images.push_back({std::move(r), ""});
    }
  } else {
    return Status::Invalid(file + ": neither an OCI archive (no oci-layout) nor a docker archive "
                           "(no manifest.json)");
  }
  return out;
}

}  // namespace cfs
