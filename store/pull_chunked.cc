// Pulling a zstd:chunked layer by parts: its TOC and tar-split first, then
// only the chunks the store lacks, with ranged reads of the blob.
#include "store/pull_chunked.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <zstd.h>

#include "layer/layer_rules.h"
#include "layer/layer_writer.h"

namespace cfs {

namespace {

// Chunks written by this pull first, then the store.
class OverlayChunkSource : public ChunkSource {
 public:
  OverlayChunkSource(const std::unordered_map<Digest, ChunkLoc, DigestHash>& fresh,
                     PackReader* packs, ChunkSource* store)
      : fresh_(fresh), packs_(packs), store_(store) {}
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    auto it = fresh_.find(c.digest);
    if (it != fresh_.end()) return packs_->ReadChunk(c.digest, it->second);
    return store_->ReadChunk(c);
  }
  Result<std::string> ReadFrame(const ChunkRef& c) override {
    auto it = fresh_.find(c.digest);
    if (it == fresh_.end()) return store_->ReadFrame(c);
    ASSIGN_OR_RETURN(std::string frame, packs_->ReadFrame(c.digest, it->second));
    RETURN_IF_ERROR(DecompressVerified(c.digest, frame, it->second.ulen).status());
    return frame;
  }

 private:
  const std::unordered_map<Digest, ChunkLoc, DigestHash>& fresh_;
  PackReader* packs_;
  ChunkSource* store_;
};

}  // namespace

Result<ChunkedLayer> FetchChunkedMetadata(ImageSourceReader& src, const Descriptor& d,
                                          const ChunkedPositions& p, const Digest& diff_id,
                                          const std::string& what) {
  // TOC and tar-split are neighbours: one request for both.
  uint64_t lo = std::min(p.toc_offset, p.split_offset);
  uint64_t hi = std::max(p.toc_offset + p.toc_length, p.split_offset + p.split_length);
  ASSIGN_OR_RETURN(std::string meta, src.ReadBlobRange(d, lo, hi - lo));
  if (meta.size() != hi - lo) return Status::Corruption(what + ": short metadata read");
  std::string_view mv(meta);
  return ParseChunkedLayer(mv.substr(p.toc_offset - lo, p.toc_length),
                           mv.substr(p.split_offset - lo, p.split_length), p, diff_id, d.size,
                           what);
}

namespace {

using FreshChunks = std::unordered_map<Digest, ChunkLoc, DigestHash>;

// The chunks of toc that neither the store nor this pull has (the first
// occurrence of each).
Result<std::vector<size_t>> MissingChunks(const LayerToc& toc, Index& snapshot,
                                          const FreshChunks& fresh) {
  std::unordered_set<Digest, DigestHash> seen;
  std::vector<size_t> firsts, missing;
  std::vector<std::string> keys;
  for (size_t i = 0; i < toc.chunks.size(); i++) {
    const Digest& c = toc.chunks[i].digest;
    if (!seen.insert(c).second || fresh.count(c)) continue;
    firsts.push_back(i);
    keys.push_back(key::Chunk(c));
  }
  ASSIGN_OR_RETURN(auto have, snapshot.MultiGet(keys));
  for (size_t k = 0; k < firsts.size(); k++)
    if (!have[k]) missing.push_back(firsts[k]);
  return missing;
}

// A run of zeros is not in the blob: made and stored here.
Status StoreZeroChunk(const ChunkRef& c, PackWriter& packs, FreshChunks& fresh,
                      LayerImportResult* res) {
  std::string z(c.size, '\0');
  std::string frame(ZSTD_compressBound(z.size()), '\0');
  size_t n = ZSTD_compress(frame.data(), frame.size(), z.data(), z.size(), 3);
  if (ZSTD_isError(n)) return Status::IOError("zstd", EIO);
  frame.resize(n);
  ASSIGN_OR_RETURN(ChunkLoc loc, packs.Append(c.digest, frame, c.size));
  fresh[c.digest] = loc;
  res->chunks_new++;
  res->bytes_new += n;
  return Status::Ok();
}

// The missing chunks (not zero runs) each planned range holds; the ranges
// are sorted and disjoint.
Result<std::vector<std::vector<size_t>>> ChunksByRange(const ChunkedLayer& layer,
                                                       const std::vector<size_t>& missing,
                                                       const std::vector<BlobRange>& plan,
                                                       const std::string& what) {
  std::vector<size_t> order;
  for (size_t i : missing)
    if (!layer.where[i].zeros) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return layer.where[a].offset < layer.where[b].offset;
  });
  std::vector<std::vector<size_t>> in_range(plan.size());
  size_t k = 0;
  for (size_t i : order) {
    const BlobChunk& w = layer.where[i];
    while (k < plan.size() && w.offset >= plan[k].offset + plan[k].length) k++;
    if (k == plan.size() || w.offset < plan[k].offset ||
        w.offset + w.length > plan[k].offset + plan[k].length)
      return Status::Corruption(what + ": chunk ranges overlap oddly");
    in_range[k].push_back(i);
  }
  return in_range;
}

}  // namespace

Result<LayerImportResult> PullChunkedLayer(ImageSourceReader& src, const Descriptor& d,
                                           const ChunkedPositions& p, const Digest& diff_id,
                                           Index& snapshot, PackWriter& packs, PackReader& reader,
                                           ChunkSource& store_chunks, FreshChunks& fresh,
                                           const std::string& what, const ProgressFn& progress) {
  ASSIGN_OR_RETURN(ChunkedLayer layer, FetchChunkedMetadata(src, d, p, diff_id, what));
  {
    // A bad entry is refused before any chunk is fetched.
    LayerRules rules;
    for (const TocEntry& e : layer.toc.entries) RETURN_IF_ERROR(rules.Add(e).Prefix(what));
  }
  LayerImportResult res;
  res.blob_digest = d.digest;
  res.blob_size = d.size;
  ASSIGN_OR_RETURN(std::vector<size_t> missing, MissingChunks(layer.toc, snapshot, fresh));
  std::vector<BlobRange> want;
  for (size_t i : missing) {
    const BlobChunk& w = layer.where[i];
    if (w.zeros) {
      RETURN_IF_ERROR(StoreZeroChunk(layer.toc.chunks[i], packs, fresh, &res));
    } else {
      want.push_back({w.offset, w.length});
    }
  }
  std::vector<BlobRange> plan = PlanRanges(want, 64 << 10, 16 << 20);
  ASSIGN_OR_RETURN(auto in_range, ChunksByRange(layer, missing, plan, what));
  uint64_t total = 0;
  for (const auto& r : plan) total += r.length;
  std::mutex mu;  // guards fresh, res, done
  uint64_t done = 0;
  // Verified before it is stored; stored as it came. Runs on the fetching
  // threads, so checking overlaps the transfers.
  RETURN_IF_ERROR(src.ReadBlobRanges(d, plan, [&](size_t k, std::string got) -> Status {
    if (got.size() != plan[k].length)
      return Status::Corruption(what + ": short range read at " + std::to_string(plan[k].offset));
    for (size_t i : in_range[k]) {
      const BlobChunk& w = layer.where[i];
      const ChunkRef& c = layer.toc.chunks[i];
      std::string_view z = std::string_view(got).substr(w.offset - plan[k].offset, w.length);
      RETURN_IF_ERROR(DecodeBlobChunk(c, z).status().Prefix(what));
      ASSIGN_OR_RETURN(ChunkLoc loc, packs.Append(c.digest, z, c.size));
      std::lock_guard<std::mutex> l(mu);
      fresh[c.digest] = loc;
      res.chunks_new++;
      res.bytes_new += z.size();
    }
    std::lock_guard<std::mutex> l(mu);
    done += plan[k].length;
    if (progress) progress({"chunks", what, done, total});  // serialized by mu
    return Status::Ok();
  }));
  RETURN_IF_ERROR(packs.Sync());

  // The rebuilt tar must hash to the diffID the config names.
  OverlayChunkSource chunks(fresh, &reader, &store_chunks);
  CountingSink sink;
  RETURN_IF_ERROR(WriteLayerBlob(layer.toc, layer.split, chunks, Compression::kNone, sink)
                      .status()
                      .Prefix(what));
  res.toc = std::move(layer.toc);
  res.split = std::move(layer.split);
  return res;
}

Status CommitChunkedLayer(Index& w, const LayerImportResult& r,
                          const std::unordered_map<Digest, ChunkLoc, DigestHash>& fresh) {
  return CommitLayerRecords(w, r, [&](const Digest& d) -> const ChunkLoc* {
    auto it = fresh.find(d);
    return it == fresh.end() ? nullptr : &it->second;
  });
}

}  // namespace cfs
