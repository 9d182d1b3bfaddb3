#include "registry/image_list_io.h"

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

}  // namespace

Result<PullAllResult> PullAllPlatforms(Store& store, const std::string& name,
                                       PullFromRegistryOptions& o) {
  ASSIGN_OR_RETURN(auto conf, RegistriesOf(o));
  ASSIGN_OR_RETURN(auto candidates, conf->Resolve(name));
  ASSIGN_OR_RETURN(ConnectedPull c, ConnectForRead(candidates, *conf, o.client_options, o.log));
  ASSIGN_OR_RETURN(FetchedManifest m, c.client->GetManifest(c.remote.repository, c.remote.ManifestRef()));
  PullAllResult out;
  if (!IsIndexMediaType(m.media_type)) {
    ASSIGN_OR_RETURN(PullResult one, PullFromRegistry(store, name, o));
    out.images.push_back(std::move(one));
    return out;
  }
  const std::string what = c.logical.ToString();
  ASSIGN_OR_RETURN(json j, oci::ParseJson(m.bytes, what));
  ASSIGN_OR_RETURN(auto entries, oci::ParseIndex(j, what));
  const std::string list_name = o.pull.as_name.empty() ? c.logical.LocalName() : o.pull.as_name;
  Reference pinned = c.remote;
  pinned.tag.clear();
  pinned.digest = m.digest;  // every platform from the index read above
  std::vector<std::string> children;
  bool all = true;
  for (const auto& e : entries) {
    if (!Pullable(e)) {
      all = false;
      continue;
    }
    PullFromRegistryOptions sub = o;
    sub.client = c.client;
    sub.source = "docker://" + c.logical.ToString();
    sub.pull.platform = e.platform;
    sub.pull.as_name = list_name;
    if (o.log) o.log(what + ": pulling " + e.platform.ToString());
    ASSIGN_OR_RETURN(PullResult r, PullFromRegistry(store, pinned.ToString(), sub));
    children.push_back(r.image.summary.manifest_digest.ToString());
    out.images.push_back(std::move(r));
  }
  if (children.empty()) return Status::NotFound(what + ": the index names no platform image");
  ASSIGN_OR_RETURN(out.list, store.PutImageList(list_name, children, "docker://" + what,
                                                all ? m.bytes : std::string()));
  return out;
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

}  // namespace cfs::registry
