// Store::Gc: removes what no image and no live lease references -- and only
// what it has proven dead.
//
// 1. Mark: roots are the image records ("i"), the image lists ("l": their
//    index blobs) and the layers named by live leases. Every record read must decode, every image's blobs and layers
//    must be present; the chunks of live layers are live, and those of
//    complete layers must be indexed.
// 2. Prove: the chunk store checks its index entries and packs against the
//    marks (ChunkStore::ProveGc). Any failure refuses the whole run with one
//    line; nothing is deleted.
// 3. Sweep: one synced batch deletes unreferenced records and chunk entries
//    (and build digest cache records unused for 30 days: digest_records.cc);
//    then the chunk store reclaims pack space (ChunkSweep::Run), and scratch
//    left by dead processes is removed.
// gc holds gc.lock exclusively and the writer session for the whole run, so
// no import, export or lease-taking runs meanwhile and the index does not
// change under it.
#include <sys/stat.h>

#include <unordered_map>
#include <unordered_set>

#include "store_impl.h"
#include "store/image_stack.h"
#include "store/work_dir.h"
#include "chunkstore/chunk_store.h"

namespace cfs {

namespace {

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
    uint64_t bytes = DiskBytes(path);
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
    for (const auto& r : rec.referrers) {  // artifacts kept with the image (referrers.cc)
      m->blobs.insert(r.manifest);
      m->blobs.insert(r.blob);
      m->blobs.insert(Digest::Of("{}"));
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

// Image lists are roots too: each record must decode, its index blob must
// be indexed and each child must be an image record (the children, roots
// of their own, stay while a list names them: Store::Remove keeps them).
// A list's digest counts as an image, so names of lists stay.
Status MarkLists(Index& ix, Marked* m) {
  std::vector<std::pair<Digest, std::string>> recs;
  RETURN_IF_ERROR(ix.Scan("l", [&](std::string_view k, std::string_view v) {
    recs.emplace_back(Digest::FromRaw(k.substr(1)), std::string(v));
    return true;
  }));
  for (const auto& [d, v] : recs) {
    auto rec = ImageListRecord::FromJson(v);
    if (!rec.ok()) return Refuse("image list " + d.ToString() + ": " + rec.status().message());
    ASSIGN_OR_RETURN(auto blob, ix.Get(key::Blob(d)));
    if (!blob) return Refuse("image list " + d.ToString() + ": index blob missing from the index");
    for (const auto& c : rec->children)
      if (!m->images.count(c.manifest))
        return Refuse("image list " + d.ToString() + ": image " + c.manifest.ToString() +
                      " (" + c.platform.ToString() + ") missing from the index");
    m->images.insert(d);
    m->blobs.insert(d);
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

}  // namespace

Result<GcReport> Store::Gc() {
  GcReport rep;
  ChunkStore& chunks = *impl_->chunks;
  ASSIGN_OR_RETURN(FileLock gc, chunks.GcLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  Index& ix = *w;

  // Mark, checking every record on the way.
  Marked m;
  RETURN_IF_ERROR(MarkImages(ix, &m));
  RETURN_IF_ERROR(MarkLists(ix, &m));
  ASSIGN_OR_RETURN(auto leased, chunks.LeasedNames());
  m.layers.insert(leased.begin(), leased.end());
  Index::Batch b;
  RETURN_IF_ERROR(MarkLayers(ix, "t", /*complete=*/true, &m, &b, &rep));
  RETURN_IF_ERROR(MarkLayers(ix, "p", /*complete=*/false, &m, &b, &rep));
  uint64_t* none = nullptr;
  RETURN_IF_ERROR(DropUnlisted(ix, "q", m.layers, &b, none));
  RETURN_IF_ERROR(DropUnlisted(ix, "s", m.layers, &b, none));
  RETURN_IF_ERROR(DropUnlisted(ix, "b", m.blobs, &b, &rep.blobs_removed));
  RETURN_IF_ERROR(ix.Scan("n", [&](std::string_view k, std::string_view v) {
    auto d = Digest::Parse(v);
    if (!d.ok() || !m.images.count(*d)) b.Delete(std::string(k));  // names of missing images
    return true;
  }));
  RETURN_IF_ERROR(PruneDigestRecords(ix, impl_->env()->NowMicros() / 1000000, &b,
                                     &rep.digest_records_removed));

  // Prove the chunks and packs agree with the marks before deleting anything.
  ChunkGcReport crep;
  ASSIGN_OR_RETURN(auto sweep, chunks.ProveGc(ix, m.chunks, m.required_chunks, &b, &crep));

  // Sweep.
  RemoveStaleScratch(impl_->env(), impl_->tmp_dir, &rep);
  if (b.Count() > 0) RETURN_IF_ERROR(ix.Write(b));
  Status swept = sweep->Run(&crep);
  rep.chunks_removed = crep.chunks_removed;
  rep.packs_removed = crep.packs_removed;
  rep.bytes_reclaimed += crep.bytes_reclaimed;
  rep.quarantined = crep.quarantined;
  RETURN_IF_ERROR(swept);
  ASSIGN_OR_RETURN(rep.stack_indexes_removed,
                   RemoveStaleStackIndexes(root(), [&](const Digest& d) { return m.layers.count(d) > 0; }));
  return rep;
}

}  // namespace cfs
