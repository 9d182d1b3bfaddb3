// Where chunk bytes come from: the local packs, or (later) a registry.
#pragma once

#include <cstring>
#include <string>

#include "layer/toc.h"

struct ZSTD_DCtx_s;

namespace cfs {

// A chunk is one zstd frame when stored or sent; every read decodes it
// with these and checks size and SHA-256, so bad bytes are never returned.
//
// Decompresses frame, which holds chunk d of ulen bytes, and verifies it:
// Corruption naming the chunk otherwise.
Result<std::string> DecompressVerified(const Digest& d, std::string_view frame, uint32_t ulen);
// The same into out[0, ulen); on failure out holds garbage.
Status DecompressVerifiedInto(const Digest& d, std::string_view frame, uint32_t ulen, char* out);
// The checks of DecompressVerifiedInto, for a caller that decompressed by
// itself into out (the chunk store, from mapped packs under a SIGBUS guard):
// zstd_result is what the zstd call returned.
Status CheckDecodedChunk(const Digest& d, size_t zstd_result, const char* out, uint32_t ulen);
// This thread's zstd decompression context, made once per thread.
ZSTD_DCtx_s* ThreadZstdDCtx();

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
