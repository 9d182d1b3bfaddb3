// Where chunk bytes come from: the local packs, or (later) a registry.
#pragma once

#include <string>

#include "store/toc.h"

namespace cfs {

// Implementations say whether they are thread-safe.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // The uncompressed bytes of chunk c, verified against c.digest and c.size.
  // A mismatch is a Corruption naming the chunk; the bytes are never returned.
  virtual Result<std::string> ReadChunk(const ChunkRef& c) = 0;
  // The chunk as one complete zstd frame, exactly as stored, verified to
  // decompress to bytes matching c.digest.
  virtual Result<std::string> ReadFrame(const ChunkRef& c) = 0;
};

}  // namespace cfs
