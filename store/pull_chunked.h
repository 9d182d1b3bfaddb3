// Partial pulls of zstd:chunked layers: only chunks the store lacks cross
// the wire. Private to store/ (pull.cc).
#pragma once

#include "chunkstore/chunk_store.h"
#include "layer/zstd_chunked_reader.h"
#include "layer_import.h"

namespace cfs {

// Fetches the chunks neither the store nor this pull (chunks) has, verifies
// each and stores it as it came, syncs, and checks the rebuilt tar against
// diff_id. store_chunks reads the chunks the store already had. Commit the
// result with CommitLayerRecords.
Result<LayerImportResult> PullChunkedLayer(ImageSourceReader& src, const Descriptor& d,
                                           const ChunkedPositions& p, const Digest& diff_id,
                                           ChunkWriter& chunks, ChunkSource& store_chunks,
                                           const std::string& what, const ProgressFn& progress);

}  // namespace cfs
