// Image lists (multi-platform images): an OCI image index kept in the store
// over images of the store, one per platform. FORMAT.md "Image lists".
//
//   "b" + index digest  the index JSON, as pulled or as written here
//   "l" + index digest  ImageListRecord: the children (manifest digests,
//                       platforms) in index order, source, stored_at
//   "n" + name          may name an index digest
//
// A list record is indexed only after every child's image record; gc keeps
// the index blob while the record lives (the children are image records,
// roots of their own), and Remove keeps a child's record while a list names it.
#include <algorithm>

#include "store_impl.h"
#include "transport/oci_metadata.h"

namespace cfs {

using nlohmann::json;

std::string ImageListRecord::ToJson() const {
  json j;
  j["children"] = json::array();
  for (const auto& c : children)
    j["children"].push_back({{"manifest", c.manifest.ToString()}, {"platform", c.platform.ToString()}});
  j["source"] = source;
  j["stored_at"] = stored_at;
  return j.dump();
}

Result<ImageListRecord> ImageListRecord::FromJson(std::string_view s) {
  ImageListRecord r;
  try {
    json j = json::parse(s);
    for (const auto& c : j.at("children")) {
      ImageListChild child;
      ASSIGN_OR_RETURN(child.manifest, Digest::Parse(c.at("manifest").get<std::string>()));
      std::string p = c.value("platform", "");
      if (!p.empty()) {
        ASSIGN_OR_RETURN(child.platform, Platform::Parse(p));
      }
      r.children.push_back(std::move(child));
    }
    r.source = j.value("source", "");
    r.stored_at = j.value("stored_at", int64_t{0});
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("image list record: ") + e.what());
  }
  return r;
}

namespace {

// os/architecture/variant of an image config.
Platform ConfigPlatform(const std::string& config) {
  Platform p;
  try {
    json c = json::parse(config);
    p.os = c.value("os", "");
    p.arch = c.value("architecture", "");
    p.variant = c.value("variant", "");
  } catch (const std::exception&) {
  }
  return p;
}

json PlatformJson(const Platform& p) {
  json j = {{"architecture", p.arch}, {"os", p.os}};
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

std::string PlatformList(const std::vector<ImageListChild>& children) {
  std::string s;
  for (const auto& c : children) s += (s.empty() ? "" : ", ") + c.platform.ToString();
  return s.empty() ? "none" : s;
}

// The children an index names, each a stored image.
Result<std::vector<ImageListChild>> ChildrenOfIndex(Index& ix, const std::string& index) {
  ASSIGN_OR_RETURN(json j, oci::ParseJson(index, "image index"));
  ASSIGN_OR_RETURN(auto entries, oci::ParseIndex(j, "image index"));
  std::vector<ImageListChild> out;
  for (const auto& e : entries) {
    ASSIGN_OR_RETURN(auto rec, ix.Get(key::Image(e.desc.digest)));
    if (!rec)
      return Status::NotFound("image index names " + e.desc.digest.ToString() + " (" +
                              e.platform.ToString() + "), which the store lacks");
    out.push_back({e.desc.digest, e.platform});
  }
  return out;
}

}  // namespace

Result<std::optional<ImageListRecord>> Store::Impl::LoadList(Index& ix, const Digest& d) {
  ASSIGN_OR_RETURN(auto v, ix.Get(key::List(d)));
  if (!v) return std::optional<ImageListRecord>();
  ASSIGN_OR_RETURN(ImageListRecord r, ImageListRecord::FromJson(*v));
  return std::optional<ImageListRecord>(std::move(r));
}

Result<std::vector<Digest>> Store::Impl::ListsOf(Index& ix, const Digest& m) {
  std::vector<Digest> out;
  Status bad;
  RETURN_IF_ERROR(ix.Scan("l", [&](std::string_view k, std::string_view v) {
    auto rec = ImageListRecord::FromJson(v);
    if (!rec.ok()) {
      bad = rec.status();
      return false;
    }
    for (const auto& c : rec->children)
      if (c.manifest == m) {
        out.push_back(Digest::FromRaw(k.substr(1)));
        break;
      }
    return true;
  }));
  RETURN_IF_ERROR(bad);
  return out;
}

Result<Digest> Store::Impl::Resolve(Index& ix, const std::string& name, const Platform& platform) {
  ASSIGN_OR_RETURN(Digest d, ResolveAny(ix, name));
  ASSIGN_OR_RETURN(auto list, LoadList(ix, d));
  if (!list) return d;
  Platform want = platform.os.empty() && platform.arch.empty() ? Platform::Host() : platform;
  for (const auto& c : list->children)
    if (oci::PlatformMatches(want, c.platform)) return c.manifest;
  return Status::NotFound("image list " + name + " has no image for platform " + want.ToString() +
                          " (it has: " + PlatformList(list->children) + ")");
}

Status Store::Impl::RemoveList(Index& ix, const Digest& d, Index::Batch* b,
                               std::vector<std::string>* removed,
                               const std::vector<ImageListChild>& keep) {
  ASSIGN_OR_RETURN(auto list, LoadList(ix, d));
  if (!list) return Status::NotFound("image list " + d.ToString() + " not found");
  ASSIGN_OR_RETURN(auto names, NamesOf(ix, d));
  for (const auto& n : names) {
    b->Delete(key::Name(n));
    removed->push_back(n);
  }
  b->Delete(key::List(d));
  for (const auto& c : list->children) {
    ASSIGN_OR_RETURN(auto child_names, NamesOf(ix, c.manifest));
    ASSIGN_OR_RETURN(auto lists, ListsOf(ix, c.manifest));
    bool other_list = std::any_of(lists.begin(), lists.end(), [&](const Digest& l) { return l != d; });
    bool kept = std::any_of(keep.begin(), keep.end(),
                            [&](const ImageListChild& k) { return k.manifest == c.manifest; });
    if (child_names.empty() && !other_list && !kept) b->Delete(key::Image(c.manifest));
  }
  return Status::Ok();
}

namespace {

// The index JSON over stored images (by name or ID) and their platforms.
Result<std::pair<std::string, std::vector<ImageListChild>>> WriteIndex(
    Store::Impl& impl, Index& ix, const std::vector<std::string>& images) {
  json manifests = json::array();
  std::vector<ImageListChild> children;
  for (const auto& name : images) {
    ASSIGN_OR_RETURN(Digest m, impl.ResolveAny(ix, name));
    ASSIGN_OR_RETURN(auto is_list, impl.LoadList(ix, m));
    if (is_list) return Status::Invalid(name + " is an image list; a list holds images only");
    ASSIGN_OR_RETURN(ImageRecord rec, impl.LoadRecord(ix, m));
    ASSIGN_OR_RETURN(std::string manifest, impl.LoadBlob(ix, m));
    ASSIGN_OR_RETURN(std::string config, impl.LoadBlob(ix, rec.config));
    Platform p = ConfigPlatform(config);
    if (p.os.empty() || p.arch.empty())
      return Status::Invalid(name + ": its config names no os/architecture, so no platform");
    std::string mt = rec.manifest_media_type.empty() ? oci::kMediaTypeOciManifest
                                                     : rec.manifest_media_type;
    manifests.push_back({{"mediaType", mt},
                         {"digest", m.ToString()},
                         {"size", manifest.size()},
                         {"platform", PlatformJson(p)}});
    children.push_back({m, p});
  }
  json index = {{"schemaVersion", 2},
                {"mediaType", oci::kMediaTypeOciIndex},
                {"manifests", manifests}};
  return std::make_pair(index.dump(), std::move(children));
}

// The list d, or nullopt when d is not a list.
Result<std::optional<ImageListDetails>> ListDetails(Store::Impl& impl, Index& ix, const Digest& d) {
  ASSIGN_OR_RETURN(auto rec, impl.LoadList(ix, d));
  if (!rec) return std::optional<ImageListDetails>();
  ImageListDetails out;
  out.digest = d;
  ASSIGN_OR_RETURN(out.index, impl.LoadBlob(ix, d));
  ASSIGN_OR_RETURN(out.names, impl.NamesOf(ix, d));
  out.children = std::move(rec->children);
  out.source = std::move(rec->source);
  return std::optional<ImageListDetails>(std::move(out));
}

// The list `name` named before, when this was its only name and it is not
// the new one: removed (with its children the new list does not hold).
Status ReplaceOldList(Store::Impl& impl, Index& ix, const std::string& name, const Digest& now,
                      const std::vector<ImageListChild>& keep, Index::Batch* b) {
  ASSIGN_OR_RETURN(auto v, ix.Get(key::Name(name)));
  if (!v) return Status::Ok();
  ASSIGN_OR_RETURN(Digest old, Digest::Parse(*v));
  if (old == now) return Status::Ok();
  ASSIGN_OR_RETURN(auto list, impl.LoadList(ix, old));
  ASSIGN_OR_RETURN(auto names, impl.NamesOf(ix, old));
  if (!list || names.size() != 1) return Status::Ok();
  std::vector<std::string> removed;
  return impl.RemoveList(ix, old, b, &removed, keep);
}

}  // namespace

Result<ImageListDetails> Store::PutImageList(const std::string& name,
                                             const std::vector<std::string>& images,
                                             const std::string& source, const std::string& index) {
  ASSIGN_OR_RETURN(std::string norm, NormalizeImageName(name));
  if (norm.rfind("sha256:", 0) == 0) return Status::Invalid("an image list needs a name, not a digest");
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  ImageListRecord rec;
  std::string bytes = index;
  if (index.empty()) {
    ASSIGN_OR_RETURN(auto written, WriteIndex(*impl_, *w, images));
    bytes = std::move(written.first);
    rec.children = std::move(written.second);
  } else {
    ASSIGN_OR_RETURN(rec.children, ChildrenOfIndex(*w, index));
  }
  rec.source = source;
  rec.stored_at = static_cast<int64_t>(impl_->env()->NowMicros() / 1000000);
  Digest d = Digest::Of(bytes);
  Index::Batch b;
  RETURN_IF_ERROR(ReplaceOldList(*impl_, *w, norm, d, rec.children, &b));
  b.Put(key::Blob(d), bytes);
  b.Put(key::List(d), rec.ToJson());
  b.Put(key::Name(norm), d.ToString());
  RETURN_IF_ERROR(w->Write(b));
  ASSIGN_OR_RETURN(auto details, ListDetails(*impl_, *w, d));
  if (!details) return Status::Corruption("image list " + norm + " vanished as it was stored");
  return std::move(*details);
}

Result<std::optional<ImageListDetails>> Store::InspectImageList(const std::string& name) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(Digest d, impl_->ResolveAny(*ix, name));
  return ListDetails(*impl_, *ix, d);
}

}  // namespace cfs
