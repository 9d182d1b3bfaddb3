#include "registry/layout.h"

#include <fcntl.h>
#include <unistd.h>

#include "store/oci_metadata.h"

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
  ASSIGN_OR_RETURN(FetchedManifest m, client.GetManifest(ref.repository, ref.ManifestRef()));
  for (int depth = 0; depth < 4 && oci::IsIndexMediaType(m.media_type); depth++) {
    const std::string what = name + ": index " + m.digest.ToString();
    ASSIGN_OR_RETURN(json j, oci::ParseJson(m.bytes, what));
    ASSIGN_OR_RETURN(std::vector<oci::IndexEntry> entries, oci::ParseIndex(j, what));
    ASSIGN_OR_RETURN(oci::IndexEntry chosen, oci::ChooseByPlatform(entries, platform, what));
    ASSIGN_OR_RETURN(m, client.GetManifest(ref.repository, chosen.desc.digest.ToString()));
  }
  const std::string what = name + ": manifest " + m.digest.ToString();
  if (!oci::IsManifestMediaType(m.media_type))
    return Status::Unsupported(what + ": media type \"" + m.media_type + "\" is not an image manifest");
  ASSIGN_OR_RETURN(json mj, oci::ParseJson(m.bytes, what));
  ASSIGN_OR_RETURN(oci::Manifest manifest, oci::ParseManifest(mj, m.media_type, what));
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

}  // namespace cfs::registry
