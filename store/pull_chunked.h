// Partial pulls of zstd:chunked layers: only chunks the store lacks cross
// the wire. Private to store/ (pull.cc).
#pragma once

#include <unordered_map>
#include <vector>

#include "store/chunked_layer.h"
#include "store/index.h"
#include "store/layer_import.h"
#include "store/pack.h"

namespace cfs {


// Fetches the chunks neither the store (snapshot) nor this pull (fresh) has,
// verifies each, appends it to packs as it came (fresh gets its location),
// syncs, and checks the rebuilt tar against diff_id. store_chunks reads the
// chunks the store already had.
Result<LayerImportResult> PullChunkedLayer(ImageSourceReader& src, const Descriptor& d,
                                           const ChunkedPositions& p, const Digest& diff_id,
                                           Index& snapshot, PackWriter& packs, PackReader& reader,
                                           ChunkSource& store_chunks,
                                           std::unordered_map<Digest, ChunkLoc, DigestHash>& fresh,
                                           const std::string& what, const ProgressFn& progress);

// Indexes the layer's chunks that are new (from fresh) and stores TOC and
// tar-split, in writer session w.
Status CommitChunkedLayer(Index& w, const LayerImportResult& r,
                          const std::unordered_map<Digest, ChunkLoc, DigestHash>& fresh);

}  // namespace cfs
