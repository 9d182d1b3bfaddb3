// Store::SaveDelta and Store::LoadDelta: delta bundles for air-gapped sites
// that hold an older image (cimg save --since OLD, cimg load). What goes in:
// the manifests and configs of the new images, the TOC and tar-split of each
// layer the base image lacks, and of their chunks those the base's layers
// do not reference. The volumes themselves: delta_bundle.h.
#include <sys/stat.h>

#include <algorithm>
#include <map>

#include "delta_bundle.h"
#include "layer_import.h"
#include "layer/layer_rules.h"
#include "store_impl.h"
#include "transport/oci_metadata.h"

namespace cfs {

using nlohmann::json;

namespace {

// What a bundle carries, decided from the sending store's index.
struct DeltaPlan {
  struct Image {
    std::string name;
    Digest manifest;
    ImageRecord record;
  };
  std::string base_name;
  Digest base, base_id;  // its manifest, its image ID (config digest)
  std::vector<Image> images;
  std::vector<Digest> blobs;    // manifests and configs
  std::vector<Digest> layers;   // diffIDs of the layers sent, first seen first
  std::vector<ChunkRef> chunks; // distinct chunks sent, in first use order
  uint64_t layers_in_base = 0, chunks_in_base = 0;
};

std::string LayerFile(const Digest& diff_id, const char* kind) {
  return "layers/" + diff_id.Hex() + "." + kind;
}

Result<LayerToc> StoredToc(Index& ix, const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto v, ix.Get(key::Toc(diff_id)));
  if (!v) return Status::Corruption("layer " + diff_id.ToString() + " is missing from the store");
  return LayerToc::Decode(*v);
}

// The base image's layers and the chunks they reference.
Status PlanBase(Store::Impl& impl, Index& ix, const std::string& since, DeltaPlan* p,
                DigestSet* base_layers, DigestSet* base_chunks) {
  ASSIGN_OR_RETURN(p->base, impl.Resolve(ix, since));
  p->base_name = since;
  ASSIGN_OR_RETURN(ImageRecord rec, impl.LoadRecord(ix, p->base));
  p->base_id = rec.config;
  for (const auto& l : rec.layers) {
    if (!base_layers->insert(l.diff_id).second) continue;
    ASSIGN_OR_RETURN(LayerToc toc, StoredToc(ix, l.diff_id));
    for (const auto& c : toc.chunks) base_chunks->insert(c.digest);
  }
  return Status::Ok();
}

Result<DeltaPlan> PlanDelta(Store::Impl& impl, Index& ix, const std::vector<std::string>& names,
                            const std::string& since) {
  DeltaPlan p;
  DigestSet base_layers, base_chunks, layers_seen, chunks_seen, in_base_counted;
  RETURN_IF_ERROR(PlanBase(impl, ix, since, &p, &base_layers, &base_chunks));
  for (const auto& n : names) {
    DeltaPlan::Image img;
    ASSIGN_OR_RETURN(img.manifest, impl.Resolve(ix, n));
    ASSIGN_OR_RETURN(img.record, impl.LoadRecord(ix, img.manifest));
    auto norm = NormalizeImageName(n);
    img.name = norm.ok() && norm->rfind("sha256:", 0) != 0 ? *norm : "";
    p.blobs.push_back(img.manifest);
    p.blobs.push_back(img.record.config);
    for (const auto& l : img.record.layers) {
      if (base_layers.count(l.diff_id)) {
        if (in_base_counted.insert(l.diff_id).second) p.layers_in_base++;
        continue;
      }
      if (!layers_seen.insert(l.diff_id).second) continue;
      p.layers.push_back(l.diff_id);
      ASSIGN_OR_RETURN(LayerToc toc, StoredToc(ix, l.diff_id));
      for (const auto& c : toc.chunks) {
        if (!chunks_seen.insert(c.digest).second) continue;
        if (base_chunks.count(c.digest)) {
          p.chunks_in_base++;
          continue;
        }
        p.chunks.push_back(c);
      }
    }
    p.images.push_back(std::move(img));
  }
  return p;
}

std::string IndexJson(const DeltaPlan& p, const std::map<std::string, Digest>& file_digests) {
  json j = {{"format", kDeltaFormat}, {"chunks", p.chunks.size()}};
  j["base"] = {{"name", p.base_name}, {"id", p.base_id.ToString()}, {"manifest", p.base.ToString()}};
  j["images"] = json::array();
  for (const auto& img : p.images)
    j["images"].push_back({{"name", img.name},
                           {"manifest", img.manifest.ToString()},
                           {"record", json::parse(img.record.ToJson())}});
  j["files"] = json::object();
  for (const auto& [name, d] : file_digests) j["files"][name] = d.ToString();
  return j.dump();
}

// The metadata files: blobs by digest, TOCs and tar-splits as stored.
Result<std::map<std::string, std::string>> MetadataFiles(Store::Impl& impl, Index& ix,
                                                         const DeltaPlan& p) {
  std::map<std::string, std::string> files;
  for (const Digest& b : p.blobs) {
    ASSIGN_OR_RETURN(files["blobs/" + b.Hex()], impl.LoadBlob(ix, b));
  }
  for (const Digest& l : p.layers) {
    ASSIGN_OR_RETURN(auto t, ix.Get(key::Toc(l)));
    ASSIGN_OR_RETURN(auto s, ix.Get(key::Split(l)));
    if (!t || !s) return Status::Corruption("layer " + l.ToString() + " is missing from the store");
    files[LayerFile(l, "toc")] = std::move(*t);
    files[LayerFile(l, "split")] = std::move(*s);
  }
  return files;
}

Status WriteChunks(Store::Impl& impl, Index& ix, const DeltaPlan& p, DeltaBundleWriter& w,
                   const ProgressFn& progress, DeltaSaveReport* rep) {
  auto source = impl.ChunkSourceOver(&ix);
  uint64_t done = 0;
  for (const ChunkRef& c : p.chunks) {
    ASSIGN_OR_RETURN(std::string frame, source->ReadFrame(c));
    RETURN_IF_ERROR(w.PutChunk(c, frame));
    rep->chunk_bytes += frame.size();
    if (progress && (++done % 256 == 0 || done == p.chunks.size()))
      progress({"delta", "chunks", done, p.chunks.size()});
  }
  return Status::Ok();
}

}  // namespace

Result<DeltaSaveReport> Store::SaveDelta(const std::vector<std::string>& names,
                                         const std::string& file, const DeltaSaveOptions& o) {
  if (names.empty()) return Status::Invalid("save: name at least one image");
  if (o.since.empty()) return Status::Invalid("save --since: name the base image");
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(DeltaPlan p, PlanDelta(*impl_, *ix, names, o.since));
  ASSIGN_OR_RETURN(auto files, MetadataFiles(*impl_, *ix, p));
  std::map<std::string, Digest> digests;
  for (const auto& [name, data] : files) digests[name] = Digest::Of(data);
  ASSIGN_OR_RETURN(auto w, DeltaBundleWriter::Create(file, o.split_size));
  RETURN_IF_ERROR(w->PutIndex(IndexJson(p, digests)));
  for (const auto& [name, data] : files) RETURN_IF_ERROR(w->PutFile(name, data));
  DeltaSaveReport rep;
  RETURN_IF_ERROR(WriteChunks(*impl_, *ix, p, *w, o.progress, &rep));
  ASSIGN_OR_RETURN(rep.files, w->Finish());
  rep.layers_sent = p.layers.size();
  rep.layers_in_base = p.layers_in_base;
  rep.chunks_sent = p.chunks.size();
  rep.chunks_in_base = p.chunks_in_base;
  for (const auto& f : rep.files) {
    struct stat st;
    if (::stat(f.c_str(), &st) == 0) rep.bytes += static_cast<uint64_t>(st.st_size);
  }
  return rep;
}

bool Store::IsDeltaBundle(const std::string& file) { return IsDeltaBundleFile(file); }

// ---------------------------------------------------------------- loading

namespace {

// A bundle's index and metadata, checked against each other.
struct DeltaLoad {
  struct Image {
    std::string name;
    Digest manifest;
    ImageRecord record;
    std::string manifest_bytes, config_bytes;
  };
  std::string base_name;
  Digest base_id;  // the base image's ID (config digest): its manifest may differ here
  std::vector<Image> images;
  std::map<Digest, LayerImportResult> layers;  // by diffID: TOC and tar-split from the bundle
  uint64_t chunks_declared = 0;
};

Result<std::string> VerifiedFile(const DeltaBundleContents& c, const json& files,
                                 const std::string& name) {
  auto it = c.files.find(name);
  if (it == c.files.end() || !files.contains(name))
    return Status::Corruption("delta bundle: " + name + " is missing");
  ASSIGN_OR_RETURN(Digest want, Digest::Parse(files[name].get<std::string>()));
  if (Digest::Of(it->second) != want)
    return Status::Corruption("delta bundle: " + name + " does not match its digest");
  return it->second;
}

// An image of the bundle: its manifest and config verified, the record's
// layers matching the config's diffIDs.
Result<DeltaLoad::Image> LoadedImage(const DeltaBundleContents& c, const json& files,
                                     const json& ji) {
  DeltaLoad::Image img;
  img.name = ji.at("name").get<std::string>();
  ASSIGN_OR_RETURN(img.manifest, Digest::Parse(ji.at("manifest").get<std::string>()));
  ASSIGN_OR_RETURN(img.record, ImageRecord::FromJson(ji.at("record").dump()));
  ASSIGN_OR_RETURN(img.manifest_bytes, VerifiedFile(c, files, "blobs/" + img.manifest.Hex()));
  if (Digest::Of(img.manifest_bytes) != img.manifest)
    return Status::Corruption("delta bundle: manifest " + img.manifest.ToString() + " is wrong");
  const std::string what = "delta bundle: image " + img.manifest.ToString();
  ASSIGN_OR_RETURN(oci::Manifest m, oci::ParseManifest(json::parse(img.manifest_bytes),
                                                       img.record.manifest_media_type, what));
  if (m.config.digest != img.record.config)
    return Status::Corruption(what + ": the record names another config");
  ASSIGN_OR_RETURN(img.config_bytes, VerifiedFile(c, files, "blobs/" + m.config.digest.Hex()));
  if (Digest::Of(img.config_bytes) != m.config.digest)
    return Status::Corruption(what + ": config does not match its digest");
  ASSIGN_OR_RETURN(std::vector<Digest> diff_ids,
                   oci::ParseDiffIds(json::parse(img.config_bytes), what));
  if (diff_ids.size() != img.record.layers.size() || diff_ids.size() != m.layers.size())
    return Status::Corruption(what + ": layer counts of record, manifest and config differ");
  for (size_t i = 0; i < diff_ids.size(); i++) {
    if (diff_ids[i] != img.record.layers[i].diff_id)
      return Status::Corruption(what + ": layer " + std::to_string(i + 1) +
                                " is not the config's");
  }
  return img;
}

Result<LayerImportResult> LoadedLayer(const DeltaBundleContents& c, const json& files,
                                      const Digest& diff_id) {
  LayerImportResult r;
  ASSIGN_OR_RETURN(std::string t, VerifiedFile(c, files, LayerFile(diff_id, "toc")));
  ASSIGN_OR_RETURN(std::string s, VerifiedFile(c, files, LayerFile(diff_id, "split")));
  ASSIGN_OR_RETURN(r.toc, LayerToc::Decode(t));
  ASSIGN_OR_RETURN(r.split, TarSplit::Decode(s));
  if (r.toc.diff_id != diff_id)
    return Status::Corruption("delta bundle: the TOC of layer " + diff_id.ToString() +
                              " names another layer");
  return r;
}

// Parses and checks the index and metadata files; the layers the bundle
// carries are those named by files "layers/<hex>.toc".
Result<DeltaLoad> ParseLoad(const DeltaBundleContents& c) {
  DeltaLoad d;
  try {
    json j = json::parse(c.index_json);
    if (j.value("format", "") != kDeltaFormat)
      return Status::Invalid("delta bundle: format " + j.value("format", "?") + ", want " +
                             kDeltaFormat);
    d.base_name = j.at("base").at("name").get<std::string>();
    ASSIGN_OR_RETURN(d.base_id, Digest::Parse(j.at("base").at("id").get<std::string>()));
    d.chunks_declared = j.at("chunks").get<uint64_t>();
    const json& files = j.at("files");
    for (const auto& ji : j.at("images")) {
      ASSIGN_OR_RETURN(DeltaLoad::Image img, LoadedImage(c, files, ji));
      d.images.push_back(std::move(img));
    }
    for (const auto& [name, _] : files.items()) {
      if (name.rfind("layers/", 0) != 0 || name.size() < 4 ||
          name.compare(name.size() - 4, 4, ".toc") != 0)
        continue;
      ASSIGN_OR_RETURN(Digest id, Digest::Parse(name.substr(7, name.size() - 11), true));
      ASSIGN_OR_RETURN(d.layers[id], LoadedLayer(c, files, id));
    }
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("delta bundle: index.json: ") + e.what());
  }
  if (d.images.empty()) return Status::Corruption("delta bundle: no image in the index");
  return d;
}

}  // namespace

namespace {

// One load of a bundle into the store. REQUIRES: the operation lock held.
class DeltaLoader {
 public:
  DeltaLoader(Store::Impl& impl, std::unique_ptr<Index> snapshot, const PullOptions& o)
      : impl_(impl), o_(o), snapshot_(std::move(snapshot)),
        chunks_(impl.chunks->NewWriter(snapshot_.get())), drop_(*chunks_),
        store_chunks_(impl.ChunkSourceOver(snapshot_.get())) {}

  Result<std::vector<PullResult>> Run(const std::vector<std::string>& files);

 private:
  Status OnMetadata(const DeltaBundleContents& c);
  Status OnChunk(const ChunkRef& c, std::string_view frame);
  Status CheckStoredLayer(const Digest& diff_id, const std::string& image);
  Status CheckComplete(uint64_t chunks_read);
  Result<std::shared_ptr<const LayerToc>> TocOf(const Digest& diff_id);
  Status VerifyLayers();
  Result<std::vector<PullResult>> Commit();

  Store::Impl& impl_;
  const PullOptions& o_;
  std::unique_ptr<Index> snapshot_;
  std::unique_ptr<ChunkWriter> chunks_;
  DiscardUnlessCommitted drop_;
  std::unique_ptr<ChunkSource> store_chunks_;
  std::string what_;  // the first volume, for messages
  DeltaLoad load_;
  uint64_t chunks_new_ = 0, bytes_new_ = 0;
};

Status DeltaLoader::CheckStoredLayer(const Digest& diff_id, const std::string& image) {
  const std::string base = load_.base_name + " (ID " + load_.base_id.Hex().substr(0, 12) + ")";
  ASSIGN_OR_RETURN(std::optional<LayerToc> whole, ReusableLayer(*impl_.chunks, *snapshot_, diff_id));
  if (whole) return Status::Ok();
  return Status::Invalid(what_ + ": layer " + diff_id.ToString() + " of " + image +
                         " is not in the bundle and this store does not hold it whole; it comes "
                         "with the base image " + base + " (pull or load it again, cimg fsck)");
}

Status DeltaLoader::OnMetadata(const DeltaBundleContents& c) {
  ASSIGN_OR_RETURN(load_, ParseLoad(c));
  // The base is known by its image ID: a store that got it by another way
  // (a registry, cimg save) holds another manifest of the same image.
  auto base = impl_.Resolve(*snapshot_, load_.base_id.ToString());
  if (!base.ok())
    return Status::Invalid(what_ + ": this delta bundle is against " + load_.base_name + " (ID " +
                           load_.base_id.Hex().substr(0, 12) + "), which this store lacks: load "
                           "or pull " + load_.base_name + " first");
  for (const auto& img : load_.images)
    for (const auto& l : img.record.layers)
      if (!load_.layers.count(l.diff_id))
        RETURN_IF_ERROR(CheckStoredLayer(l.diff_id, img.name.empty() ? img.manifest.ToString()
                                                                     : img.name));
  return Status::Ok();
}

Status DeltaLoader::OnChunk(const ChunkRef& c, std::string_view frame) {
  RETURN_IF_ERROR(DecompressVerified(c.digest, frame, c.size).status());
  ASSIGN_OR_RETURN(uint64_t added, chunks_->PutFrame(c, frame));
  if (added > 0) {
    chunks_new_++;
    bytes_new_ += added;
  }
  return Status::Ok();
}

Status DeltaLoader::CheckComplete(uint64_t chunks_read) {
  if (chunks_read != load_.chunks_declared)
    return Status::Corruption(what_ + ": " + std::to_string(chunks_read) + " chunks read, the "
                              "index says " + std::to_string(load_.chunks_declared));
  for (const auto& [id, r] : load_.layers) {
    ASSIGN_OR_RETURN(std::vector<Digest> lacking, chunks_->Lacking(DistinctChunks(r.toc)));
    if (!lacking.empty())
      return Status::Invalid(what_ + ": " + std::to_string(lacking.size()) + " chunks of layer " +
                             id.ToString() + " are neither in the bundle nor in this store; the "
                             "base image " + load_.base_name + " should hold them (is it "
                             "damaged? cimg fsck; or was this store created with other chunk "
                             "sizes?)");
  }
  return chunks_->Sync();
}

Result<std::shared_ptr<const LayerToc>> DeltaLoader::TocOf(const Digest& diff_id) {
  auto it = load_.layers.find(diff_id);
  if (it != load_.layers.end()) return std::make_shared<const LayerToc>(it->second.toc);
  ASSIGN_OR_RETURN(LayerToc t, StoredToc(*snapshot_, diff_id));
  return std::make_shared<const LayerToc>(std::move(t));
}

// Every layer of the bundle rebuilds to the tar its diffID names, and passes
// the layer rules over the layers below it in each image.
Status DeltaLoader::VerifyLayers() {
  auto source = chunks_->Over(store_chunks_.get());
  for (const auto& [id, r] : load_.layers) {
    CountingSink sink;
    ASSIGN_OR_RETURN(LayerBlobInfo info,
                     WriteLayerBlob(r.toc, r.split, *source, Compression::kNone, sink));
    if (info.digest != id)
      return Status::Corruption(what_ + ": layer " + id.ToString() + " rebuilds to " +
                                info.digest.ToString());
    if (o_.progress) o_.progress({"verify", id.ToString(), info.size, info.size});
  }
  for (const auto& img : load_.images) {
    for (size_t i = 0; i < img.record.layers.size(); i++) {
      auto it = load_.layers.find(img.record.layers[i].diff_id);
      if (it == load_.layers.end()) continue;
      LowerTocs below = [this, &img, i]() -> Result<std::vector<std::shared_ptr<const LayerToc>>> {
        std::vector<std::shared_ptr<const LayerToc>> out;
        for (size_t k = 0; k < i; k++) {
          ASSIGN_OR_RETURN(auto t, TocOf(img.record.layers[k].diff_id));
          out.push_back(std::move(t));
        }
        return out;
      };
      RETURN_IF_ERROR(CheckLayer(it->second.toc, below).Prefix(what_ + ": layer " + it->first.ToString()));
    }
  }
  return Status::Ok();
}

Result<std::vector<PullResult>> DeltaLoader::Commit() {
  ASSIGN_OR_RETURN(auto w, impl_.Writer());
  drop_.CommitTried();
  for (const auto& [id, r] : load_.layers) RETURN_IF_ERROR(CommitLayerRecords(*w, r, *chunks_));
  Index::Batch b;
  const int64_t now = static_cast<int64_t>(impl_.env()->NowMicros() / 1000000);
  for (auto& img : load_.images) {
    ImageRecord& rec = img.record;
    rec.stored_at = now;
    rec.chunks_new = chunks_new_;
    rec.bytes_new = bytes_new_;
    RETURN_IF_ERROR(impl_.KeepReferrers(*w, img.manifest, &rec));
    b.Put(key::Blob(img.manifest), img.manifest_bytes);
    b.Put(key::Blob(rec.config), img.config_bytes);
    b.Put(key::Image(img.manifest), rec.ToJson());
    if (!img.name.empty()) b.Put(key::Name(img.name), img.manifest.ToString());
  }
  RETURN_IF_ERROR(w->Write(b));
  std::vector<PullResult> out;
  for (const auto& img : load_.images) {
    PullResult r;
    r.name = img.name;
    for (const auto& l : img.record.layers) r.layers_reused += load_.layers.count(l.diff_id) ? 0 : 1;
    ASSIGN_OR_RETURN(r.image, impl_.Details(*w, img.manifest));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<PullResult>> DeltaLoader::Run(const std::vector<std::string>& files) {
  what_ = files.empty() ? "delta bundle" : files[0];
  ASSIGN_OR_RETURN(
      DeltaBundleContents c,
      ReadDeltaBundle(
          files, [this](const DeltaBundleContents& m) { return OnMetadata(m); },
          [this](const ChunkRef& ref, std::string_view frame) { return OnChunk(ref, frame); }));
  RETURN_IF_ERROR(CheckComplete(c.chunks));
  RETURN_IF_ERROR(VerifyLayers());
  return Commit();
}

}  // namespace

Result<std::vector<PullResult>> Store::LoadDelta(const std::vector<std::string>& files,
                                                 const PullOptions& o) {
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto snapshot, impl_->Reader());
  DeltaLoader loader(*impl_, std::move(snapshot), o);
  return loader.Run(files);
}

}  // namespace cfs
