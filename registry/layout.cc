#include "registry/layout.h"

#include <fcntl.h>
#include <unistd.h>

#include "transport/oci_metadata.h"

namespace cfs::registry {

using nlohmann::json;

namespace {

std::string V2(const std::string& root) { return root + "/docker/registry/v2"; }

}  // namespace

bool DistributionLayout::HasBlob(const Digest& d) const {
  return PathExists(V2(root_) + "/blobs/sha256/" + d.Hex().substr(0, 2) + "/" + d.Hex() + "/data");
}

Result<std::string> DistributionLayout::BlobPath(const Digest& d) {
  std::string dir = V2(root_) + "/blobs/sha256/" + d.Hex().substr(0, 2) + "/" + d.Hex();
  RETURN_IF_ERROR(MakeDirs(dir, 0755));
  return dir + "/data";
}

Status DistributionLayout::PutBlob(const Digest& d, std::string_view bytes) {
  if (Digest::Of(bytes) != d) return Status::Corruption("blob " + d.ToString() + ": bytes do not match");
  if (HasBlob(d)) return Status::Ok();
  ASSIGN_OR_RETURN(std::string path, BlobPath(d));
  return WriteFileAtomic(path, bytes, 0644);
}

Status DistributionLayout::WriteLink(const std::string& path, const Digest& d) {
  RETURN_IF_ERROR(MakeDirs(path.substr(0, path.rfind('/')), 0755));
  return WriteFileAtomic(path, d.ToString(), 0644);
}

Status DistributionLayout::LinkLayer(const std::string& repo, const Digest& d) {
  return WriteLink(V2(root_) + "/repositories/" + repo + "/_layers/sha256/" + d.Hex() + "/link", d);
}

Status DistributionLayout::LinkManifest(const std::string& repo, const Digest& d,
                                        const std::string& tag) {
  const std::string m = V2(root_) + "/repositories/" + repo + "/_manifests";
  RETURN_IF_ERROR(WriteLink(m + "/revisions/sha256/" + d.Hex() + "/link", d));
  if (tag.empty()) return Status::Ok();
  RETURN_IF_ERROR(WriteLink(m + "/tags/" + tag + "/index/sha256/" + d.Hex() + "/link", d));
  return WriteLink(m + "/tags/" + tag + "/current/link", d);
}

Status CopyImageToLayout(Client& client, const Reference& ref, const Platform& platform,
                         DistributionLayout& layout, const std::string& repo,
                         const std::string& tag, CopyStats* stats) {
  const std::string name = ref.ToString();
  ASSIGN_OR_RETURN(auto resolved,
                   client.ResolveImageManifest(ref.repository, ref.ManifestRef(), platform, name));
  auto& [m, manifest] = resolved;
  std::vector<Descriptor> blobs = manifest.layers;
  blobs.insert(blobs.begin(), manifest.config);
  for (const auto& d : blobs) {
    if (layout.HasBlob(d.digest)) {
      if (stats) stats->blobs_reused++;
    } else {
      ASSIGN_OR_RETURN(std::string path, layout.BlobPath(d.digest));
      std::string tmp = path + ".tmp";
      {
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd.valid()) return Status::IOError(tmp);
        FdSink sink(fd.get());
        Status st = client.FetchBlob(ref.repository, d, sink);
        if (st.ok() && ::fsync(fd.get()) != 0) st = Status::IOError(tmp);
        if (!st.ok()) {
          ::unlink(tmp.c_str());
          return st.Prefix(name);
        }
      }
      if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError(path);
      if (stats) {
        stats->blobs_fetched++;
        stats->bytes_fetched += d.size;
      }
    }
    RETURN_IF_ERROR(layout.LinkLayer(repo, d.digest));
  }
  RETURN_IF_ERROR(layout.PutBlob(m.digest, m.bytes));
  return layout.LinkManifest(repo, m.digest, tag);
}

Result<std::vector<std::string>> LoadArchiveToLayout(const std::string& archive,
                                                     const Platform& platform,
                                                     DistributionLayout& layout,
                                                     const std::string& tmp_parent) {
  std::vector<std::string> out;
  // docker save archives may hold several images (@0, @1, ...); an
  // oci-archive the one its index names.
  std::vector<std::string> refs;
  for (int i = 0; i < 1000; i++) refs.push_back("docker-archive:" + archive + ":@" + std::to_string(i));
  bool docker = true;
  for (size_t i = 0; i < refs.size(); i++) {
    auto src = OpenImageSource(docker ? refs[i] : "oci-archive:" + archive, tmp_parent);
    Result<SourceImage> img = src.ok() ? (*src)->Resolve(platform) : Result<SourceImage>(src.status());
    if (!img.ok()) {
      if (i == 0 && docker) {  // not a docker archive: an OCI one
        docker = false;
        i = static_cast<size_t>(-1);
        continue;
      }
      if (i > 0) break;  // past the last image of the archive
      return img.status().Prefix(archive);
    }
    std::string name = img->ref_name;
    if (name.empty()) return Status::Invalid(archive + ": an image without a name (repository:tag)");
    auto ref = Reference::Parse(name);
    if (!ref.ok()) return ref.status().Prefix(archive);
    std::vector<Descriptor> blobs = img->layers;
    RETURN_IF_ERROR(layout.PutBlob(img->config_digest, img->config));
    RETURN_IF_ERROR(layout.LinkLayer(ref->repository, img->config_digest));
    for (const auto& d : blobs) {
      if (!layout.HasBlob(d.digest)) {
        ASSIGN_OR_RETURN(auto in, (*src)->OpenBlob(d));
        ASSIGN_OR_RETURN(std::string path, layout.BlobPath(d.digest));
        std::string tmp = path + ".tmp";
        UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd.valid()) return Status::IOError(tmp);
        Sha256 h;
        std::string buf(1 << 20, '\0');
        uint64_t n_total = 0;
        for (;;) {
          ASSIGN_OR_RETURN(size_t n, in->Read(buf.data(), buf.size()));
          if (n == 0) break;
          h.Update(buf.data(), n);
          n_total += n;
          RETURN_IF_ERROR(WriteAll(fd.get(), buf.data(), n));
        }
        if (h.Finish() != d.digest || n_total != d.size) {
          ::unlink(tmp.c_str());
          return Status::Corruption(archive + ": blob " + d.digest.ToString() + " does not match");
        }
        if (::rename(tmp.c_str(), path.c_str()) != 0) return Status::IOError(path);
      }
      RETURN_IF_ERROR(layout.LinkLayer(ref->repository, d.digest));
    }
    RETURN_IF_ERROR(layout.PutBlob(img->manifest_digest, img->manifest));
    RETURN_IF_ERROR(layout.LinkManifest(ref->repository, img->manifest_digest, ref->tag));
    out.push_back(ref->repository + ":" + ref->tag);
    if (!docker) break;
  }
  return out;
}

}  // namespace cfs::registry
