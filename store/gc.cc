// Store::Gc: removes what no image and no live lease references.
//
// Mark: roots are the image records ("i") and the layers named by live
// lease files (a lease is live while its owner holds its flock). Sweep: one
// synced batch deletes unreferenced index entries; then pack records that
// are not indexed are punched out (the 48-byte record headers stay, so packs
// remain walkable) and packs without a live record are unlinked.
// gc holds gc.lock exclusively, so no import, export or lease-taking runs
// meanwhile; packs still locked by a live writer are skipped.
#include <linux/falloc.h>
#include <sys/stat.h>

#include <unordered_set>

#include "store/store_impl.h"
#include "store/work_dir.h"

namespace cfs {

using nlohmann::json;

namespace {

// Layers named by live leases; stale lease files are removed.
Result<std::vector<Digest>> LeasedLayers(const std::string& dir) {
  std::vector<Digest> out;
  ASSIGN_OR_RETURN(auto names, ListDir(dir, ".lease"));
  std::vector<std::string> files;
  for (const auto& n : names) files.push_back(dir + "/" + n);
  for (const auto& f : files) {
    auto probe = FileLock::TryAcquire(f, FileLock::Mode::kExclusive);
    if (probe.ok()) {  // nobody holds it: stale
      ::unlink(f.c_str());
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
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

// Removes scratch left by dead processes. REQUIRES: gc.lock held
// exclusively, so no import/export/load (the only other users of tmp/
// without an owner lock) runs; a directory whose owner.lock is held (a
// reader's secondary index, a running build's work dir) is live. A dead
// build's work dir first has its process groups killed and its mounts
// detached (store/work_dir.h); one that keeps a mount stays.
void RemoveStaleScratch(const std::string& tmp, GcReport* rep) {
  auto names = ListDir(tmp);
  if (!names.ok()) return;
  for (const auto& n : *names) {
    std::string path = tmp + "/" + n;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !ReclaimScratch(path).ok())
      continue;
    if (RemoveTree(path).ok()) rep->scratch_removed++;
  }
}

}  // namespace

Result<GcReport> Store::Gc() {
  GcReport rep;
  ASSIGN_OR_RETURN(FileLock gc, FileLock::Acquire(impl_->root + "/gc.lock",
                                                  FileLock::Mode::kExclusive));
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  Index& ix = *w;
  RemoveStaleScratch(impl_->tmp_dir, &rep);

  // Mark.
  std::unordered_set<Digest, DigestHash> live_layers, live_blobs, live_chunks, images;
  Status bad;
  RETURN_IF_ERROR(ix.Scan("i", [&](std::string_view k, std::string_view v) {
    Digest m = Digest::FromRaw(k.substr(1));
    auto rec = ImageRecord::FromJson(v);
    if (!rec.ok()) {
      bad = rec.status().Prefix("image " + m.ToString());
      return false;
    }
    images.insert(m);
    live_blobs.insert(m);
    live_blobs.insert(rec->config);
    for (const auto& l : rec->layers) live_layers.insert(l.diff_id);
    return true;
  }));
  RETURN_IF_ERROR(bad);
  ASSIGN_OR_RETURN(auto leased, LeasedLayers(impl_->leases_dir));
  live_layers.insert(leased.begin(), leased.end());

  Index::Batch b;
  RETURN_IF_ERROR(ix.Scan("t", [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromRaw(k.substr(1));
    if (!live_layers.count(id)) {
      b.Delete(key::Toc(id));
      b.Delete(key::Split(id));
      rep.layers_removed++;
      return true;
    }
    auto toc = LayerToc::Decode(v);
    if (!toc.ok()) {
      bad = toc.status().Prefix("layer " + id.ToString());
      return false;
    }
    for (const auto& c : toc->chunks) live_chunks.insert(c.digest);
    return true;
  }));
  RETURN_IF_ERROR(bad);
  // Partial layers (lazy pulls) live while a lease names them; so do the
  // chunks of them that are stored.
  RETURN_IF_ERROR(ix.Scan("p", [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromRaw(k.substr(1));
    if (!live_layers.count(id)) {
      b.Delete(key::PartialToc(id));
      b.Delete(key::PartialRest(id));
      rep.layers_removed++;
      return true;
    }
    auto toc = LayerToc::Decode(v);
    if (!toc.ok()) {
      bad = toc.status().Prefix("partial layer " + id.ToString());
      return false;
    }
    for (const auto& c : toc->chunks) live_chunks.insert(c.digest);
    return true;
  }));
  RETURN_IF_ERROR(bad);
  RETURN_IF_ERROR(ix.Scan("q", [&](std::string_view k, std::string_view) {
    if (!live_layers.count(Digest::FromRaw(k.substr(1)))) b.Delete(std::string(k));
    return true;
  }));
  RETURN_IF_ERROR(ix.Scan("s", [&](std::string_view k, std::string_view) {
    Digest id = Digest::FromRaw(k.substr(1));
    if (!live_layers.count(id)) b.Delete(std::string(k));
    return true;
  }));
  RETURN_IF_ERROR(ix.Scan("b", [&](std::string_view k, std::string_view) {
    if (!live_blobs.count(Digest::FromRaw(k.substr(1)))) {
      b.Delete(std::string(k));
      rep.blobs_removed++;
    }
    return true;
  }));
  // Chunks: keep live ones, remember where each live chunk is.
  std::unordered_map<uint64_t, std::unordered_set<uint64_t>> live_at;  // pack -> offsets
  RETURN_IF_ERROR(ix.Scan("c", [&](std::string_view k, std::string_view v) {
    Digest d = Digest::FromRaw(k.substr(1));
    if (!live_chunks.count(d)) {
      b.Delete(std::string(k));
      rep.chunks_removed++;
      return true;
    }
    auto loc = ChunkLoc::Decode(v);
    if (loc.ok()) live_at[loc->pack_id].insert(loc->offset);
    return true;
  }));
  // Names pointing at missing images.
  RETURN_IF_ERROR(ix.Scan("n", [&](std::string_view k, std::string_view v) {
    auto m = Digest::Parse(v);
    if (!m.ok() || !images.count(*m)) b.Delete(std::string(k));
    return true;
  }));
  if (b.Count() > 0) RETURN_IF_ERROR(ix.Write(b));

  // Sweep packs.
  ASSIGN_OR_RETURN(auto packs, ListDir(impl_->packs_dir, ".pack"));
  for (const auto& n : packs) {
    std::string path = impl_->packs_dir + "/" + n;
    auto writer_alive = FileLock::TryAcquire(path, FileLock::Mode::kExclusive);
    if (!writer_alive.ok()) continue;  // a live writer appends to it
    uint64_t before = DiskBytes(path);
    uint64_t id = 0, end = 0;
    std::vector<ChunkLoc> dead;
    uint64_t live = 0;
    RETURN_IF_ERROR(ScanPack(path, &id,
                             [&](const PackRecord& r) {
                               auto it = live_at.find(r.loc.pack_id);
                               if (it != live_at.end() && it->second.count(r.loc.offset))
                                 live++;
                               else if (!r.reclaimed)
                                 dead.push_back(r.loc);
                               return Status::Ok();
                             },
                             &end));
    if (live == 0) {
      if (::unlink(path.c_str()) != 0) return Status::IOError("unlink " + path);
      rep.packs_removed++;
      rep.bytes_reclaimed += before;
      continue;
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return Status::IOError(path);
    UniqueFd ufd(fd);
    for (const auto& loc : dead) {
      // Mark first, then punch: a crash in between leaves a marked record
      // whose frame is intact, which is still garbage and still walkable.
      const char flag[4] = {static_cast<char>(kRecordReclaimed), 0, 0, 0};
      if (::pwrite(fd, flag, 4, static_cast<off_t>(loc.offset + 12)) != 4)
        return Status::IOError("mark record in " + path);
      if (loc.clen == 0) continue;
      if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      static_cast<off_t>(loc.offset + kRecordHeaderSize),
                      static_cast<off_t>(loc.clen)) != 0 &&
          errno != EOPNOTSUPP)
        return Status::IOError("punch hole in " + path);
    }
    // A torn tail past the last whole record is dropped.
    struct stat st;
    if (::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > end)
      if (::ftruncate(fd, static_cast<off_t>(end)) != 0) return Status::IOError("truncate " + path);
    uint64_t after = DiskBytes(path);
    if (before > after) rep.bytes_reclaimed += before - after;
  }
  return rep;
}

}  // namespace cfs
