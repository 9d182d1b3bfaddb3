// The chunk half of gc (ChunkStore::ProveGc): prove, then sweep.
//
// Prove: every chunk entry decodes; every chunk a complete record needs is
// indexed; every pack no live writer holds is walked with its header checked
// and every index entry matched to a record at its offset. Any failure
// refuses the whole run with one line; nothing is deleted.
// Sweep (after the caller's batch, which drops dead entries, is written):
// files in packs/ that are not packs are moved to ROOT/quarantine/; pack
// records no index entry points at are punched out (the 48-byte record
// headers stay, so packs remain walkable); packs without an indexed record
// are unlinked; a torn tail is cut -- never bytes an index entry points at,
// and never a pack whose walk stopped before an indexed record.
#include <unordered_set>

#include "chunk_store_impl.h"
#include "pack_check.h"

namespace cfs {

namespace {

Status Refuse(const std::string& why) {
  return Status::Corruption("gc refused, nothing deleted: " + why + " (run cimg fsck)");
}

// Every chunk entry must decode; every required chunk must be indexed.
// Dead entries go into the batch.
Status MarkChunks(Index& ix, const DigestSet& live, const DigestSet& required,
                  ChunkMap* indexed, Index::Batch* b, ChunkGcReport* rep) {
  Status bad;
  size_t required_found = 0;
  RETURN_IF_ERROR(ix.Scan("c", [&](std::string_view k, std::string_view v) {
    Digest d = Digest::FromRaw(k.substr(1));
    auto loc = ChunkLoc::Decode(v);
    if (!loc.ok()) {
      bad = Refuse("chunk " + d.ToString() + ": index entry does not decode");
      return false;
    }
    bool is_live = live.count(d) > 0;
    if (required.count(d)) required_found++;
    if (!is_live) {
      b->Delete(std::string(k));
      rep->chunks_removed++;
    }
    (*indexed)[loc->pack_id][loc->offset] = IndexedChunk{d, *loc, is_live};
    return true;
  }));
  RETURN_IF_ERROR(bad);
  if (required_found != required.size())
    return Refuse(std::to_string(required.size() - required_found) +
                  " chunk(s) that stored layers reference are missing from the index");
  return Status::Ok();
}

// A pack gc may change, and the lock that keeps writers out of it.
struct LockedPack {
  CheckedPack pack;
  FileLock lock;
};

// Lists packs/ (files that are not packs go to *strangers), checks every
// pack no live writer holds, and refuses when the index points into a pack
// file that is gone.
Status CheckPacks(const std::string& packs_dir, const ChunkMap& indexed,
                  std::vector<LockedPack>* out, std::vector<std::string>* strangers) {
  ASSIGN_OR_RETURN(auto names, ListDir(packs_dir));
  std::unordered_set<uint64_t> present;
  for (const auto& n : names) {
    std::string path = packs_dir + "/" + n;
    auto id = PackIdFromFileName(n);
    if (!id.ok()) {
      strangers->push_back(n);
      continue;
    }
    present.insert(*id);
    auto lock = FileLock::TryAcquire(path, FileLock::Mode::kExclusive);
    if (!lock.ok()) continue;  // a live writer appends to it
    LockedPack p;
    p.pack.path = path;
    p.pack.id = *id;
    p.lock = std::move(*lock);
    Status s = CheckPackWithIndex(indexed, &p.pack);
    if (!s.ok()) return Refuse(s.message());
    out->push_back(std::move(p));
  }
  for (const auto& [id, entries] : indexed) {
    if (present.count(id)) continue;
    for (const auto& [off, e] : entries)
      if (e.live)
        return Refuse("chunk " + e.digest.ToString() + " is indexed in " +
                      PackPath(packs_dir, id) + ", which does not exist");
  }
  return Status::Ok();
}

// Punches out records no index entry points at, cuts a torn tail, unlinks a
// pack with no live record. REQUIRES: p checked by CheckPackWithIndex and the
// index batch that drops dead entries written (their records are punched too).
Status SweepPack(Env* env, const ChunkMap& indexed, const CheckedPack& p, ChunkGcReport* rep) {
  std::vector<ChunkLoc> dead = p.unindexed;
  uint64_t live = 0;
  auto it = indexed.find(p.id);
  if (it != indexed.end())
    for (const auto& [off, e] : it->second) {
      if (e.live)
        live++;
      else
        dead.push_back(e.loc);
    }
  uint64_t before = DiskBytes(p.path);
  if (live == 0) {
    RETURN_IF_ERROR(env->RemoveFile(p.path));
    rep->packs_removed++;
    rep->bytes_reclaimed += before;
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(auto file, env->OpenWritable(p.path, Env::OpenMode::kExisting));
  for (const auto& loc : dead) {
    // Mark first, then punch: a crash in between leaves a marked record
    // whose frame is intact, which is still garbage and still walkable.
    const char flag[4] = {static_cast<char>(kRecordReclaimed), 0, 0, 0};
    RETURN_IF_ERROR(file->WriteAt(loc.offset + 12, std::string_view(flag, 4)));
    Status punched = file->PunchHole(loc.offset + kRecordHeaderSize, loc.clen);
    if (!punched.ok() && punched.err() != EOPNOTSUPP) return punched;
  }
  // A torn tail past the last whole record is dropped (CheckPackWithIndex
  // proved no indexed record lies there).
  if (p.scan.size > p.scan.valid_end && p.scan.valid_end > 0)
    RETURN_IF_ERROR(file->Truncate(p.scan.valid_end));
  uint64_t after = DiskBytes(p.path);
  if (before > after) rep->bytes_reclaimed += before - after;
  return Status::Ok();
}

class PackSweep : public ChunkSweep {
 public:
  PackSweep(ChunkStoreImpl* store) : store_(store) {}
  Status Run(ChunkGcReport* rep) override {
    Env* env = store_->env();
    if (!strangers_.empty())
      RETURN_IF_ERROR(env->CreateDirs(store_->root() + "/quarantine", 0700));
    for (const auto& n : strangers_) {
      RETURN_IF_ERROR(env->Rename(store_->packs_dir() + "/" + n,
                                  store_->root() + "/quarantine/" + n)
                          .Prefix("move to quarantine"));
      rep->quarantined++;
    }
    for (const auto& p : packs_) RETURN_IF_ERROR(SweepPack(env, indexed_, p.pack, rep));
    return Status::Ok();
  }

  ChunkStoreImpl* store_;
  ChunkMap indexed_;
  std::vector<LockedPack> packs_;
  std::vector<std::string> strangers_;
};

}  // namespace

Result<std::unique_ptr<ChunkSweep>> ChunkStoreImpl::ProveGc(Index& w, const DigestSet& live,
                                                            const DigestSet& required,
                                                            Index::Batch* b,
                                                            ChunkGcReport* rep) {
  auto sweep = std::make_unique<PackSweep>(this);
  RETURN_IF_ERROR(MarkChunks(w, live, required, &sweep->indexed_, b, rep));
  RETURN_IF_ERROR(CheckPacks(packs_dir_, sweep->indexed_, &sweep->packs_, &sweep->strangers_));
  return std::unique_ptr<ChunkSweep>(std::move(sweep));
}

}  // namespace cfs
