// Reading zstd:chunked layer blobs (layer/FORMAT_zstd_chunked.md) without
// reading them whole: the annotations say where the TOC and the tar-split
// sit; from those two the layer's LayerToc and TarSplit follow, plus where
// each chunk's compressed bytes are in the blob. That is what a partial pull
// (fetch only missing chunks) and a lazy mount need.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "layer/chunk_source.h"
#include "layer/toc.h"

namespace cfs {

// The blob ranges of a zstd:chunked layer, from its descriptor's annotations.
struct ChunkedPositions {
  uint64_t toc_offset = 0, toc_length = 0, toc_ulength = 0;
  uint64_t split_offset = 0, split_length = 0, split_ulength = 0;
  Digest toc_digest;  // sha256 of the compressed TOC bytes: the trust anchor
};

// nullopt when a blob of blob_size bytes with these annotations carries no
// (complete) zstd:chunked annotations; Invalid when they are malformed or
// point outside the blob. what names the blob in errors.
Result<std::optional<ChunkedPositions>> ChunkedPositionsOf(
    const std::map<std::string, std::string>& annotations, uint64_t blob_size,
    const std::string& what);

// Where one chunk lives in the blob: [offset, offset+length) holds zstd
// data decompressing to the chunk. zeros: a run of zero bytes not stored in
// the blob at all.
struct BlobChunk {
  uint64_t offset = 0, length = 0;
  bool zeros = false;
};

struct ChunkedLayer {
  LayerToc toc;
  TarSplit split;
  std::vector<BlobChunk> where;  // parallel to toc.chunks
};

// Builds the layer from the compressed TOC and tar-split bytes as fetched.
// Verifies the TOC against pos.toc_digest and the tar-split against the
// TOC's tarSplitDigest; metadata comes from the raw tar headers in the
// tar-split (exactly what an import of the tar would give), chunk lists and
// offsets from the TOC. diff_id is the layer's (from the image config); it
// is checked when the tar is rebuilt (RebuiltTarCheck), not here.
Result<ChunkedLayer> ParseChunkedLayer(std::string_view toc_z, std::string_view split_z,
                                       const ChunkedPositions& pos, const Digest& diff_id,
                                       uint64_t blob_size, const std::string& what);

// Reads `length` bytes of the blob at `offset` (a ranged read of a source).
using BlobRangeReader = std::function<Result<std::string>(uint64_t offset, uint64_t length)>;

// Reads a layer's TOC and tar-split with one ranged read and parses them
// with ParseChunkedLayer.
Result<ChunkedLayer> FetchChunkedMetadata(const BlobRangeReader& read, uint64_t blob_size,
                                          const ChunkedPositions& p, const Digest& diff_id,
                                          const std::string& what);

// Decompresses a fetched chunk range and checks it against c (size and
// sha256). Corruption naming the chunk otherwise; never returns bad bytes.
Result<std::string> DecodeBlobChunk(const ChunkRef& c, std::string_view zdata);

}  // namespace cfs
