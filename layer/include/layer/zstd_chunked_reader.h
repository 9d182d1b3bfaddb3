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
  TarSplit split;                // empty unless has_split
  std::vector<BlobChunk> where;  // parallel to toc.chunks
  // False for a layer known from its TOC alone (ParseChunkedToc): enough to
  // serve its files, not to rebuild its tar (toc.tar_size is 0, uname and
  // gname empty); whatever needs the tar fetches the tar-split first.
  bool has_split = true;
};

// The layer from its compressed TOC alone: entries' metadata from the TOC
// JSON (containers/storage's fields), chunk lists and offsets as below;
// has_split false. Verifies the TOC against pos.toc_digest.
Result<ChunkedLayer> ParseChunkedToc(std::string_view toc_z, const ChunkedPositions& pos,
                                     const Digest& diff_id, uint64_t blob_size,
                                     const std::string& what);

// Builds the layer from the compressed TOC and tar-split bytes as fetched.
// Verifies the TOC against pos.toc_digest and the tar-split against the
// TOC's tarSplitDigest; metadata comes from the raw tar headers in the
// tar-split (exactly what an import of the tar would give), chunk lists and
// offsets from the TOC. The TOC's entries must agree with the tar's on what
// a mount shows (type, name, link, mode, owner, mtime, size, device,
// xattrs: what ParseChunkedToc gave a lazy mount is what the layer holds);
// Corruption naming the first entry that differs otherwise. diff_id is the layer's (from the image config); it
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

// Reads a layer's TOC alone with one ranged read (the tar-split and the
// footer stay behind: the annotations say where the TOC is) and parses it
// with ParseChunkedToc.
Result<ChunkedLayer> FetchChunkedToc(const BlobRangeReader& read, uint64_t blob_size,
                                     const ChunkedPositions& p, const Digest& diff_id,
                                     const std::string& what);

// Decompresses a fetched chunk range and checks it against c (size and
// sha256). Corruption naming the chunk otherwise; never returns bad bytes.
Result<std::string> DecodeBlobChunk(const ChunkRef& c, std::string_view zdata);

}  // namespace cfs
