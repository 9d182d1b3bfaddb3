// Store::Repair: replaces chunks that fail their check.
//
// First, pack headers that fail their check are rewritten from the file
// name (the records behind them are untouched). Then, for each indexed chunk
// that does not read back clean:
//  0. if only its record header is damaged (the frame still hashes right),
//     the header is rewritten from the index entry;
//  1. an intact copy elsewhere in the packs (an unindexed record with the
//     same digest that decompresses and hashes right) takes its place in the
//     index;
//  2. otherwise its index entry is dropped: the chunk is then *missing*,
//     which every reader reports as such, gc refuses to run over, and the
//     next pull of an image that needs it fetches and stores again (a pull
//     never reuses a layer whose chunks are not all indexed).
// Layers whose TOC or tar-split no longer decode are left as they are (a
// pull replaces them). The images that need a pull are reported with the
// source they came from.
// Holds the operation lock (gc stays out) and one writer session.
#include <unordered_map>
#include <unordered_set>

#include "store/store_impl.h"

namespace cfs {

namespace {

using DigestSet = std::unordered_set<Digest, DigestHash>;

// Indexed chunks that do not read back clean, with where the index puts them.
Result<std::unordered_map<Digest, ChunkLoc, DigestHash>> BadChunks(Index& ix, PackReader& packs) {
  std::unordered_map<Digest, ChunkLoc, DigestHash> bad;
  std::vector<std::pair<Digest, ChunkLoc>> all;
  RETURN_IF_ERROR(ix.Scan("c", [&](std::string_view k, std::string_view v) {
    Digest d = Digest::FromRaw(k.substr(1));
    auto loc = ChunkLoc::Decode(v);
    if (!loc.ok())
      bad[d] = ChunkLoc{};
    else
      all.emplace_back(d, *loc);
    return true;
  }));
  for (const auto& [d, loc] : all)
    if (!packs.ReadChunk(d, loc).ok()) bad[d] = loc;
  return bad;
}

// Intact unindexed copies of the wanted chunks found by walking every pack.
std::unordered_map<Digest, ChunkLoc, DigestHash> FindCopies(
    const std::string& packs_dir, PackReader& packs,
    const std::unordered_map<Digest, ChunkLoc, DigestHash>& want) {
  std::unordered_map<Digest, ChunkLoc, DigestHash> found;
  auto names = ListDir(packs_dir, ".pack");
  if (!names.ok()) return found;
  for (const auto& n : *names) {
    (void)ScanPack(packs_dir + "/" + n, [&](const PackRecord& r) {
      auto it = want.find(r.digest);
      if (r.reclaimed || it == want.end() || found.count(r.digest)) return Status::Ok();
      if (r.loc.pack_id == it->second.pack_id && r.loc.offset == it->second.offset)
        return Status::Ok();  // the bad one itself
      if (packs.ReadChunk(r.digest, r.loc).ok()) found[r.digest] = r.loc;
      return Status::Ok();
    });
  }
  return found;
}

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

// Rewrites pack headers that fail their check.
static void RestorePackHeaders(Env* env, const std::string& packs_dir, RepairReport* rep) {
  auto names = ListDir(packs_dir, ".pack");
  if (!names.ok()) return;
  for (const auto& n : *names) {
    std::string path = packs_dir + "/" + n;
    auto scan = ScanPack(path, [](const PackRecord&) { return Status::Ok(); });
    if (scan.ok() || scan.status().code() != Status::Code::kCorruption) continue;
    Status s = RestorePackHeader(env, path);
    rep->actions.push_back(s.ok() ? path + ": damaged pack header rewritten from its file name"
                                  : path + ": damaged pack header left as is: " + s.message());
  }
}

Result<RepairReport> Store::Repair() {
  RepairReport rep;
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  RestorePackHeaders(impl_->env(), impl_->packs_dir, &rep);
  ASSIGN_OR_RETURN(auto bad, BadChunks(*w, impl_->packs));
  for (auto it = bad.begin(); it != bad.end();) {
    const auto& [d, loc] = *it;
    if (loc.pack_id != 0 && RestoreRecordHeader(impl_->env(), impl_->packs_dir, d, loc).ok() &&
        impl_->packs.ReadChunk(d, loc).ok()) {
      rep.actions.push_back("chunk " + d.ToString() + ": damaged record header rewritten in " +
                            PackPath(impl_->packs_dir, loc.pack_id));
      rep.chunks_relinked++;
      it = bad.erase(it);
    } else {
      ++it;
    }
  }
  auto copies = FindCopies(impl_->packs_dir, impl_->packs, bad);
  Index::Batch b;
  DigestSet dropped;
  for (const auto& [d, loc] : bad) {
    auto it = copies.find(d);
    if (it != copies.end()) {
      b.Put(key::Chunk(d), it->second.Encode());
      rep.actions.push_back("chunk " + d.ToString() + ": index now points at an intact copy in " +
                            PackPath(impl_->packs_dir, it->second.pack_id));
      rep.chunks_relinked++;
    } else {
      b.Delete(key::Chunk(d));
      dropped.insert(d);
      rep.actions.push_back("chunk " + d.ToString() +
                            ": no intact copy in the store; dropped from the index (a pull of "
                            "an image that needs it stores it again)");
      rep.chunks_dropped++;
    }
  }
  if (b.Count() > 0) RETURN_IF_ERROR(w->Write(b));
  ASSIGN_OR_RETURN(rep.images_to_pull, ImagesNeeding(*impl_, *w, dropped));
  return rep;
}

}  // namespace cfs
