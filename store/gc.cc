// Store::Gc: removes what no image and no live lease references -- and only
// what it has proven dead.
//
// 1. Mark: roots are the image records ("i") and the layers named by live
//    lease files (a lease is live while its owner holds its flock).
// 2. Prove: before anything is deleted, the whole index is read and checked
//    (every record decodes, every image's blobs and layers are present, every
//    chunk a complete layer needs is indexed), and every pack is walked with
//    its header checked and every index entry matched to a record at its
//    offset. Any failure refuses the whole run with one line; nothing is
//    deleted. Files in packs/ that are not packs are moved to quarantine/.
// 3. Sweep: one synced batch deletes unreferenced index entries; then pack
//    records that no index entry points at are punched out (the 48-byte
//    record headers stay, so packs remain walkable), packs without an indexed
//    record are unlinked, and a torn tail is cut -- never bytes an index entry
//    points at, and never a pack whose walk stopped before an indexed record.
// gc holds gc.lock exclusively and the writer session for the whole run, so
// no import, export or lease-taking runs meanwhile and the index does not
// change under it; packs still locked by a live writer are left alone.
#include <sys/stat.h>

#include <unordered_map>
#include <unordered_set>

#include "store/pack_check.h"
#include "store/store_impl.h"
#include "store/work_dir.h"

namespace cfs {

using nlohmann::json;

namespace {

using DigestSet = std::unordered_set<Digest, DigestHash>;

// Layers named by live leases; stale lease files are removed.
Result<std::vector<Digest>> LeasedLayers(Env* env, const std::string& dir) {
  std::vector<Digest> out;
  ASSIGN_OR_RETURN(auto names, ListDir(dir, ".lease"));
  for (const auto& n : names) {
    std::string f = dir + "/" + n;
    auto probe = FileLock::TryAcquire(f, FileLock::Mode::kExclusive);
    if (probe.ok()) {  // nobody holds it: stale
      (void)env->RemoveFile(f);
      continue;
    }
    ASSIGN_OR_RETURN(std::string body, ReadFile(f));
    try {
      for (const auto& v : json::parse(body)) {
        ASSIGN_OR_RETURN(Digest dg, Digest::Parse(v.get<std::string>()));
        out.push_back(dg);
      }
    } catch (const std::exception& e) {
      return Status::Corruption(f + ": " + e.what());
    }
  }
  return out;
}

uint64_t DiskBytes(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

// Disk bytes of a file or a whole tree (not following symlinks).
uint64_t TreeDiskBytes(const std::string& path) {
  uint64_t total = DiskBytes(path);
  auto names = ListDir(path);
  if (!names.ok()) return total;
  for (const auto& n : *names) total += TreeDiskBytes(path + "/" + n);
  return total;
}

// Removes scratch left by dead processes. REQUIRES: gc.lock held
// exclusively, so no import/export/load (the only other users of tmp/
// without an owner lock) runs; a directory whose owner.lock is held (a
// reader's secondary index, a running build's work dir) is live. A dead
// build's work dir first has its process groups killed and its mounts
// detached (store/work_dir.h); one that keeps a mount stays.
void RemoveStaleScratch(Env* env, const std::string& tmp, GcReport* rep) {
  auto names = ListDir(tmp);
  if (!names.ok()) return;
  for (const auto& n : *names) {
    std::string path = tmp + "/" + n;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !ReclaimScratch(path).ok())
      continue;
    uint64_t bytes = TreeDiskBytes(path);
    if (env->RemoveTree(path).ok()) {
      rep->scratch_removed++;
      rep->bytes_reclaimed += bytes;
    }
  }
}

// What the mark phase found live, and what the sweep will delete.
struct Marked {
  DigestSet images, blobs, layers;
  DigestSet chunks;           // referenced by a live layer, complete or partial
  DigestSet required_chunks;  // referenced by a live complete layer: must be indexed
};

Status Refuse(const std::string& why) {
  return Status::Corruption("gc refused, nothing deleted: " + why + " (run cimg fsck)");
}

// Images are roots; each must have its manifest, config and layers indexed.
Status MarkImages(Index& ix, Marked* m) {
  Status bad;
  std::vector<std::pair<Digest, ImageRecord>> recs;
  RETURN_IF_ERROR(ix.Scan("i", [&](std::string_view k, std::string_view v) {
    Digest d = Digest::FromRaw(k.substr(1));
    auto rec = ImageRecord::FromJson(v);
    if (!rec.ok()) {
      bad = Refuse("image " + d.ToString() + ": " + rec.status().message());
      return false;
    }
    recs.emplace_back(d, std::move(*rec));
    return true;
  }));
  RETURN_IF_ERROR(bad);
  for (const auto& [d, rec] : recs) {
    m->images.insert(d);
    m->blobs.insert(d);
    m->blobs.insert(rec.config);
    std::vector<std::string> keys = {key::Blob(d), key::Blob(rec.config)};
    for (const auto& l : rec.layers) {
      m->layers.insert(l.diff_id);
      keys.push_back(key::Toc(l.diff_id));
      keys.push_back(key::Split(l.diff_id));
    }
    ASSIGN_OR_RETURN(auto vals, ix.MultiGet(keys));
    for (size_t i = 0; i < vals.size(); i++) {
      if (vals[i]) continue;
      std::string what = i == 0   ? "manifest blob"
                         : i == 1 ? "config blob"
                                  : "layer " + rec.layers[(i - 2) / 2].diff_id.ToString();
      return Refuse("image " + d.ToString() + ": " + what + " missing from the index");
    }
  }
  return Status::Ok();
}

// Scans one kind of layer record ("t" complete, "p" partial): live ones must
// decode (their chunks are marked), dead ones and their companion records
// (split_prefix) are deleted.
Status MarkLayers(Index& ix, const std::string& prefix, bool complete, Marked* m,
                  Index::Batch* b, GcReport* rep) {
  Status bad;
  RETURN_IF_ERROR(ix.Scan(prefix, [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromRaw(k.substr(1));
    if (!m->layers.count(id)) {
      b->Delete(std::string(k));
      rep->layers_removed++;
      return true;
    }
    auto toc = LayerToc::Decode(v);
    if (!toc.ok()) {
      bad = Refuse("layer " + id.ToString() + ": " + toc.status().message());
      return false;
    }
    for (const auto& c : toc->chunks) {
      m->chunks.insert(c.digest);
      if (complete) m->required_chunks.insert(c.digest);
    }
    return true;
  }));
  return bad;
}

// Deletes records of prefix whose digest key is not in live.
Status DropUnlisted(Index& ix, const std::string& prefix, const DigestSet& live,
                    Index::Batch* b, uint64_t* count) {
  return ix.Scan(prefix, [&](std::string_view k, std::string_view) {
    if (!live.count(Digest::FromRaw(k.substr(1)))) {
      b->Delete(std::string(k));
      if (count) (*count)++;
    }
    return true;
  });
}

// Every chunk entry must decode; every chunk a live complete layer needs
// must be indexed. Dead entries go into the batch.
Status MarkChunks(Index& ix, const Marked& m, ChunkMap* indexed, Index::Batch* b,
                  GcReport* rep) {
  Status bad;
  size_t required_found = 0;
  RETURN_IF_ERROR(ix.Scan("c", [&](std::string_view k, std::string_view v) {
    Digest d = Digest::FromRaw(k.substr(1));
    auto loc = ChunkLoc::Decode(v);
    if (!loc.ok()) {
      bad = Refuse("chunk " + d.ToString() + ": index entry does not decode");
      return false;
    }
    bool live = m.chunks.count(d) > 0;
    if (m.required_chunks.count(d)) required_found++;
    if (!live) {
      b->Delete(std::string(k));
      rep->chunks_removed++;
    }
    (*indexed)[loc->pack_id][loc->offset] = IndexedChunk{d, *loc, live};
    return true;
  }));
  RETURN_IF_ERROR(bad);
  if (required_found != m.required_chunks.size())
    return Refuse(std::to_string(m.required_chunks.size() - required_found) +
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

// Moves files found in packs/ that are not packs to ROOT/quarantine/.
Status Quarantine(Env* env, const std::string& root, const std::string& packs_dir,
                  const std::vector<std::string>& names, GcReport* rep) {
  if (names.empty()) return Status::Ok();
  RETURN_IF_ERROR(env->CreateDirs(root + "/quarantine", 0700));
  for (const auto& n : names) {
    std::string from = packs_dir + "/" + n;
    RETURN_IF_ERROR(env->Rename(from, root + "/quarantine/" + n).Prefix("move to quarantine"));
    rep->quarantined++;
  }
  return Status::Ok();
}

// Punches out records no index entry points at, cuts a torn tail, unlinks a
// pack with no live record. REQUIRES: p checked by CheckPackWithIndex and the index
// batch that drops dead entries written (their records are punched too).
Status SweepPack(Env* env, const ChunkMap& indexed, const CheckedPack& p, GcReport* rep) {
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
  // A torn tail past the last whole record is dropped (CheckPackWithIndex proved no
  // indexed record lies there).
  if (p.scan.size > p.scan.valid_end && p.scan.valid_end > 0)
    RETURN_IF_ERROR(file->Truncate(p.scan.valid_end));
  uint64_t after = DiskBytes(p.path);
  if (before > after) rep->bytes_reclaimed += before - after;
  return Status::Ok();
}

}  // namespace

Result<GcReport> Store::Gc() {
  GcReport rep;
  ASSIGN_OR_RETURN(FileLock gc, FileLock::Acquire(impl_->root + "/gc.lock",
                                                  FileLock::Mode::kExclusive));
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  Index& ix = *w;

  // Mark, checking every record on the way.
  Marked m;
  RETURN_IF_ERROR(MarkImages(ix, &m));
  ASSIGN_OR_RETURN(auto leased, LeasedLayers(impl_->env(), impl_->leases_dir));
  m.layers.insert(leased.begin(), leased.end());
  Index::Batch b;
  RETURN_IF_ERROR(MarkLayers(ix, "t", /*complete=*/true, &m, &b, &rep));
  RETURN_IF_ERROR(MarkLayers(ix, "p", /*complete=*/false, &m, &b, &rep));
  uint64_t* none = nullptr;
  RETURN_IF_ERROR(DropUnlisted(ix, "q", m.layers, &b, none));
  RETURN_IF_ERROR(DropUnlisted(ix, "s", m.layers, &b, none));
  RETURN_IF_ERROR(DropUnlisted(ix, "b", m.blobs, &b, &rep.blobs_removed));
  ChunkMap indexed;
  RETURN_IF_ERROR(MarkChunks(ix, m, &indexed, &b, &rep));
  RETURN_IF_ERROR(ix.Scan("n", [&](std::string_view k, std::string_view v) {
    auto d = Digest::Parse(v);
    if (!d.ok() || !m.images.count(*d)) b.Delete(std::string(k));  // names of missing images
    return true;
  }));

  // Prove the packs agree with the index before deleting anything.
  std::vector<LockedPack> packs;
  std::vector<std::string> strangers;
  RETURN_IF_ERROR(CheckPacks(impl_->packs_dir, indexed, &packs, &strangers));

  // Sweep.
  RETURN_IF_ERROR(Quarantine(impl_->env(), impl_->root, impl_->packs_dir, strangers, &rep));
  RemoveStaleScratch(impl_->env(), impl_->tmp_dir, &rep);
  if (b.Count() > 0) RETURN_IF_ERROR(ix.Write(b));
  for (const auto& p : packs) RETURN_IF_ERROR(SweepPack(impl_->env(), indexed, p.pack, &rep));
  return rep;
}

}  // namespace cfs
