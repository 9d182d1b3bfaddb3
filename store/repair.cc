// Store::Repair: mends what the chunk store can (ChunkStore::Repair: pack
// and record headers rewritten, bad chunks relinked to intact copies or
// dropped from the index), then says which images need a pull to be whole
// again: those with a layer that references a dropped chunk, or whose TOC or
// tar-split no longer decode (a pull replaces them; a pull never reuses a
// layer whose chunks are not all indexed). Each comes with the source it was
// pulled or built from.
// Holds the operation lock (gc stays out) and one writer session.
#include <unordered_map>
#include <unordered_set>

#include "store_impl.h"

namespace cfs {

namespace {

// Images (with names and source) whose layers reference any dropped chunk.
Result<std::vector<RepairReport::Image>> ImagesNeeding(Store::Impl& impl, Index& ix,
                                                       const DigestSet& dropped) {
  DigestSet layers;
  RETURN_IF_ERROR(ix.Scan("t", [&](std::string_view k, std::string_view v) {
    auto toc = LayerToc::Decode(v);
    auto split = ix.Get(key::Split(Digest::FromRaw(k.substr(1))));
    if (!toc.ok() || !split.ok() || !*split || !TarSplit::Decode(**split).ok()) {
      layers.insert(Digest::FromRaw(k.substr(1)));
      return true;
    }
    for (const auto& c : toc->chunks)
      if (dropped.count(c.digest)) {
        layers.insert(Digest::FromRaw(k.substr(1)));
        break;
      }
    return true;
  }));
  std::vector<RepairReport::Image> out;
  RETURN_IF_ERROR(ix.Scan("i", [&](std::string_view k, std::string_view v) {
    auto rec = ImageRecord::FromJson(v);
    if (!rec.ok()) return true;
    for (const auto& l : rec->layers)
      if (layers.count(l.diff_id)) {
        RepairReport::Image img;
        img.manifest = Digest::FromRaw(k.substr(1));
        img.source = rec->source;
        out.push_back(img);
        break;
      }
    return true;
  }));
  for (auto& img : out) {
    ASSIGN_OR_RETURN(img.names, impl.NamesOf(ix, img.manifest));
  }
  return out;
}

}  // namespace

Result<RepairReport> Store::Repair() {
  RepairReport rep;
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  ChunkRepairReport chunks;
  RETURN_IF_ERROR(impl_->chunks->Repair(*w, &chunks));
  rep.chunks_relinked = chunks.chunks_relinked;
  rep.chunks_dropped = chunks.dropped.size();
  rep.actions = std::move(chunks.actions);
  ASSIGN_OR_RETURN(rep.images_to_pull, ImagesNeeding(*impl_, *w, chunks.dropped));
  return rep;
}

}  // namespace cfs
