// The chunk halves of fsck (ChunkStore::Check) and repair
// (ChunkStore::Repair).
//
// Check: every chunk entry decodes, every indexed chunk reads back, decodes
// and hashes right; every pack's header is checked and its walk matched with
// the index. Unindexed records are garbage (gc removes them), not problems.
//
// Repair: first, pack headers that fail their check are rewritten from the
// file name (the records behind them are untouched). Then, for each indexed
// chunk that does not read back clean:
//  0. if only its record header is damaged (the frame still hashes right),
//     the header is rewritten from the index entry;
//  1. an intact copy elsewhere in the packs (an unindexed record with the
//     same digest that decompresses and hashes right) takes its place in the
//     index;
//  2. otherwise its index entry is dropped: the chunk is then *missing*,
//     which every reader reports as such, gc refuses to run over, and the
//     next pull of a record that needs it stores it again.
#include <unordered_map>
#include <unordered_set>

#include "chunk_store_impl.h"
#include "pack_check.h"

namespace cfs {

namespace {

using ChunkLocs = std::unordered_map<Digest, ChunkLoc, DigestHash>;

// Every pack's header and walk, matched with the index.
void CheckPacks(const std::string& packs_dir, const ChunkMap& indexed, ChunkCheckReport* rep) {
  auto names = ListDir(packs_dir);
  if (!names.ok()) return rep->problems.push_back(names.status().message());
  std::unordered_set<uint64_t> present;
  for (const auto& n : *names) {
    auto id = PackIdFromFileName(n);
    if (!id.ok()) {
      rep->problems.push_back(packs_dir + "/" + n +
                              ": not a pack file (gc moves it to quarantine/)");
      continue;
    }
    present.insert(*id);
    CheckedPack p;
    p.path = packs_dir + "/" + n;
    p.id = *id;
    Status s = CheckPackWithIndex(indexed, &p);
    if (!s.ok()) rep->problems.push_back(s.message());
    rep->garbage_records += p.unindexed.size();
  }
  for (const auto& [id, entries] : indexed)
    if (!present.count(id))
      rep->problems.push_back(PackPath(packs_dir, id) + ": missing, though " +
                              std::to_string(entries.size()) + " indexed chunk(s) live there");
}

}  // namespace

Status ChunkStoreImpl::Check(Index& ix, ChunkCheckReport* rep) {
  ChunkMap indexed;
  RETURN_IF_ERROR(ix.Scan("c", [&](std::string_view k, std::string_view v) {
    Digest d = Digest::FromRaw(k.substr(1));
    auto loc = ChunkLoc::Decode(v);
    if (!loc.ok())
      rep->problems.push_back("chunk " + d.ToString() + ": index entry does not decode");
    else
      indexed[loc->pack_id][loc->offset] = IndexedChunk{d, *loc, true};
    return true;
  }));
  for (const auto& [pack, entries] : indexed)
    for (const auto& [off, e] : entries) {
      rep->chunks_checked++;
      auto data = packs_.ReadChunk(e.digest, e.loc);
      if (data.ok())
        rep->good.insert(e.digest);
      else
        rep->problems.push_back(data.status().message());
    }
  CheckPacks(packs_dir_, indexed, rep);
  return Status::Ok();
}

namespace {

// Indexed chunks that do not read back clean, with where the index puts them.
Result<ChunkLocs> BadChunks(Index& ix, PackReader& packs) {
  ChunkLocs bad;
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
ChunkLocs FindCopies(const std::string& packs_dir, PackReader& packs, const ChunkLocs& want) {
  ChunkLocs found;
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

// Rewrites pack headers that fail their check.
void RestorePackHeaders(Env* env, const std::string& packs_dir, ChunkRepairReport* rep) {
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

}  // namespace

Status ChunkStoreImpl::Repair(Index& w, ChunkRepairReport* rep) {
  RestorePackHeaders(env(), packs_dir_, rep);
  ASSIGN_OR_RETURN(ChunkLocs bad, BadChunks(w, packs_));
  for (auto it = bad.begin(); it != bad.end();) {
    const auto& [d, loc] = *it;
    if (loc.pack_id != 0 && RestoreRecordHeader(env(), packs_dir_, d, loc).ok() &&
        packs_.ReadChunk(d, loc).ok()) {
      rep->actions.push_back("chunk " + d.ToString() + ": damaged record header rewritten in " +
                             PackPath(packs_dir_, loc.pack_id));
      rep->chunks_relinked++;
      it = bad.erase(it);
    } else {
      ++it;
    }
  }
  ChunkLocs copies = FindCopies(packs_dir_, packs_, bad);
  Index::Batch b;
  for (const auto& [d, loc] : bad) {
    auto it = copies.find(d);
    if (it != copies.end()) {
      b.Put(ChunkKey(d), it->second.Encode());
      rep->actions.push_back("chunk " + d.ToString() + ": index now points at an intact copy in " +
                             PackPath(packs_dir_, it->second.pack_id));
      rep->chunks_relinked++;
    } else {
      b.Delete(ChunkKey(d));
      rep->dropped.insert(d);
      rep->actions.push_back("chunk " + d.ToString() +
                             ": no intact copy in the store; dropped from the index (a pull of "
                             "an image that needs it stores it again)");
    }
  }
  if (b.Count() > 0) RETURN_IF_ERROR(w.Write(b));
  return Status::Ok();
}

}  // namespace cfs
