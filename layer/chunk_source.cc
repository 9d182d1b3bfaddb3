#include "layer/chunk_source.h"

#include <zstd.h>

namespace cfs {

ZSTD_DCtx* ThreadZstdDCtx() {
  // ZSTD_decompress() would allocate and initialise a fresh context for
  // every chunk.
  struct DCtx {
    ZSTD_DCtx* p = ZSTD_createDCtx();
    ~DCtx() { ZSTD_freeDCtx(p); }
  };
  thread_local DCtx dctx;
  return dctx.p;
}

Status CheckDecodedChunk(const Digest& d, size_t zstd_result, const char* out, uint32_t ulen) {
  if (ZSTD_isError(zstd_result) || zstd_result != ulen)
    return Status::Corruption("chunk " + d.ToString() + ": cannot decompress (" +
                              (ZSTD_isError(zstd_result) ? ZSTD_getErrorName(zstd_result)
                                                         : "wrong size") +
                              ")");
  if (Digest::Of(out, ulen) != d)
    return Status::Corruption("chunk " + d.ToString() + ": digest mismatch");
  return Status::Ok();
}

Status DecompressVerifiedInto(const Digest& d, std::string_view frame, uint32_t ulen, char* out) {
  size_t r = ZSTD_decompressDCtx(ThreadZstdDCtx(), out, ulen, frame.data(), frame.size());
  return CheckDecodedChunk(d, r, out, ulen);
}

Result<std::string> DecompressVerified(const Digest& d, std::string_view frame, uint32_t ulen) {
  std::string out(ulen, '\0');
  RETURN_IF_ERROR(DecompressVerifiedInto(d, frame, ulen, out.data()));
  return out;
}

}  // namespace cfs
