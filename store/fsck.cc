// Store::Fsck: verifies every level of the store, read-only.
//
//   index files   RocksDB's own block checksums over every table file
//   packs         every header checked, every pack walked, every index entry
//                 matched to the record at its offset
//   chunks        every indexed chunk read, decompressed and hashed
//   layers        TOC and tar-split decode (with their checksums); every chunk
//                 present and good; the tar rebuilt from them (not written)
//                 hashes to the diffID and has the recorded size
//   images        record, manifest and config present and matching their
//                 digests; the config's diff_ids are the record's layers
//   image lists   record, index blob (digest), children = the index's, each an image
//   names         point at images or image lists
// A problem is one line in the report; fsck never reports clean on a store
// it could not read entirely (an unreadable index is an error, not a report).
#include <unordered_map>
#include <unordered_set>

#include "layer/layer_writer.h"
#include "store_impl.h"
#include "store/image_stack.h"

namespace cfs {

using nlohmann::json;

namespace {

struct FsckState {
  FsckReport* rep = nullptr;
  DigestSet good_chunks;  // indexed chunks that read back clean
  DigestSet layers;  // complete layers whose records decode
  void Problem(std::string s) { rep->problems.push_back(std::move(s)); }
};

// Rebuilds the layer's tar (discarding it) and checks diffID and size.
void CheckLayerTar(Index& ix, Store::Impl& impl, const LayerToc& toc, FsckState* st) {
  std::string what = "layer " + toc.diff_id.ToString();
  auto sv = ix.Get(key::Split(toc.diff_id));
  if (!sv.ok() || !*sv) return st->Problem(what + ": tar-split missing");
  auto split = TarSplit::Decode(**sv);
  if (!split.ok()) return st->Problem(what + ": " + split.status().message());
  for (const auto& c : toc.chunks)
    if (!st->good_chunks.count(c.digest)) return;  // reported with the layer's chunks
  CountingSink discard;
  ForwardingSink hash(&discard, /*hash=*/true);
  auto src = impl.ChunkSourceOver(&ix);
  Status s = WriteTar(toc, *split, *src, hash);
  if (!s.ok()) return st->Problem(what + ": rebuilding its tar: " + s.message());
  if (hash.Finish() != toc.diff_id || hash.count() != toc.tar_size)
    st->Problem(what + ": its TOC and tar-split rebuild a tar that is not the layer (" +
                std::to_string(hash.count()) + " bytes, another digest): the records were altered");
}

Status CheckLayers(Index& ix, Store::Impl& impl, FsckState* st) {
  std::vector<LayerToc> tocs;
  RETURN_IF_ERROR(ix.Scan("t", [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromRaw(k.substr(1));
    st->rep->layers_checked++;
    auto toc = LayerToc::Decode(v);
    if (!toc.ok()) {
      st->Problem("layer " + id.ToString() + ": " + toc.status().message());
      return true;
    }
    if (toc->diff_id != id) st->Problem("layer " + id.ToString() + ": TOC names another diffID");
    size_t missing = 0;
    for (const auto& c : toc->chunks)
      if (!st->good_chunks.count(c.digest) && missing++ == 0)
        st->Problem("layer " + id.ToString() + ": chunk " + c.digest.ToString() +
                    " is missing or corrupt");
    if (missing > 1)
      st->Problem("layer " + id.ToString() + ": " + std::to_string(missing) + " chunks unusable");
    st->layers.insert(id);
    tocs.push_back(std::move(*toc));
    return true;
  }));
  for (const auto& toc : tocs) CheckLayerTar(ix, impl, toc, st);
  // Partial layers (lazy pulls): records decode and come in pairs; their
  // chunks may be missing by design.
  return ix.Scan("p", [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromRaw(k.substr(1));
    auto toc = LayerToc::Decode(v);
    if (!toc.ok()) st->Problem("partial layer " + id.ToString() + ": " + toc.status().message());
    auto rest = ix.Get(key::PartialRest(id));
    if (!rest.ok() || !*rest) st->Problem("partial layer " + id.ToString() + ": second record missing");
    return true;
  });
}

// The config's diff_ids and the manifest's layers against the record.
void CheckImageBlobs(const Digest& m, const ImageRecord& rec, const std::string& manifest,
                     const std::string& config, FsckState* st) {
  std::string what = "image " + m.ToString();
  try {
    json c = json::parse(config);
    const auto& ids = c.at("rootfs").at("diff_ids");
    if (ids.size() != rec.layers.size()) st->Problem(what + ": layer count differs from config");
    for (size_t i = 0; i < ids.size() && i < rec.layers.size(); i++)
      if (ids[i].get<std::string>() != rec.layers[i].diff_id.ToString())
        st->Problem(what + ": layer " + std::to_string(i + 1) + " differs from config diff_ids");
    json mf = json::parse(manifest);
    if (mf.at("config").at("digest").get<std::string>() != rec.config.ToString())
      st->Problem(what + ": the manifest names another config");
    if (mf.at("layers").size() != rec.layers.size())
      st->Problem(what + ": layer count differs from manifest");
  } catch (const std::exception& e) {
    st->Problem(what + ": manifest or config: " + e.what());
  }
}

// The artifacts attached to an image (referrers.cc): each manifest and
// blob indexed and hashing to its digest.
void CheckReferrers(Index& ix, Store::Impl& impl, const Digest& m, const ImageRecord& rec,
                    FsckState* st) {
  for (const auto& r : rec.referrers)
    for (const Digest& d : {r.manifest, r.blob}) {
      auto b = impl.LoadBlob(ix, d);
      if (!b.ok())
        st->Problem("image " + m.ToString() + ": " + r.artifact_type + " artifact: " + b.status().message());
    }
}

// Image lists: record decodes, index blob present (digest checked) and
// naming exactly the record's children, each an image; lists join
// `images` (names may point at them).
Status CheckLists(Index& ix, Store::Impl& impl, DigestSet& images, FsckState* st) {
  std::vector<std::pair<Digest, std::string>> recs;
  RETURN_IF_ERROR(ix.Scan("l", [&](std::string_view k, std::string_view v) {
    recs.emplace_back(Digest::FromRaw(k.substr(1)), std::string(v));
    return true;
  }));
  for (const auto& [d, v] : recs) {
    const std::string what = "image list " + d.ToString();
    st->rep->images_checked++;
    auto rec = ImageListRecord::FromJson(v);
    auto index = impl.LoadBlob(ix, d);
    if (!rec.ok()) st->Problem(what + ": " + rec.status().message());
    if (!index.ok()) st->Problem(what + ": index: " + index.status().message());
    if (!rec.ok() || !index.ok()) continue;
    std::vector<Digest> named;
    try {
      const json doc = json::parse(*index);
      for (const auto& m : doc.at("manifests"))
        named.push_back(Digest::Parse(m.at("digest").get<std::string>()).value());
    } catch (const std::exception& e) {
      st->Problem(what + ": index: " + e.what());
    }
    if (named.size() != rec->children.size())
      st->Problem(what + ": the index names " + std::to_string(named.size()) +
                  " images, the record " + std::to_string(rec->children.size()));
    for (size_t i = 0; i < rec->children.size(); i++) {
      const Digest& c = rec->children[i].manifest;
      if (i < named.size() && named[i] != c) st->Problem(what + ": child " + std::to_string(i + 1) + " differs from the index");
      if (!images.count(c)) st->Problem(what + ": image " + c.ToString() + " missing");
    }
  }
  for (const auto& [d, v] : recs) images.insert(d);
  return Status::Ok();
}

Status CheckImages(Index& ix, Store::Impl& impl, FsckState* st) {
  DigestSet images;
  RETURN_IF_ERROR(ix.Scan("i", [&](std::string_view k, std::string_view v) {
    Digest m = Digest::FromRaw(k.substr(1));
    st->rep->images_checked++;
    images.insert(m);
    auto rec = ImageRecord::FromJson(v);
    if (!rec.ok()) {
      st->Problem("image " + m.ToString() + ": " + rec.status().message());
      return true;
    }
    auto manifest = impl.LoadBlob(ix, m);
    auto config = impl.LoadBlob(ix, rec->config);
    if (!manifest.ok()) st->Problem("image " + m.ToString() + ": manifest: " + manifest.status().message());
    if (!config.ok()) st->Problem("image " + m.ToString() + ": config: " + config.status().message());
    if (manifest.ok() && config.ok()) CheckImageBlobs(m, *rec, *manifest, *config, st);
    CheckReferrers(ix, impl, m, *rec, st);
    for (const auto& l : rec->layers)
      if (!st->layers.count(l.diff_id))
        st->Problem("image " + m.ToString() + ": layer " + l.diff_id.ToString() + " missing");
    return true;
  }));
  RETURN_IF_ERROR(CheckLists(ix, impl, images, st));
  return ix.Scan("n", [&](std::string_view k, std::string_view v) {
    auto m = Digest::Parse(v);
    if (!m.ok() || !images.count(*m))
      st->Problem("name " + std::string(k.substr(1)) + ": points at a missing image");
    return true;
  });
}

}  // namespace

Result<FsckReport> Store::Fsck() {
  FsckReport rep;
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());  // keeps gc out
  // The index's own files first: a table that cannot be read is an error,
  // never an empty index.
  RETURN_IF_ERROR(Index::VerifyTables(impl_->root));
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  FsckState st;
  st.rep = &rep;
  ChunkCheckReport chunks;
  RETURN_IF_ERROR(impl_->chunks->Check(*ix, &chunks));
  rep.chunks_checked = chunks.chunks_checked;
  rep.garbage_records = chunks.garbage_records;
  rep.problems = std::move(chunks.problems);
  st.good_chunks = std::move(chunks.good);
  RETURN_IF_ERROR(CheckLayers(*ix, *impl_, &st));
  RETURN_IF_ERROR(CheckImages(*ix, *impl_, &st));
  RETURN_IF_ERROR(CheckStackIndexes(impl_->root, &rep.problems));
  return rep;
}

}  // namespace cfs
