// Pulling a zstd:chunked layer by parts: its TOC and tar-split first, then
// only the chunks the store lacks, with ranged reads of the blob.
#include "pull_chunked.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <zstd.h>

#include "layer/layer_rules.h"
#include "layer/layer_writer.h"

namespace cfs {

namespace {

// The chunks of toc that neither the store nor this pull has (the index of
// the first occurrence of each).
Result<std::vector<size_t>> MissingChunks(const LayerToc& toc, ChunkWriter& chunks) {
  std::unordered_map<Digest, size_t, DigestHash> first;
  std::vector<Digest> order;
  for (size_t i = 0; i < toc.chunks.size(); i++)
    if (first.emplace(toc.chunks[i].digest, i).second) order.push_back(toc.chunks[i].digest);
  ASSIGN_OR_RETURN(std::vector<Digest> lacking, chunks.Lacking(order));
  std::vector<size_t> missing;
  for (const auto& d : lacking) missing.push_back(first[d]);
  return missing;
}

// A run of zeros is not in the blob: made and stored here.
Status StoreZeroChunk(const ChunkRef& c, ChunkWriter& chunks, LayerImportResult* res) {
  ASSIGN_OR_RETURN(uint64_t added, chunks.Put(c.digest, std::string(c.size, '\0')));
  if (added > 0) {
    res->chunks_new++;
    res->bytes_new += added;
  }
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
                                           ChunkWriter& chunks, ChunkSource& store_chunks,
                                           const std::string& what, const ProgressFn& progress) {
  ASSIGN_OR_RETURN(ChunkedLayer layer, FetchChunkedMetadata(
                       [&](uint64_t off, uint64_t len) { return src.ReadBlobRange(d, off, len); },
                       d.size, p, diff_id, what));
  {
    // A bad entry is refused before any chunk is fetched.
    LayerRules rules;
    for (const TocEntry& e : layer.toc.entries) RETURN_IF_ERROR(rules.Add(e).Prefix(what));
  }
  LayerImportResult res;
  res.blob_digest = d.digest;
  res.blob_size = d.size;
  ASSIGN_OR_RETURN(std::vector<size_t> missing, MissingChunks(layer.toc, chunks));
  std::vector<BlobRange> want;
  for (size_t i : missing) {
    const BlobChunk& w = layer.where[i];
    if (w.zeros) {
      RETURN_IF_ERROR(StoreZeroChunk(layer.toc.chunks[i], chunks, &res));
    } else {
      want.push_back({w.offset, w.length});
    }
  }
  std::vector<BlobRange> plan = PlanRanges(want, 64 << 10, 16 << 20);
  ASSIGN_OR_RETURN(auto in_range, ChunksByRange(layer, missing, plan, what));
  uint64_t total = 0;
  for (const auto& r : plan) total += r.length;
  std::mutex mu;  // guards res, done
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
      ASSIGN_OR_RETURN(uint64_t added, chunks.PutFrame(c, z));
      if (added == 0) continue;
      std::lock_guard<std::mutex> l(mu);
      res.chunks_new++;
      res.bytes_new += added;
    }
    std::lock_guard<std::mutex> l(mu);
    done += plan[k].length;
    if (progress) progress({"chunks", what, done, total});  // serialized by mu
    return Status::Ok();
  }));
  RETURN_IF_ERROR(chunks.Sync());

  // The rebuilt tar must hash to the diffID the config names.
  std::unique_ptr<ChunkSource> all = chunks.Over(&store_chunks);
  CountingSink sink;
  RETURN_IF_ERROR(WriteLayerBlob(layer.toc, layer.split, *all, Compression::kNone, sink)
                      .status()
                      .Prefix(what));
  res.toc = std::move(layer.toc);
  res.split = std::move(layer.split);
  return res;
}

}  // namespace cfs
