#include "registry/image_list_io.h"

#include <sys/stat.h>

#include <functional>

#include "base/io.h"
#include "registry/referrers.h"
#include "transport/archive_member.h"
#include "store/work_dir.h"
#include "transport/oci_metadata.h"

namespace cfs::registry {

using nlohmann::json;

namespace {

bool IsIndexMediaType(const std::string& mt) {
  return mt == oci::kMediaTypeOciIndex || mt == oci::kMediaTypeDockerManifestList;
}

// Index entries a list keeps: those with a real platform.
bool Pullable(const oci::IndexEntry& e) {
  return e.has_platform && e.platform.os != "unknown" && e.platform.arch != "unknown" &&
         !e.platform.arch.empty();
}

json PlatformJson(const Platform& p) {
  json j = {{"architecture", p.arch}, {"os", p.os}};
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

constexpr char kRefName[] = "org.opencontainers.image.ref.name";

// A local reference split into transport, path and tag, as OpenImageSource
// splits it: at the first ':' whose left part exists (a directory for oci:,
// a file for oci-archive:); when none does, at the last ':' followed by no '/'.
struct LocalRef {
  bool archive = false;
  std::string path, tag;
};

Result<LocalRef> ParseLocalRef(const std::string& ref) {
  LocalRef r;
  std::string rest;
  if (ref.rfind("oci:", 0) == 0) {
    rest = ref.substr(4);
  } else if (ref.rfind("oci-archive:", 0) == 0) {
    r.archive = true;
    rest = ref.substr(12);
  } else {
    return Status::Invalid(ref + ": an image list goes to or comes from oci:DIR[:TAG] or "
                           "oci-archive:FILE[:TAG] (or a registry)");
  }
  r.path = rest;
  for (size_t i = rest.find(':'); i != std::string::npos; i = rest.find(':', i + 1)) {
    struct stat st;
    if (::stat(rest.substr(0, i).c_str(), &st) == 0 && S_ISDIR(st.st_mode) != r.archive) {
      r.path = rest.substr(0, i);
      r.tag = rest.substr(i + 1);
      return r;
    }
  }
  size_t c = rest.rfind(':');
  if (c != std::string::npos && rest.find('/', c) == std::string::npos) {
    r.path = rest.substr(0, c);
    r.tag = rest.substr(c + 1);
  }
  return r;
}

std::string Basename(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// The index index.json names for tag (or its only entry), and its ref name.
Result<std::pair<std::string, std::string>> LayoutIndex(const std::string& dir, const std::string& tag,
                                                        const std::string& what) {
  ASSIGN_OR_RETURN(std::string top, ReadFile(dir + "/index.json", 64u << 20));
  ASSIGN_OR_RETURN(json j, oci::ParseJson(top, what + ": index.json"));
  ASSIGN_OR_RETURN(auto entries, oci::ParseIndex(j, what + ": index.json"));
  std::vector<oci::IndexEntry> hits;
  for (const auto& e : entries) {
    auto it = e.desc.annotations.find(kRefName);
    std::string name = it == e.desc.annotations.end() ? "" : it->second;
    if (tag.empty() || name == tag || name.ends_with(":" + tag)) hits.push_back(e);
  }
  if (hits.size() != 1)
    return Status::NotFound(what + ": " + std::to_string(hits.size()) + " entries of index.json match" +
                            (tag.empty() ? "" : " tag \"" + tag + "\"") + "; want one image index");
  if (!IsIndexMediaType(hits[0].desc.media_type))
    return Status::Invalid(what + ": names an image, not an image index (pull it without --platform all)");
  const std::string path = dir + "/blobs/sha256/" + hits[0].desc.digest.Hex();
  ASSIGN_OR_RETURN(std::string bytes, oci::ReadVerifiedBlob(path, hits[0].desc, what + ": index"));
  auto it = hits[0].desc.annotations.find(kRefName);
  return std::make_pair(bytes, it == hits[0].desc.annotations.end() ? std::string() : it->second);
}

// An image index to pull every platform of, from a registry or a layout.
struct IndexToPull {
  std::string what;       // the index, in messages
  std::string bytes;      // the index as read
  std::string list_name;  // the image list it becomes in the store
  std::string source;     // recorded as the list's source
};

// Pulls each entry of the index that has a platform, with pull_one, then
// records the list: the index kept byte for byte when every entry was
// pulled, else an index of the pulled ones.
Result<PullAllResult> PullEveryPlatform(
    Store& store, const IndexToPull& index,
    const std::function<Result<PullResult>(const Platform&)>& pull_one) {
  ASSIGN_OR_RETURN(json j, oci::ParseJson(index.bytes, index.what));
  ASSIGN_OR_RETURN(auto entries, oci::ParseIndex(j, index.what));
  PullAllResult out;
  std::vector<std::string> children;
  bool all = true;
  for (const auto& e : entries) {
    if (!Pullable(e)) {
      all = false;
      continue;
    }
    ASSIGN_OR_RETURN(PullResult r, pull_one(e.platform));
    children.push_back(r.image.summary.manifest_digest.ToString());
    out.images.push_back(std::move(r));
  }
  if (children.empty()) return Status::NotFound(index.what + ": the index names no platform image");
  ASSIGN_OR_RETURN(out.list, store.PutImageList(index.list_name, children, index.source,
                                                all ? index.bytes : std::string()));
  return out;
}

}  // namespace

Result<PullAllResult> PullAllPlatforms(Store& store, const std::string& name,
                                       PullFromRegistryOptions& o) {
  ASSIGN_OR_RETURN(auto conf, RegistriesOf(o));
  ASSIGN_OR_RETURN(auto candidates, conf->Resolve(name));
  ASSIGN_OR_RETURN(ConnectedPull c, ConnectForRead(candidates, *conf, o.client_options, o.log));
  ASSIGN_OR_RETURN(FetchedManifest m, c.client->GetManifest(c.remote.repository, c.remote.ManifestRef()));
  if (!IsIndexMediaType(m.media_type)) {
    PullAllResult out;
    ASSIGN_OR_RETURN(PullResult one, PullFromRegistry(store, name, o));
    out.images.push_back(std::move(one));
    return out;
  }
  const std::string what = c.logical.ToString();
  const std::string list_name = o.pull.as_name.empty() ? c.logical.LocalName() : o.pull.as_name;
  Reference pinned = c.remote;
  pinned.tag.clear();
  pinned.digest = m.digest;  // every platform from the index read above
  auto pull_one = [&](const Platform& p) {
    PullFromRegistryOptions sub = o;
    sub.client = c.client;
    sub.source = "docker://" + what;
    sub.pull.platform = p;
    sub.pull.as_name = list_name;
    if (o.log) o.log(what + ": pulling " + p.ToString());
    return PullFromRegistry(store, pinned.ToString(), sub);
  };
  return PullEveryPlatform(store, {what, m.bytes, list_name, "docker://" + what}, pull_one);
}

Result<Digest> PushImageList(Store& store, const ImageListDetails& list, Reference ref,
                             const PushToRegistryOptions& o) {
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  PushToRegistryOptions sub = o;
  if (!sub.client) {
    ASSIGN_OR_RETURN(auto c, Client::Create(ref.registry, o.client_options));
    sub.client = std::move(c);
  }
  json manifests = json::array();
  for (const auto& child : list.children) {
    Reference by_digest = ref;
    by_digest.tag.clear();
    by_digest.digest = child.manifest;  // written untagged, by its own digest
    ASSIGN_OR_RETURN(PushStats st, PushToRegistry(store, child.manifest.ToString(), by_digest, sub));
    ASSIGN_OR_RETURN(FetchedManifest put,
                     sub.client->GetManifest(ref.repository, st.manifest_digest.ToString()));
    // Its artifacts (an SBOM) as referrers of the manifest just written.
    ASSIGN_OR_RETURN(ImageDetails image, store.Inspect(child.manifest.ToString()));
    if (!image.referrers.empty()) {
      auto refs = PushReferrers(store, *sub.client, ref.repository, image, put.digest, store.root() + "/tmp");
      if (!refs.ok()) return refs.status();
    }
    manifests.push_back({{"mediaType", put.media_type},
                         {"digest", put.digest.ToString()},
                         {"size", put.bytes.size()},
                         {"platform", PlatformJson(child.platform)}});
  }
  std::string index =
      json({{"schemaVersion", 2}, {"mediaType", oci::kMediaTypeOciIndex}, {"manifests", manifests}})
          .dump();
  RETURN_IF_ERROR(sub.client->PutManifest(ref.repository, ref.ManifestRef(), oci::kMediaTypeOciIndex, index));
  return Digest::Of(index);
}

Result<PullAllResult> PullAllPlatformsLocal(Store& store, const std::string& src,
                                            const PullOptions& o) {
  ASSIGN_OR_RETURN(LocalRef ref, ParseLocalRef(src));
  ASSIGN_OR_RETURN(WorkDir work, WorkDir::Create(store.root(), "pull-"));
  std::string dir = ref.path;
  ArchiveImages unpacked;  // lives until the pulls are done
  if (ref.archive) {
    ASSIGN_OR_RETURN(unpacked, OpenArchiveImages(ref.path, work.path()));
    dir = unpacked.dir.path();
  }
  ASSIGN_OR_RETURN(auto found, LayoutIndex(dir, ref.tag, src));
  const auto& [index, ref_name] = found;
  std::string name = o.as_name;
  if (name.empty()) name = ref_name.find(':') != std::string::npos ? ref_name
                           : Basename(ref.path) + ":" + (ref.tag.empty() ? "latest" : ref.tag);
  const std::string layout = "oci:" + dir + (ref_name.empty() ? "" : ":" + ref_name);
  auto pull_one = [&](const Platform& p) {
    PullOptions sub = o;
    sub.platform = p;
    sub.as_name = name;
    return store.Pull(layout, sub);
  };
  return PullEveryPlatform(store, {src, index, name, src}, pull_one);
}

namespace {

// An OCI layout destination that writes what it is given but lists no
// image in index.json: the images of a list are reached through its index.
class UnlistedImages : public ImageDestination {
 public:
  explicit UnlistedImages(OciLayoutWriter& w) : w_(w) {}
  Status PutBlob(const Descriptor& d, std::string_view bytes) override { return w_.PutBlob(d, bytes); }
  Result<Descriptor> PutBlobStream(const std::string& media_type,
                                   const std::function<Status(ByteSink&)>& write) override {
    return w_.PutBlobStream(media_type, write);
  }
  Status PutManifest(const Descriptor& d, std::string_view bytes, const std::string&) override {
    // A referrer (its artifactType set): an untagged index.json entry, as
    // a single image's push writes it, where readers look for referrers.
    if (!d.artifact_type.empty()) return w_.PutManifest(d, bytes, "");
    last = d;
    last.size = bytes.size();
    return w_.PutBlob(d, bytes);
  }
  Status Finish() override { return Status::Ok(); }
  Descriptor last;  // the manifest written last

 private:
  OciLayoutWriter& w_;
};

}  // namespace

Result<Digest> PushImageListToLayout(Store& store, const ImageListDetails& list,
                                     const std::string& dest, const PushOptions& o,
                                     const std::string& tag_given) {
  ASSIGN_OR_RETURN(LocalRef ref, ParseLocalRef(dest));
  std::string tag = tag_given.empty() ? ref.tag : tag_given;
  if (tag.empty() && !list.names.empty()) tag = list.names[0].substr(list.names[0].rfind(':') + 1);
  if (tag.empty()) tag = "latest";
  ASSIGN_OR_RETURN(WorkDir work, WorkDir::Create(store.root(), "push-"));
  ASSIGN_OR_RETURN(auto w, OciLayoutWriter::Create(ref.archive ? work.path() + "/layout" : ref.path));
  UnlistedImages images(*w);
  json manifests = json::array();
  PushOptions with_referrers = o;
  with_referrers.referrers = true;
  for (const auto& child : list.children) {
    RETURN_IF_ERROR(store.PushTo(child.manifest.ToString(), images, "", with_referrers));
    manifests.push_back({{"mediaType", images.last.media_type},
                         {"digest", images.last.digest.ToString()},
                         {"size", images.last.size},
                         {"platform", PlatformJson(child.platform)}});
  }
  std::string index =
      json({{"schemaVersion", 2}, {"mediaType", oci::kMediaTypeOciIndex}, {"manifests", manifests}})
          .dump();
  Descriptor d{oci::kMediaTypeOciIndex, Digest::Of(index), index.size(), {}, {}};
  RETURN_IF_ERROR(w->PutManifest(d, index, tag));
  RETURN_IF_ERROR(w->Finish());
  if (ref.archive) RETURN_IF_ERROR(WriteTarOfDir(w->dir(), ref.path));
  return d.digest;
}

Result<bool> ArchiveHoldsImageList(const std::string& file) {
  ASSIGN_OR_RETURN(auto top, ReadArchiveMember(file, "index.json"));
  if (!top) return false;  // a docker-archive
  ASSIGN_OR_RETURN(json j, oci::ParseJson(*top, file + ": index.json"));
  ASSIGN_OR_RETURN(auto entries, oci::ParseIndex(j, file + ": index.json"));
  return entries.size() == 1 && IsIndexMediaType(entries[0].desc.media_type);
}

}  // namespace cfs::registry
