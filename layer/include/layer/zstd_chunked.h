// The zstd:chunked writer: the zstd side of layer_writer.cc — a streaming
// zstd frame sink, the zstd:chunked blob writer (layer/FORMAT_zstd_chunked.md),
// and the small pieces of tar layout both writers share. Its reader (from
// blob ranges: partial pulls, lazy mounts) is store/zstd_chunked_reader.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "layer/chunk_source.h"
#include "base/digest.h"
#include "base/io.h"
#include "layer/toc.h"

namespace cfs {

// Layer annotations of a zstd:chunked blob (containers/storage
// pkg/chunked/internal/minimal). Offsets point at the skippable frames'
// payloads, not at their 8-byte headers.
inline constexpr char kZstdChunkedManifestChecksumKey[] =
    "io.github.containers.zstd-chunked.manifest-checksum";
inline constexpr char kZstdChunkedManifestPositionKey[] =
    "io.github.containers.zstd-chunked.manifest-position";
inline constexpr char kZstdChunkedTarSplitPositionKey[] =
    "io.github.containers.zstd-chunked.tarsplit-position";
// The names containers/storage used up to v1.43 (Debian 12's podman 4.3 and
// skopeo 1.9), which know no tar-split: same values as the two above. We
// write both sets; readers take either (the tar-split position exists only
// under its newer name).
inline constexpr char kZstdChunkedOldManifestChecksumKey[] =
    "io.containers.zstd-chunked.manifest-checksum";
inline constexpr char kZstdChunkedOldManifestPositionKey[] =
    "io.containers.zstd-chunked.manifest-position";

// The next three are defined in layer_writer.cc.

// Checks that toc and split describe one tar: a header run per entry, chunk
// ranges inside toc.chunks whose sizes add up to each entry's size, and
// odd_padding sorted with indexes of existing entries. Corruption otherwise.
Status CheckTarLayout(const LayerToc& toc, const TarSplit& split);

// Yields padding(i) of TarSplit's layout for i = 0, 1, 2, ... in order.
class TarPaddingCursor {
 public:
  explicit TarPaddingCursor(const TarSplit& split) : split_(split) {}
  // REQUIRES: i is larger than at the previous call.
  std::string_view After(uint32_t i, uint64_t payload_size);

 private:
  const TarSplit& split_;
  size_t next_odd_ = 0;
};

// Hashes the rebuilt tar and checks it against toc.diff_id/toc.tar_size.
class RebuiltTarCheck {
 public:
  explicit RebuiltTarCheck(const LayerToc& toc) : toc_(toc) {}
  void Update(std::string_view bytes) {
    sha_.Update(bytes);
    size_ += bytes.size();
  }
  // Corruption("layer sha256:…: rebuilt tar does not match its diffID") on a
  // mismatch. Call once, at the end.
  Status Verify();

 private:
  const LayerToc& toc_;
  Sha256 sha_;
  uint64_t size_ = 0;
};

// Compresses what is written into zstd frames on `out`: bytes written between
// two Close() calls form one frame (Close() ends it; a Close() with nothing
// written since emits nothing). Frames carry a content checksum. Not
// thread-safe.
class ZstdFrameSink : public ByteSink {
 public:
  // level 0 means 3. workers > 0 compresses with that many zstd threads (the
  // output is the same for any workers >= 1, but differs from workers == 0).
  static Result<std::unique_ptr<ZstdFrameSink>> Create(ByteSink* out, int level, int workers);
  ~ZstdFrameSink() override;
  ZstdFrameSink(const ZstdFrameSink&) = delete;
  ZstdFrameSink& operator=(const ZstdFrameSink&) = delete;
  using ByteSink::Write;
  Status Write(const void* data, size_t n) override;
  Status Close() override;

 private:
  ZstdFrameSink(ByteSink* out, void* cctx);
  Status Drive(const void* data, size_t n, bool end);
  ByteSink* out_;
  void* cctx_;  // ZSTD_CCtx*
  std::string buf_;
  uint64_t pending_ = 0;  // bytes written into the open frame
};

// Writes the layer as a zstd:chunked blob to `out` (the blob's first byte is
// the first byte written to out) and sets the three position/checksum
// annotations, plus the older names of the first two. Chunk payloads are the stored frames from chunks.ReadFrame,
// copied verbatim, one frame per chunk.
// Returns Unsupported before writing anything when the layer cannot be
// described faithfully in zstd:chunked (a global PAX header, a tar type the
// format has no name for, odd padding, sparse files, …); the caller may then
// write plain zstd instead. Other errors may come after bytes were written:
// the caller must discard the output.
Status WriteZstdChunked(const LayerToc& toc, const TarSplit& split, ChunkSource& chunks,
                        ByteSink& out, int level, std::map<std::string, std::string>* annotations);

// CRC-64/ISO as Go's hash/crc64 computes it (tar-split's file checksums).
uint64_t Crc64Iso(uint64_t crc, const void* data, size_t n);

}  // namespace cfs
