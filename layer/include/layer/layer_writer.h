// Layer blobs out of the store: the exact uncompressed tar, and its
// compressed forms (gzip, zstd, zstd:chunked — DESIGN.md 4.1).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "layer/chunk_source.h"
#include "base/io.h"
#include "layer/toc.h"

namespace cfs {

enum class Compression { kNone, kGzip, kZstd, kZstdChunked };
Result<Compression> ParseCompression(const std::string& s);  // "gzip", "zstd", "zstd:chunked", "none"
const char* CompressionName(Compression c);

// The OCI descriptor facts of a written layer blob.
struct LayerBlobInfo {
  Digest digest;       // sha256 of the blob bytes as written
  uint64_t size = 0;   // blob bytes
  std::string media_type;  // application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]
  std::map<std::string, std::string> annotations;  // zstd:chunked positions & checksum
  Digest diff_id;      // sha256 of the uncompressed tar (== toc.diff_id)
};

// Writes the layer's uncompressed tar, byte for byte as it was imported.
// Verifies the result against toc.diff_id and toc.tar_size.
Status WriteTar(const LayerToc& toc, const TarSplit& split, ChunkSource& chunks, ByteSink& out);

// Writes the layer as a blob in the given compression and describes it.
// zstd:chunked reuses the stored zstd frames of the chunks without
// recompressing them. level: zstd/gzip level (0 = the format's default).
Result<LayerBlobInfo> WriteLayerBlob(const LayerToc& toc, const TarSplit& split,
                                     ChunkSource& chunks, Compression c, ByteSink& out,
                                     int level = 0);

}  // namespace cfs
