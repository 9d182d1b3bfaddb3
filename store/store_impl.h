// Image store internals shared by its files (store.cc, pull.cc, push.cc,
// commit.cc, gc.cc, fsck.cc, repair.cc, partial_layers.cc, diff.cc). Private to store/.
#pragma once

#include <nlohmann/json.hpp>

#include "chunkstore/chunk_store.h"
#include "keys.h"
#include "store/store.h"

namespace cfs {

// What the index keeps per image ("i" + manifest digest), as JSON:
//   {"config":"sha256:…","layers":[{"diff_id","source_digest","source_media_type",
//    "tar_size","entries","chunks"}…],"source":"…","stored_at":unix,
//    "chunks_total":N,"chunks_new":N,"bytes_new":N,"manifest_media_type":"…"}
struct ImageRecord {
  Digest config;
  std::vector<LayerSummary> layers;
  std::string source;
  std::string manifest_media_type;
  int64_t stored_at = 0;
  uint64_t chunks_total = 0, chunks_new = 0, bytes_new = 0;
  std::vector<Referrer> referrers;  // store/referrers.cc

  std::string ToJson() const;
  static Result<ImageRecord> FromJson(std::string_view s);
};

// What the index keeps per image list ("l" + index digest), as JSON:
//   {"children":[{"manifest":"sha256:…","platform":"linux/arm64/v8"}…],
//    "source":"…","stored_at":unix}
// The index blob itself is "b" + index digest; the children are image
// records ("i"), in the index's order.
struct ImageListRecord {
  std::vector<ImageListChild> children;
  std::string source;
  int64_t stored_at = 0;

  std::string ToJson() const;
  static Result<ImageListRecord> FromJson(std::string_view s);
};

// Unlinks the packs of a pull (or a delta load) that fails before it tries to commit any layer:
// none of their records is indexed, so a refused or failed pull leaves
// nothing behind. Once a commit was tried (a failed index write may still
// surface after a restart) what is left is garbage for gc.
class DiscardUnlessCommitted {
 public:
  explicit DiscardUnlessCommitted(ChunkWriter& chunks) : chunks_(chunks) {}
  ~DiscardUnlessCommitted() {
    if (!commit_tried_) chunks_.Discard();
  }
  void CommitTried() { commit_tried_ = true; }

 private:
  ChunkWriter& chunks_;
  bool commit_tried_ = false;
};

// The stored layer diff_id, when its TOC decodes (checksum included) and
// every chunk it needs is indexed; nothing when it is absent or damaged
// (a pull then imports it anew). store/pull.cc.
Result<std::optional<LayerToc>> ReusableLayer(ChunkStore& chunks, Index& ix, const Digest& diff_id);

// Deletes (into b) the digest cache records ("f") last used more than
// Store::kDigestRecordMaxAgeDays before now_s, and those too short to say
// (store/digest_records.cc). REQUIRES: the writer session.
Status PruneDigestRecords(Index& ix, uint64_t now_s, Index::Batch* b, uint64_t* removed);

class Store::Impl {
 public:
  StoreOptions opts;
  std::string root, tmp_dir;
  std::unique_ptr<ChunkStore> chunks;  // the chunks, and the index records live in

  Impl(const StoreOptions& o, std::unique_ptr<ChunkStore> c)
      : opts(o), root(o.root), tmp_dir(o.root + "/tmp"), chunks(std::move(c)) {}

  // gc.lock: writers and readers of chunks hold it shared for their whole
  // operation; gc holds it exclusively.
  Result<FileLock> OperationLock() { return chunks->OperationLock(); }
  Result<std::unique_ptr<Index>> Reader() { return chunks->OpenReader(); }
  Result<std::unique_ptr<Index>> Writer() { return chunks->OpenWriter(); }
  // Every write and sync of the store goes through it (StoreOptions::env).
  Env* env() const { return opts.env; }

  // Resolves a name, manifest digest or image-ID prefix to a manifest
  // digest; a name (or digest) of an image list resolves to its child for
  // `platform` (empty: the host's), NotFound listing the list's platforms
  // when none fits.
  Result<Digest> Resolve(Index& ix, const std::string& name, const Platform& platform = {});
  // The same without choosing in a list: the digest of an image (an "i"
  // record) or of a list (an "l" record).
  Result<Digest> ResolveAny(Index& ix, const std::string& name);
  // The list record of index digest d; nullopt when d is not a list.
  Result<std::optional<ImageListRecord>> LoadList(Index& ix, const Digest& d);
  // The index digests of the lists that name image manifest m.
  Result<std::vector<Digest>> ListsOf(Index& ix, const Digest& m);
  // Removes list d and its names, and each child that no name, no other
  // list and no entry of `keep` holds (into b). REQUIRES: the writer session.
  Status RemoveList(Index& ix, const Digest& d, Index::Batch* b, std::vector<std::string>* removed,
                    const std::vector<ImageListChild>& keep = {});
  Result<ImageRecord> LoadRecord(Index& ix, const Digest& manifest);
  // An image stored again under the same manifest (a rebuild, a re-pull)
  // keeps the artifacts attached to it: copies the stored record's
  // referrers into rec, if there is a record that decodes.
  Status KeepReferrers(Index& ix, const Digest& manifest, ImageRecord* rec);
  // The artifacts the source keeps with the image it pulls (src.Referrers of
  // its manifest: an OCI layout's, a registry's), as found: into rec,
  // replacing one of the same artifact type, and their blobs into b
  // (referrers.cc). The caller reads them from the source before it opens
  // the writer session, which a registry's transfers must not hold.
  void AddSourceReferrers(const std::vector<SourceReferrer>& found, ImageRecord* rec,
                          Index::Batch* b);
  Result<std::string> LoadBlob(Index& ix, const Digest& d);
  // Names pointing at a manifest.
  Result<std::vector<std::string>> NamesOf(Index& ix, const Digest& manifest);
  Result<ImageDetails> Details(Index& ix, const Digest& manifest);
  // A chunk source reading through index ix. ix must outlive it.
  std::unique_ptr<ChunkSource> ChunkSourceOver(Index* ix) { return chunks->SourceOver(ix); }
  // Writes one image (layers, config, then the manifest under tag).
  Result<Descriptor> ExportImage(Index& ix, const Digest& manifest, ImageDestination& out,
                                 const std::string& tag, const PushOptions& o);
  // Writes the image's referrers (its attached artifacts) untagged, each
  // with its subject rewritten to `written`, the manifest ExportImage wrote
  // (referrers.cc). For OCI layouts: a registry gets them through the
  // referrers API (registry/referrers.h).
  Status ExportReferrers(Index& ix, const Digest& manifest, ImageDestination& out,
                         const Descriptor& written);
};


}  // namespace cfs
