// Where chunk bytes come from: the local packs, or (later) a registry.
#pragma once

#include <cstring>
#include <string>

#include "layer/toc.h"

namespace cfs {

// Implementations say whether they are thread-safe.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;
  // The uncompressed bytes of chunk c, verified against c.digest and c.size.
  // A mismatch is a Corruption naming the chunk; the bytes are never returned.
  virtual Result<std::string> ReadChunk(const ChunkRef& c) = 0;
  // The same into out[0, c.size) (on failure out holds garbage). Sources
  // that can decompress in place override it; this one copies.
  virtual Status ReadChunkInto(const ChunkRef& c, char* out) {
    ASSIGN_OR_RETURN(std::string data, ReadChunk(c));
    if (data.size() != c.size)
      return Status::Corruption("chunk " + c.digest.ToString() + ": size mismatch");
    std::memcpy(out, data.data(), data.size());
    return Status::Ok();
  }
  // The chunk as one complete zstd frame, exactly as stored, verified to
  // decompress to bytes matching c.digest.
  virtual Result<std::string> ReadFrame(const ChunkRef& c) = 0;
};

}  // namespace cfs
