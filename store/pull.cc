// Store::Pull and Store::Load: images from local transports into the store.
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <unordered_set>

#include <algorithm>

#include "layer_import.h"
#include "layer/layer_rules.h"
#include "pull_chunked.h"
#include "store_impl.h"

namespace cfs {

using nlohmann::json;

namespace {

std::string Basename(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto s = p.rfind('/');
  p = s == std::string::npos ? p : p.substr(s + 1);
  auto dot = p.find('.');
  return dot == std::string::npos || dot == 0 ? p : p.substr(0, dot);
}

// The local name for an image pulled without --as: the name the source
// gives it, else "<basename of the path>:<tag>".
std::string DerivedName(const std::string& ref, const std::string& ref_name) {
  if (!ref_name.empty() && ref_name.find(':') != std::string::npos &&
      NormalizeImageName(ref_name).ok())
    return ref_name;
  auto colon = ref.find(':');
  std::string path = colon == std::string::npos ? ref : ref.substr(colon + 1);
  std::string tag = ref_name;
  // oci:DIR:TAG — drop the tag from the path part.
  auto last = path.rfind(':');
  if (last != std::string::npos && path.find('/', last) == std::string::npos) {
    if (tag.empty()) tag = path.substr(last + 1);
    path = path.substr(0, last);
  }
  std::string base = Basename(path);
  for (auto& c : base) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!NormalizeImageName(tag).ok() || tag.find('/') != std::string::npos) tag = "latest";
  if (tag.empty()) tag = "latest";
  return base + ":" + tag;
}

}  // namespace

// The zstd:chunked positions of a layer the source can read by parts.
// Malformed annotations mean a whole-blob import (which verifies everything).
static std::optional<ChunkedPositions> ChunkedPartsOf(ImageSourceReader& src, const Descriptor& d) {
  if (!src.CanReadRanges()) return std::nullopt;
  auto cp = ChunkedPositionsOf(d.annotations, d.size, "layer " + d.digest.ToString());
  if (!cp.ok()) return std::nullopt;
  return *cp;
}

// A stored layer is reused only while its TOC decodes (checksum included)
// and every chunk it needs is indexed: fsck --repair drops chunks that failed
// their check, and the next pull of an image that needs them (or a damaged
// TOC) must store them again. Returns the stored layer's TOC, or nothing
// when the layer is absent or must be imported anew.
Result<std::optional<LayerToc>> ReusableLayer(ChunkStore& chunks, Index& ix,
                                              const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto record, ix.Get(key::Toc(diff_id)));
  if (!record) return std::optional<LayerToc>();
  auto toc = LayerToc::Decode(*record);
  if (!toc.ok()) return std::optional<LayerToc>();  // damaged: imported anew
  ASSIGN_OR_RETURN(std::vector<Digest> absent, chunks.Unindexed(ix, DistinctChunks(*toc)));
  if (!absent.empty()) return std::optional<LayerToc>();
  return std::optional<LayerToc>(std::move(*toc));
}

// A re-pull (the image is stored already) is how users mend a damaged
// image: every chunk of its stored layers is read back, and those that fail
// their check are dropped from the index (in one writer session), so the
// layers holding them are imported anew below and the chunks stored again.
// Returns how many were dropped; ix is refreshed to see it.
static Result<uint64_t> DropDamagedChunks(Store::Impl& impl, Index& ix,
                                          const std::vector<Digest>& diff_ids) {
  DigestSet seen;
  std::vector<Digest> stored;
  for (const Digest& id : diff_ids) {
    ASSIGN_OR_RETURN(auto v, ix.Get(key::Toc(id)));
    if (!v) continue;
    auto toc = LayerToc::Decode(*v);
    if (!toc.ok()) continue;  // imported anew anyway (ReusableLayer)
    for (const auto& c : toc->chunks)
      if (seen.insert(c.digest).second) stored.push_back(c.digest);
  }
  ASSIGN_OR_RETURN(std::vector<Digest> bad, impl.chunks->Damaged(ix, stored));
  if (bad.empty()) return uint64_t{0};
  {
    ASSIGN_OR_RETURN(auto w, impl.Writer());
    Index::Batch b;
    impl.chunks->Drop(bad, &b);
    RETURN_IF_ERROR(w->Write(b));
  }
  RETURN_IF_ERROR(ix.Refresh());
  return uint64_t{bad.size()};
}

// The TOCs of layers [0, n) of img, as the store holds them now (layers of
// this pull included: a fresh reader sees what it committed).
static LowerTocs LowerTocsOf(Store::Impl& impl, const SourceImage& img, size_t n) {
  return [&impl, &img, n]() -> Result<std::vector<std::shared_ptr<const LayerToc>>> {
    std::vector<std::shared_ptr<const LayerToc>> out;
    if (n == 0) return out;
    ASSIGN_OR_RETURN(auto ix, impl.Reader());
    for (size_t i = 0; i < n; i++) {
      ASSIGN_OR_RETURN(auto v, ix->Get(key::Toc(img.diff_ids[i])));
      if (!v) return Status::NotFound("layer " + img.diff_ids[i].ToString() + " left the store");
      ASSIGN_OR_RETURN(LayerToc t, LayerToc::Decode(*v));
      out.push_back(std::make_shared<const LayerToc>(std::move(t)));
    }
    return out;
  };
}

// Zero or missing diffIDs, or a count that is not the layer count.
static Status CheckDiffIds(const SourceImage& img, const std::string& source_desc) {
  if (img.diff_ids.size() != img.layers.size())
    return Status::Corruption(source_desc + ": config lists " +
                              std::to_string(img.diff_ids.size()) + " diff_ids for " +
                              std::to_string(img.layers.size()) + " layers");
  for (size_t i = 0; i < img.diff_ids.size(); i++) {
    if (img.diff_ids[i].IsZero())
      return Status::Corruption(source_desc + ": config: rootfs.diff_ids[" + std::to_string(i) +
                                "] is all zeros");
  }
  return Status::Ok();
}

// One pull of a resolved image: each layer reused, fetched by parts
// (zstd:chunked) or imported whole, each committed to the index as it is
// stored; the image record last. REQUIRES: the operation lock held.
class ImagePull {
 public:
  ImagePull(Store::Impl& impl, ImageSourceReader& src, const SourceImage& img,
            std::unique_ptr<Index> snapshot, const PullOptions& o)
      : impl_(impl), src_(src), img_(img), o_(o), snapshot_(std::move(snapshot)),
        chunks_(impl.chunks->NewWriter(snapshot_.get())), drop_(*chunks_),
        importer_(impl.chunks->chunker(), chunks_.get(), impl.opts.threads),
        store_chunks_(impl.ChunkSourceOver(snapshot_.get())) {}

  Result<PullResult> Run(const std::string& source_desc, const std::string& name);

 private:
  // Tells a remote source which blobs will be read whole, so it can fetch ahead.
  Status Prefetch();
  Result<LayerToc> PullLayer(size_t i, const std::string& what);
  // The layer by parts; nullopt when the source cannot read ranges after all
  // (a registry ignoring Range).
  Result<std::optional<LayerToc>> PullByParts(size_t i, const ChunkedPositions& cp,
                                              const std::string& what);
  // The whole blob, imported like any other layer.
  Result<LayerToc> ImportWhole(size_t i, const std::string& what);
  ProgressFn PhaseProgress(const char* phase, const std::string& what) const;

  Store::Impl& impl_;
  ImageSourceReader& src_;
  const SourceImage& img_;
  const PullOptions& o_;
  std::unique_ptr<Index> snapshot_;
  std::unique_ptr<ChunkWriter> chunks_;  // every chunk this pull stores
  DiscardUnlessCommitted drop_;
  LayerImporter importer_;
  std::unique_ptr<ChunkSource> store_chunks_;
  ImageRecord rec_;
  PullResult res_;
};

ProgressFn ImagePull::PhaseProgress(const char* phase, const std::string& what) const {
  if (!o_.progress) return nullptr;
  return [this, phase, what](const Progress& pr) { o_.progress({phase, what, pr.done, pr.total}); };
}

Status ImagePull::Prefetch() {
  std::vector<Descriptor> need;
  for (size_t i = 0; i < img_.layers.size(); i++) {
    ASSIGN_OR_RETURN(auto have, ReusableLayer(*impl_.chunks, *snapshot_, img_.diff_ids[i]));
    if (have) continue;
    if (ChunkedPartsOf(src_, img_.layers[i])) continue;  // pulled by parts
    need.push_back(img_.layers[i]);
  }
  if (o_.progress) {
    src_.SetProgress([this](const std::string& item, uint64_t done, uint64_t total) {
      o_.progress({"fetch", item, done, total});
    });
  }
  src_.Prefetch(need);
  return Status::Ok();
}

Result<LayerToc> ImagePull::ImportWhole(size_t i, const std::string& what) {
  const Descriptor& d = img_.layers[i];
  ASSIGN_OR_RETURN(auto blob, src_.OpenBlob(d));
  ASSIGN_OR_RETURN(LayerImportResult r, importer_.Import(*blob, d.digest, img_.diff_ids[i], what,
                                                         PhaseProgress("import", what), d.size));
  // Import checked the entries (LayerRules); what is left is the links below.
  RETURN_IF_ERROR(CheckLinksBelow(r.toc, r.links_below, LowerTocsOf(impl_, img_, i)).Prefix(what));
  RETURN_IF_ERROR(chunks_->Sync());
  {
    ASSIGN_OR_RETURN(auto w, impl_.Writer());
    drop_.CommitTried();
    RETURN_IF_ERROR(importer_.Commit(*w, r).Prefix(what));
  }
  rec_.chunks_new += r.chunks_new;
  rec_.bytes_new += r.bytes_new;
  return std::move(r.toc);
}

Result<std::optional<LayerToc>> ImagePull::PullByParts(size_t i, const ChunkedPositions& cp,
                                                       const std::string& what) {
  auto r = PullChunkedLayer(src_, img_.layers[i], cp, img_.diff_ids[i], *chunks_,
                            *store_chunks_, what, PhaseProgress("chunks", what));
  if (!r.ok()) {
    if (r.status().code() == Status::Code::kUnsupported) return std::optional<LayerToc>();
    return r.status();
  }
  RETURN_IF_ERROR(CheckLayer(r->toc, LowerTocsOf(impl_, img_, i)).Prefix(what));
  ASSIGN_OR_RETURN(auto w, impl_.Writer());
  drop_.CommitTried();
  RETURN_IF_ERROR(CommitLayerRecords(*w, *r, *chunks_).Prefix(what));
  rec_.chunks_new += r->chunks_new;
  rec_.bytes_new += r->bytes_new;
  res_.layers_by_parts++;
  return std::optional<LayerToc>(std::move(r->toc));
}

Result<LayerToc> ImagePull::PullLayer(size_t i, const std::string& what) {
  const Descriptor& d = img_.layers[i];
  ASSIGN_OR_RETURN(auto have, ReusableLayer(*impl_.chunks, *snapshot_, img_.diff_ids[i]));
  if (have) {
    res_.layers_reused++;
    if (o_.progress) o_.progress({"reused", what, d.size, d.size});
    return std::move(*have);
  }
  if (std::optional<ChunkedPositions> cp = ChunkedPartsOf(src_, d)) {
    ASSIGN_OR_RETURN(std::optional<LayerToc> toc, PullByParts(i, *cp, what));
    if (toc) return std::move(*toc);
  }
  return ImportWhole(i, what);
}

Result<PullResult> ImagePull::Run(const std::string& source_desc, const std::string& name) {
  res_.name = name;
  rec_.config = img_.config_digest;
  rec_.source = source_desc;
  rec_.manifest_media_type = img_.manifest_media_type;
  rec_.stored_at = static_cast<int64_t>(impl_.env()->NowMicros() / 1000000);
  // First (a damaged one fails the pull before any layer moves), and not in
  // the writer session (a registry's transfers must not hold it).
  ASSIGN_OR_RETURN(std::vector<SourceReferrer> referrers, src_.Referrers(img_.manifest_digest));
  RETURN_IF_ERROR(Prefetch());
  std::unordered_set<Digest, DigestHash> distinct;
  for (size_t i = 0; i < img_.layers.size(); i++) {
    const Descriptor& d = img_.layers[i];
    std::string what = "layer " + std::to_string(i + 1) + "/" + std::to_string(img_.layers.size()) +
                       " " + d.digest.ToString();
    ASSIGN_OR_RETURN(LayerToc toc, PullLayer(i, what));
    LayerSummary ls;
    ls.diff_id = img_.diff_ids[i];
    ls.source_digest = d.digest;
    ls.source_media_type = d.media_type;
    ls.tar_size = toc.tar_size;
    ls.entries = toc.entries.size();
    ls.chunks = toc.chunks.size();
    distinct.reserve(distinct.size() + toc.chunks.size());
    for (const auto& c : toc.chunks) distinct.insert(c.digest);
    rec_.layers.push_back(ls);
  }
  rec_.chunks_total = distinct.size();
  ASSIGN_OR_RETURN(auto w, impl_.Writer());
  RETURN_IF_ERROR(impl_.KeepReferrers(*w, img_.manifest_digest, &rec_));
  Index::Batch b;
  impl_.AddSourceReferrers(referrers, &rec_, &b);
  b.Put(key::Blob(img_.manifest_digest), img_.manifest);
  b.Put(key::Blob(img_.config_digest), img_.config);
  b.Put(key::Image(img_.manifest_digest), rec_.ToJson());
  b.Put(key::Name(name), img_.manifest_digest.ToString());
  RETURN_IF_ERROR(w->Write(b));
  ASSIGN_OR_RETURN(res_.image, impl_.Details(*w, img_.manifest_digest));
  return std::move(res_);
}

// Imports one resolved image from `src`. REQUIRES: the operation lock held.
static Result<PullResult> PullResolved(Store::Impl& impl, ImageSourceReader& src,
                                       const SourceImage& img, const std::string& source_desc,
                                       const std::string& name, const PullOptions& o) {
  RETURN_IF_ERROR(CheckDiffIds(img, source_desc));
  ASSIGN_OR_RETURN(auto snapshot, impl.Reader());
  ASSIGN_OR_RETURN(auto stored, snapshot->Get(key::Image(img.manifest_digest)));
  uint64_t replaced = 0;
  if (stored) {
    ASSIGN_OR_RETURN(replaced, DropDamagedChunks(impl, *snapshot, img.diff_ids));
  }
  ImagePull pull(impl, src, img, std::move(snapshot), o);
  ASSIGN_OR_RETURN(PullResult res, pull.Run(source_desc, name));
  res.chunks_replaced = replaced;
  return res;
}

// A full disk, wherever it struck (packs, index, scratch), is reported as the
// store's: the user frees space there, and gc removes what the failure left.
static Status NoSpaceNamesRoot(const Status& s, const std::string& root) {
  const bool full = s.err() == ENOSPC ||
                    s.message().find(std::strerror(ENOSPC)) != std::string::npos;
  if (s.ok() || !full) return s;
  return s.Prefix("store " + root + " is out of space (free space, then run 'cimg gc')");
}

static Result<PullResult> PullRef(Store::Impl& impl, const std::string& ref,
                                  const PullOptions& o) {
  ASSIGN_OR_RETURN(FileLock op, impl.OperationLock());
  ASSIGN_OR_RETURN(auto src, OpenImageSource(ref, impl.tmp_dir));
  Platform want = o.platform;
  if (want.os.empty() && want.arch.empty()) want = Platform::Host();
  ASSIGN_OR_RETURN(SourceImage img, src->Resolve(want));
  if (!o.platform.os.empty() || !o.platform.arch.empty()) {
    // An explicit --platform must match even a single-platform image.
    try {
      json c = json::parse(img.config);
      std::string os = c.value("os", ""), arch = c.value("architecture", "");
      if ((!o.platform.os.empty() && !os.empty() && os != o.platform.os) ||
          (!o.platform.arch.empty() && !arch.empty() && arch != o.platform.arch))
        return Status::NotFound(ref + ": image is " + os + "/" + arch + ", not " +
                                o.platform.ToString());
    } catch (const std::exception&) {
    }
  }
  std::string name = o.as_name.empty() ? DerivedName(ref, img.ref_name) : o.as_name;
  ASSIGN_OR_RETURN(name, NormalizeImageName(name));
  if (name.rfind("sha256:", 0) == 0) return Status::Invalid("--as needs a name, not a digest");
  return PullResolved(impl, *src, img, ref, name, o);
}

static Result<PullResult> PullFromSource(Store::Impl& impl, ImageSourceReader& src,
                                         const std::string& source_desc,
                                         const std::string& name_in, const PullOptions& o) {
  ASSIGN_OR_RETURN(FileLock op, impl.OperationLock());
  Platform want = o.platform;
  if (want.os.empty() && want.arch.empty()) want = Platform::Host();
  ASSIGN_OR_RETURN(SourceImage img, src.Resolve(want));
  std::string name = o.as_name.empty() ? name_in : o.as_name;
  ASSIGN_OR_RETURN(name, NormalizeImageName(name));
  return PullResolved(impl, src, img, source_desc, name, o);
}

static Result<std::vector<PullResult>> LoadArchive(Store::Impl& impl, const std::string& file,
                                                  const PullOptions& o) {
  ASSIGN_OR_RETURN(FileLock op, impl.OperationLock());
  ASSIGN_OR_RETURN(ArchiveImages archive, OpenArchiveImages(file, impl.tmp_dir));
  Platform want = o.platform;
  if (want.os.empty() && want.arch.empty()) want = Platform::Host();
  std::vector<PullResult> out;
  for (auto& [reader, tag] : archive.images) {
    ASSIGN_OR_RETURN(SourceImage img, reader->Resolve(want));
    std::string name = !img.ref_name.empty() ? img.ref_name : tag;
    if (name.empty() || name.find(':') == std::string::npos || !NormalizeImageName(name).ok())
      name = DerivedName("oci-archive:" + file + (name.empty() ? "" : ":" + name), img.ref_name);
    ASSIGN_OR_RETURN(name, NormalizeImageName(name));
    ASSIGN_OR_RETURN(PullResult r, PullResolved(impl, *reader, img, file, name, o));
    out.push_back(std::move(r));
  }
  return out;
}

Result<PullResult> Store::Pull(const std::string& ref, const PullOptions& o) {
  auto r = PullRef(*impl_, ref, o);
  if (!r.ok()) return NoSpaceNamesRoot(r.status(), impl_->root);
  return r;
}

Result<PullResult> Store::PullFrom(ImageSourceReader& src, const std::string& source_desc,
                                   const std::string& name, const PullOptions& o) {
  auto r = PullFromSource(*impl_, src, source_desc, name, o);
  if (!r.ok()) return NoSpaceNamesRoot(r.status(), impl_->root);
  return r;
}

Result<std::vector<PullResult>> Store::Load(const std::string& file, const PullOptions& o) {
  auto r = LoadArchive(*impl_, file, o);
  if (!r.ok()) return NoSpaceNamesRoot(r.status(), impl_->root);
  return r;
}

}  // namespace cfs
