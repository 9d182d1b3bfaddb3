#include "store/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <set>

#include "base/log.h"
#include "base/time.h"
#include "store_impl.h"

namespace cfs {

using nlohmann::json;

std::string DefaultStoreRoot() {
  const char* env = std::getenv("CIMG_ROOT");
  if (env && *env) return env;
  if (::geteuid() == 0) return "/var/lib/cimg";
  // Not root: a store of the user's own, where podman keeps rootless
  // storage (~/.local/share/containers).
  const char* xdg = std::getenv("XDG_DATA_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/cimg";
  const char* home = std::getenv("HOME");
  if (home && *home == '/') return std::string(home) + "/.local/share/cimg";
  return "/var/lib/cimg";
}

Result<std::string> NormalizeImageName(const std::string& in) {
  if (in.empty()) return Status::Invalid("empty image name");
  if (in.size() > 512) return Status::Invalid("image name too long");
  if (in.rfind("sha256:", 0) == 0) {
    ASSIGN_OR_RETURN(Digest d, Digest::Parse(in));
    return d.ToString();
  }
  for (char c : in) {
    bool ok = std::islower(static_cast<unsigned char>(c)) ||
              std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
              c == '/' || c == ':' || c == '@' || std::isupper(static_cast<unsigned char>(c));
    if (!ok) return Status::Invalid("invalid image name \"" + in + "\": character '" +
                                    std::string(1, c) + "' not allowed");
  }
  if (in.find('@') != std::string::npos) return in;  // repo@sha256:…
  auto slash = in.rfind('/');
  auto colon = in.rfind(':');
  std::string repo = in, tag = "latest";
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    repo = in.substr(0, colon);
    tag = in.substr(colon + 1);
  }
  if (repo.empty() || repo.front() == '/' || repo.back() == '/' ||
      repo.find("//") != std::string::npos)
    return Status::Invalid("invalid image name \"" + in + "\"");
  for (char c : repo)
    if (std::isupper(static_cast<unsigned char>(c)))
      return Status::Invalid("invalid image name \"" + in + "\": repository must be lowercase");
  if (tag.empty() || tag.size() > 128 || tag.front() == '.' || tag.front() == '-')
    return Status::Invalid("invalid tag in \"" + in + "\"");
  return repo + ":" + tag;
}

int64_t ParseRfc3339(const std::string& s) {
  int64_t sec = 0;
  uint32_t nsec = 0;
  return ParseRfc3339(std::string_view(s), &sec, &nsec) ? sec : 0;
}

// ---------------------------------------------------------------- records

std::string ImageRecord::ToJson() const {
  json j;
  j["config"] = config.ToString();
  j["source"] = source;
  j["manifest_media_type"] = manifest_media_type;
  j["stored_at"] = stored_at;
  j["chunks_total"] = chunks_total;
  j["chunks_new"] = chunks_new;
  j["bytes_new"] = bytes_new;
  j["layers"] = json::array();
  for (const auto& l : layers)
    j["layers"].push_back({{"diff_id", l.diff_id.ToString()},
                           {"source_digest", l.source_digest.ToString()},
                           {"source_media_type", l.source_media_type},
                           {"tar_size", l.tar_size},
                           {"entries", l.entries},
                           {"chunks", l.chunks}});
  for (const auto& r : referrers)
    j["referrers"].push_back({{"manifest", r.manifest.ToString()},
                              {"artifact_type", r.artifact_type},
                              {"blob", r.blob.ToString()},
                              {"blob_size", r.blob_size}});
  return j.dump();
}

Result<ImageRecord> ImageRecord::FromJson(std::string_view s) {
  ImageRecord r;
  try {
    json j = json::parse(s);
    ASSIGN_OR_RETURN(r.config, Digest::Parse(j.at("config").get<std::string>()));
    r.source = j.value("source", "");
    r.manifest_media_type = j.value("manifest_media_type", "");
    r.stored_at = j.value("stored_at", int64_t{0});
    r.chunks_total = j.value("chunks_total", uint64_t{0});
    r.chunks_new = j.value("chunks_new", uint64_t{0});
    r.bytes_new = j.value("bytes_new", uint64_t{0});
    for (const auto& l : j.at("layers")) {
      LayerSummary ls;
      ASSIGN_OR_RETURN(ls.diff_id, Digest::Parse(l.at("diff_id").get<std::string>()));
      ASSIGN_OR_RETURN(ls.source_digest, Digest::Parse(l.at("source_digest").get<std::string>()));
      ls.source_media_type = l.value("source_media_type", "");
      ls.tar_size = l.value("tar_size", uint64_t{0});
      ls.entries = l.value("entries", uint64_t{0});
      ls.chunks = l.value("chunks", uint64_t{0});
      r.layers.push_back(ls);
    }
    for (const auto& x : j.value("referrers", json::array())) {
      Referrer ref;
      ASSIGN_OR_RETURN(ref.manifest, Digest::Parse(x.at("manifest").get<std::string>()));
      ASSIGN_OR_RETURN(ref.blob, Digest::Parse(x.at("blob").get<std::string>()));
      ref.artifact_type = x.at("artifact_type").get<std::string>();
      ref.blob_size = x.value("blob_size", uint64_t{0});
      r.referrers.push_back(std::move(ref));
    }
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("image record: ") + e.what());
  }
  return r;
}

namespace {

// The stored manifests of the one image an ID (config digest) or manifest
// digest, or a prefix of either of at least 4 hex digits, names; newest
// stored first. One image ID may be stored under several manifests (the same
// config pulled from a docker archive and from an OCI layout): they are one
// image. Empty when nothing matches; Invalid when several images do.
Result<std::vector<Digest>> MatchId(Index& ix, const std::string& name, const std::string& hex) {
  std::map<Digest, std::vector<std::pair<int64_t, Digest>>> by_config;
  std::vector<std::pair<Digest, Digest>> by_manifest;  // (manifest, its config)
  RETURN_IF_ERROR(ix.Scan("i", [&](std::string_view k, std::string_view v) {
    Digest m = Digest::FromRaw(k.substr(1));
    auto rec = ImageRecord::FromJson(v);
    if (!rec.ok()) return true;
    if (rec->config.Hex().rfind(hex, 0) == 0) by_config[rec->config].emplace_back(rec->stored_at, m);
    if (m.Hex().rfind(hex, 0) == 0) by_manifest.emplace_back(m, rec->config);
    return true;
  }));
  std::vector<std::vector<Digest>> images;
  std::set<Digest> covered;
  for (auto& [config, ms] : by_config) {
    if (ms.empty()) continue;
    std::sort(ms.begin(), ms.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second.ToString() < b.second.ToString();
    });
    images.emplace_back();
    for (const auto& [at, m] : ms) {
      images.back().push_back(m);
      covered.insert(m);
    }
  }
  // A manifest digest names that manifest alone (unless its ID matched too).
  for (const auto& [m, config] : by_manifest)
    if (!covered.count(m)) images.push_back({m});
  if (images.empty()) return std::vector<Digest>{};
  if (images.size() > 1)
    return Status::Invalid("\"" + name + "\" matches " + std::to_string(images.size()) +
                           " images; give more digits");
  return images[0];
}

// The image list whose index digest starts with hex (what `images -q`
// shows for a list); nullopt when none does, Invalid when several do.
Result<std::optional<Digest>> MatchListId(Index& ix, const std::string& name, const std::string& hex) {
  std::vector<Digest> hits;
  RETURN_IF_ERROR(ix.Scan("l", [&](std::string_view k, std::string_view) {
    Digest d = Digest::FromRaw(k.substr(1));
    if (d.Hex().rfind(hex, 0) == 0) hits.push_back(d);
    return true;
  }));
  if (hits.size() > 1)
    return Status::Invalid("\"" + name + "\" matches " + std::to_string(hits.size()) +
                           " image lists; give more digits");
  if (hits.empty()) return std::optional<Digest>();
  return std::optional<Digest>(hits[0]);
}

// The names norm (a normalized name) may be stored under, as docker
// resolves them: "nginx" may be stored as "docker.io/library/nginx".
std::vector<std::string> NameCandidates(const std::string& norm) {
  std::vector<std::string> candidates = {norm};
  auto slash = norm.find('/');
  std::string first = slash == std::string::npos ? "" : norm.substr(0, slash);
  bool has_registry = first.find('.') != std::string::npos ||
                      first.find(':') != std::string::npos || first == "localhost";
  if (!has_registry) {
    candidates.push_back("docker.io/" + norm);
    if (slash == std::string::npos) candidates.push_back("docker.io/library/" + norm);
    candidates.push_back("localhost/" + norm);
  }
  return candidates;
}

std::string HexOf(const std::string& name) {
  std::string hex = name.rfind("sha256:", 0) == 0 ? name.substr(7) : name;
  bool is_hex = hex.size() >= 4 && hex.size() <= 64 &&
                hex.find_first_not_of("0123456789abcdef") == std::string::npos;
  return is_hex ? hex : "";
}

// One summary per image list: names, index digest, its children's
// platforms and summed sizes, created = the newest child's.
Result<std::vector<ImageSummary>> ListSummaries(
    Store::Impl& impl, Index& ix, std::map<std::string, std::vector<std::string>>& names) {
  std::vector<std::pair<Digest, std::string>> lists;
  RETURN_IF_ERROR(ix.Scan("l", [&](std::string_view k, std::string_view v) {
    lists.emplace_back(Digest::FromRaw(k.substr(1)), std::string(v));
    return true;
  }));
  std::vector<ImageSummary> out;
  for (const auto& [d, v] : lists) {
    ASSIGN_OR_RETURN(ImageListRecord rec, ImageListRecord::FromJson(v));
    ImageSummary s;
    s.names = names[d.ToString()];
    s.manifest_digest = s.image_id = d;
    for (const auto& c : rec.children) {
      ASSIGN_OR_RETURN(ImageDetails child, impl.Details(ix, c.manifest));
      s.size += child.summary.size;
      s.created = std::max(s.created, child.summary.created);
      s.platforms.push_back(c.platform.ToString());
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

Result<Digest> Store::Impl::ResolveAny(Index& ix, const std::string& name) {
  if (name.rfind("sha256:", 0) == 0 && name.size() == 71) {
    ASSIGN_OR_RETURN(Digest d, Digest::Parse(name));
    ASSIGN_OR_RETURN(auto v, ix.Get(key::Image(d)));
    if (v) return d;
    ASSIGN_OR_RETURN(auto l, ix.Get(key::List(d)));
    if (l) return d;
  }
  auto norm = NormalizeImageName(name);
  if (norm.ok()) {
    for (const auto& c : NameCandidates(*norm)) {
      ASSIGN_OR_RETURN(auto v, ix.Get(key::Name(c)));
      if (v) return Digest::Parse(*v);
    }
  }
  // An image-ID or manifest-digest prefix (at least 4 hex digits).
  std::string hex = HexOf(name);
  if (!hex.empty()) {
    ASSIGN_OR_RETURN(std::vector<Digest> hits, MatchId(ix, name, hex));
    if (!hits.empty()) return hits[0];
    ASSIGN_OR_RETURN(std::optional<Digest> list, MatchListId(ix, name, hex));
    if (list) return *list;
  }
  if (!norm.ok() && hex.empty()) return norm.status();
  return Status::NotFound("image \"" + name + "\" not found in " + root);
}

Result<ImageRecord> Store::Impl::LoadRecord(Index& ix, const Digest& m) {
  ASSIGN_OR_RETURN(auto v, ix.Get(key::Image(m)));
  if (!v) return Status::NotFound("image " + m.ToString() + " not found");
  return ImageRecord::FromJson(*v);
}

Result<std::string> Store::Impl::LoadBlob(Index& ix, const Digest& d) {
  ASSIGN_OR_RETURN(auto v, ix.Get(key::Blob(d)));
  if (!v) return Status::Corruption("blob " + d.ToString() + " missing from the store");
  if (Digest::Of(*v) != d) return Status::Corruption("blob " + d.ToString() + ": digest mismatch");
  return std::move(*v);
}

Result<std::vector<std::string>> Store::Impl::NamesOf(Index& ix, const Digest& m) {
  std::vector<std::string> names;
  std::string want = m.ToString();
  RETURN_IF_ERROR(ix.Scan("n", [&](std::string_view k, std::string_view v) {
    if (v == want) names.emplace_back(k.substr(1));
    return true;
  }));
  return names;
}

Result<ImageDetails> Store::Impl::Details(Index& ix, const Digest& m) {
  ImageDetails d;
  ASSIGN_OR_RETURN(ImageRecord rec, LoadRecord(ix, m));
  ASSIGN_OR_RETURN(d.manifest, LoadBlob(ix, m));
  ASSIGN_OR_RETURN(d.config, LoadBlob(ix, rec.config));
  ASSIGN_OR_RETURN(d.summary.names, NamesOf(ix, m));
  d.summary.manifest_digest = m;
  d.summary.image_id = rec.config;
  for (const auto& l : rec.layers) d.summary.size += l.tar_size;
  try {
    json c = json::parse(d.config);
    d.summary.created = ParseRfc3339(c.value("created", ""));
  } catch (const std::exception&) {
  }
  d.layers = rec.layers;
  d.source = rec.source;
  d.chunks_total = rec.chunks_total;
  d.chunks_new = rec.chunks_new;
  d.bytes_new = rec.bytes_new;
  d.referrers = rec.referrers;
  return d;
}

// ---------------------------------------------------------------- Store

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;
const std::string& Store::root() const { return impl_->root; }

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& in) {
  StoreOptions o = in;
  if (o.root.empty()) o.root = DefaultStoreRoot();
  while (o.root.size() > 1 && o.root.back() == '/') o.root.pop_back();
  ChunkStoreOptions co;
  co.root = o.root;
  co.chunker = o.chunker;
  co.compression_level = o.compression_level;
  co.env = o.env;
  auto opened = ChunkStore::Open(co);
  if (!opened.ok() && opened.status().err() == EACCES && ::geteuid() != 0)
    return Status::Denied(opened.status().message() +
                          " (not root: --root DIR or $CIMG_ROOT names a store of your own)");
  ASSIGN_OR_RETURN(auto chunks, std::move(opened));
  LogDebug("store: " + o.root);
  o.chunker = chunks->chunker().params();
  return std::unique_ptr<Store>(new Store(std::make_unique<Impl>(o, std::move(chunks))));
}

Result<std::vector<ImageSummary>> Store::ListImages() {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  std::map<std::string, std::vector<std::string>> names;  // manifest -> names
  RETURN_IF_ERROR(ix->Scan("n", [&](std::string_view k, std::string_view v) {
    names[std::string(v)].emplace_back(k.substr(1));
    return true;
  }));
  std::vector<ImageSummary> out;
  std::vector<Digest> manifests;
  RETURN_IF_ERROR(ix->Scan("i", [&](std::string_view k, std::string_view) {
    manifests.push_back(Digest::FromRaw(k.substr(1)));
    return true;
  }));
  for (const auto& m : manifests) {
    ASSIGN_OR_RETURN(ImageDetails d, impl_->Details(*ix, m));
    out.push_back(d.summary);
  }
  ASSIGN_OR_RETURN(std::vector<ImageSummary> lists, ListSummaries(*impl_, *ix, names));
  out.insert(out.end(), lists.begin(), lists.end());
  return out;
}

Result<ImageDetails> Store::Inspect(const std::string& name, const Platform& platform) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(Digest m, impl_->Resolve(*ix, name, platform));
  return impl_->Details(*ix, m);
}

Status Store::Tag(const std::string& src, const std::string& dst) {
  ASSIGN_OR_RETURN(std::string norm, NormalizeImageName(dst));
  if (norm.rfind("sha256:", 0) == 0) return Status::Invalid("cannot use a digest as a tag");
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  ASSIGN_OR_RETURN(Digest m, impl_->ResolveAny(*w, src));
  Index::Batch b;
  b.Put(key::Name(norm), m.ToString());
  return w->Write(b);
}

namespace {

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Invalid when an image list names image m (its record must stay).
Status RefuseListChild(Store::Impl& impl, Index& ix, const std::string& name, const Digest& m) {
  ASSIGN_OR_RETURN(auto lists, impl.ListsOf(ix, m));
  if (lists.empty()) return Status::Ok();
  std::vector<std::string> list_names;
  for (const auto& l : lists) {
    ASSIGN_OR_RETURN(auto ns, impl.NamesOf(ix, l));
    list_names.push_back(ns.empty() ? l.ToString() : ns[0]);
  }
  return Status::Invalid("unable to delete " + name + ": image list " + Joined(list_names) +
                         " holds it; remove the list (cimg rmi LIST) or the image from it "
                         "(cimg manifest rm LIST " + name + ") first");
}

// rmi by ID or digest: the image (every manifest stored for that ID, or the
// one the digest names) and all its names; several names need force.
Status RemoveById(Store::Impl& impl, Index& w, const std::string& name, const Digest& m,
                  bool force, Index::Batch* b, std::vector<std::string>* removed) {
  std::vector<Digest> manifests = {m};
  if (std::string hex = HexOf(name); !hex.empty()) {
    ASSIGN_OR_RETURN(manifests, MatchId(w, name, hex));
    if (manifests.empty()) manifests = {m};  // a full "sha256:" manifest digest
  }
  std::set<std::string> all;
  for (const auto& d : manifests) {
    RETURN_IF_ERROR(RefuseListChild(impl, w, name, d));
    ASSIGN_OR_RETURN(auto ns, impl.NamesOf(w, d));
    all.insert(ns.begin(), ns.end());
  }
  if (all.size() > 1 && !force)
    return Status::Invalid("unable to delete " + name + ": image is referenced in " +
                           std::to_string(all.size()) + " names (" +
                           Joined({all.begin(), all.end()}) + "); use -f to remove them all");
  for (const auto& n : all) {
    b->Delete(key::Name(n));
    removed->push_back(n);
  }
  for (const auto& d : manifests) b->Delete(key::Image(d));
  if (removed->empty()) removed->push_back(manifests[0].ToString());
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string>> Store::Remove(const std::string& name, bool force) {
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  ASSIGN_OR_RETURN(Digest m, impl_->ResolveAny(*w, name));
  ASSIGN_OR_RETURN(auto names, impl_->NamesOf(*w, m));
  ASSIGN_OR_RETURN(auto list, impl_->LoadList(*w, m));
  auto norm = NormalizeImageName(name);
  Index::Batch b;
  std::vector<std::string> removed;
  std::string by_name;  // the name it resolved as, if it did as a name
  if (norm.ok())
    for (const auto& c : NameCandidates(*norm))
      if (by_name.empty() && std::find(names.begin(), names.end(), c) != names.end()) by_name = c;
  if (!by_name.empty()) {
    // By name: that name goes; the image (or list) goes with its last name,
    // unless a list holds the image.
    b.Delete(key::Name(by_name));
    removed.push_back(by_name);
    std::vector<std::string> also;  // the list's names: this one only
    ASSIGN_OR_RETURN(auto in_lists, impl_->ListsOf(*w, m));
    if (names.size() == 1 && list) RETURN_IF_ERROR(impl_->RemoveList(*w, m, &b, &also));
    if (names.size() == 1 && !list && in_lists.empty()) b.Delete(key::Image(m));
  } else if (list) {
    if (names.size() > 1 && !force)
      return Status::Invalid("unable to delete " + name + ": image list is referenced in " +
                             std::to_string(names.size()) + " names (" + Joined(names) +
                             "); use -f to remove them all");
    RETURN_IF_ERROR(impl_->RemoveList(*w, m, &b, &removed));
    if (removed.empty()) removed.push_back(m.ToString());
  } else {
    RETURN_IF_ERROR(RemoveById(*impl_, *w, name, m, force, &b, &removed));
  }
  RETURN_IF_ERROR(w->Write(b));
  return removed;
}

Result<LayerToc> Store::GetLayerToc(const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(auto v, ix->Get(key::Toc(diff_id)));
  if (!v) return Status::NotFound("layer " + diff_id.ToString() + " not in the store");
  return LayerToc::Decode(*v);
}

Result<Digest> Store::LayerTocRecordDigest(const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(auto v, ix->Get(key::Toc(diff_id)));
  if (!v) return Status::NotFound("layer " + diff_id.ToString() + " not in the store");
  return Digest::Of(*v);
}

Result<TarSplit> Store::GetTarSplit(const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(auto v, ix->Get(key::Split(diff_id)));
  if (!v) return Status::NotFound("layer " + diff_id.ToString() + " not in the store");
  return TarSplit::Decode(*v);
}

Result<std::unique_ptr<ChunkSource>> Store::OpenChunkSource() {
  return impl_->chunks->OpenSource();
}

Result<std::unique_ptr<Store::Lease>> Store::TakeLease(const std::vector<Digest>& diff_ids) {
  // Taken under the operation lock so a running gc finishes first and a
  // later gc sees the lease.
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  return impl_->chunks->TakeLease(diff_ids);
}

}  // namespace cfs
