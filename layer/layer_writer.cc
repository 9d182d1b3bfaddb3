// Layer blobs out of the store. The tar is rebuilt from TarSplit + chunks and
// streamed (one chunk in memory at a time) into the chosen compressor; its
// sha256 is checked against the diffID at the end, so a store that returns a
// wrong chunk yields an error, never a silently different layer.
//
// zstd:chunked (zstd_chunked.cc) falls back to plain zstd — same media type,
// no annotations — when the layer holds something the format cannot
// describe (WriteZstdChunked says Unsupported before writing a byte).
#include "layer/layer_writer.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "layer/zstd_chunked.h"

namespace cfs {

namespace {

constexpr char kMediaTypeTar[] = "application/vnd.oci.image.layer.v1.tar";
constexpr char kMediaTypeTarGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
constexpr char kMediaTypeTarZstd[] = "application/vnd.oci.image.layer.v1.tar+zstd";
constexpr int kZstdWorkers = 2;

std::string LayerName(const LayerToc& toc) { return "layer " + toc.diff_id.ToString(); }

// gzip (RFC 1952) through zlib. zlib's own header carries no name and a zero
// mtime, so equal input gives equal bytes. Close() ends the stream.
class GzipSink : public ByteSink {
 public:
  explicit GzipSink(ByteSink* out) : out_(out), buf_(256 << 10, '\0') {}
  ~GzipSink() override {
    if (initialized_) deflateEnd(&z_);
  }
  GzipSink(const GzipSink&) = delete;
  GzipSink& operator=(const GzipSink&) = delete;

  // level: 1..9, or Z_DEFAULT_COMPRESSION.
  Status Init(int level) {
    // windowBits 15 + 16: a gzip wrapper around a 32 KiB-window deflate.
    if (deflateInit2(&z_, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      return Status::IOError("gzip: cannot initialize deflate", ENOMEM);
    initialized_ = true;
    return Status::Ok();
  }

  using ByteSink::Write;
  Status Write(const void* data, size_t n) override {
    const auto* p = static_cast<const Bytef*>(data);
    while (n > 0) {
      size_t take = std::min<size_t>(n, UINT_MAX / 2);
      z_.next_in = const_cast<Bytef*>(p);
      z_.avail_in = static_cast<uInt>(take);
      RETURN_IF_ERROR(Deflate(Z_NO_FLUSH));
      p += take;
      n -= take;
    }
    return Status::Ok();
  }

  Status Close() override {
    z_.next_in = nullptr;
    z_.avail_in = 0;
    return Deflate(Z_FINISH);
  }

 private:
  Status Deflate(int flush) {
    while (true) {
      z_.next_out = reinterpret_cast<Bytef*>(buf_.data());
      z_.avail_out = static_cast<uInt>(buf_.size());
      int r = deflate(&z_, flush);
      if (r == Z_STREAM_ERROR) return Status::IOError("gzip: deflate failed", EIO);
      size_t have = buf_.size() - z_.avail_out;
      if (have > 0) RETURN_IF_ERROR(out_->Write(buf_.data(), have));
      if (flush == Z_FINISH ? r == Z_STREAM_END : (z_.avail_in == 0 && z_.avail_out != 0))
        return Status::Ok();
    }
  }

  ByteSink* out_;
  z_stream z_{};
  bool initialized_ = false;
  std::string buf_;
};

Status CheckLevel(Compression c, int level) {
  if (level == 0) return Status::Ok();
  if (c == Compression::kGzip && (level < 1 || level > 9))
    return Status::Invalid("gzip level " + std::to_string(level) + ": want 1..9");
  // zstd levels are checked by ZstdFrameSink::Create.
  return Status::Ok();
}

Status WritePlainZstd(const LayerToc& toc, const TarSplit& split, ChunkSource& chunks,
                      ByteSink& out, int level) {
  ASSIGN_OR_RETURN(std::unique_ptr<ZstdFrameSink> z,
                   ZstdFrameSink::Create(&out, level, kZstdWorkers));
  RETURN_IF_ERROR(WriteTar(toc, split, chunks, *z));
  return z->Close();
}

}  // namespace

Result<Compression> ParseCompression(const std::string& s) {
  if (s == "none") return Compression::kNone;
  if (s == "gzip") return Compression::kGzip;
  if (s == "zstd") return Compression::kZstd;
  if (s == "zstd:chunked") return Compression::kZstdChunked;
  return Status::Invalid("unknown compression '" + s + "': want none, gzip, zstd or zstd:chunked");
}

const char* CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kZstd:
      return "zstd";
    case Compression::kZstdChunked:
      return "zstd:chunked";
  }
  return "unknown";
}

Status CheckTarLayout(const LayerToc& toc, const TarSplit& split) {
  const std::string layer = LayerName(toc);
  if (split.headers.size() != toc.entries.size())
    return Status::Corruption(layer + ": tar-split has " + std::to_string(split.headers.size()) +
                              " header runs for " + std::to_string(toc.entries.size()) +
                              " entries");
  for (size_t i = 0; i < toc.entries.size(); i++) {
    const TocEntry& e = toc.entries[i];
    const std::string what = layer + ": entry \"" + e.name + "\"";
    if (split.headers[i].empty()) return Status::Corruption(what + ": no tar header");
    uint64_t end = uint64_t{e.first_chunk} + e.num_chunks;
    if (end > toc.chunks.size())
      return Status::Corruption(what + ": chunks " + std::to_string(e.first_chunk) + ".." +
                                std::to_string(end) + " beyond the TOC's " +
                                std::to_string(toc.chunks.size()));
    uint64_t sum = 0;
    for (uint64_t k = e.first_chunk; k < end; k++) sum += toc.chunks[k].size;
    if (sum != e.size)
      return Status::Corruption(what + ": chunks hold " + std::to_string(sum) +
                                " bytes, entry size is " + std::to_string(e.size));
  }
  for (size_t k = 0; k < split.odd_padding.size(); k++) {
    uint32_t i = split.odd_padding[k].first;
    if (i >= toc.entries.size() || (k > 0 && i <= split.odd_padding[k - 1].first))
      return Status::Corruption(layer + ": tar-split padding for entry " + std::to_string(i) +
                                " out of order or range");
  }
  return Status::Ok();
}

std::string_view TarPaddingCursor::After(uint32_t i, uint64_t payload_size) {
  static const char kZeros[512] = {};
  const auto& odd = split_.odd_padding;
  while (next_odd_ < odd.size() && odd[next_odd_].first < i) next_odd_++;
  if (next_odd_ < odd.size() && odd[next_odd_].first == i) return odd[next_odd_++].second;
  return {kZeros, static_cast<size_t>((512 - payload_size % 512) % 512)};
}

Status RebuiltTarCheck::Verify() {
  Digest got = sha_.Finish();
  if (got == toc_.diff_id && size_ == toc_.tar_size) return Status::Ok();
  return Status::Corruption(LayerName(toc_) + ": rebuilt tar does not match its diffID (got " +
                            got.ToString() + ", " + std::to_string(size_) + " bytes; want " +
                            std::to_string(toc_.tar_size) + " bytes)");
}

Status WriteTar(const LayerToc& toc, const TarSplit& split, ChunkSource& chunks, ByteSink& out) {
  RETURN_IF_ERROR(CheckTarLayout(toc, split));
  RebuiltTarCheck check(toc);
  TarPaddingCursor padding(split);
  auto put = [&](std::string_view bytes) {
    check.Update(bytes);
    return out.Write(bytes);
  };
  for (uint32_t i = 0; i < toc.entries.size(); i++) {
    const TocEntry& e = toc.entries[i];
    RETURN_IF_ERROR(put(split.headers[i]));
    for (uint32_t k = 0; k < e.num_chunks; k++) {
      const ChunkRef& c = toc.chunks[e.first_chunk + k];
      const std::string what = LayerName(toc) + ": entry \"" + e.name + "\"";
      Result<std::string> data = chunks.ReadChunk(c);
      if (!data.ok()) return data.status().Prefix(what);
      if (data->size() != c.size)
        return Status::Corruption(what + ": chunk " + c.digest.ToString() + " came back with " +
                                  std::to_string(data->size()) + " bytes, want " +
                                  std::to_string(c.size));
      RETURN_IF_ERROR(put(*data));
    }
    RETURN_IF_ERROR(put(padding.After(i, e.size)));
  }
  RETURN_IF_ERROR(put(split.trailer));
  return check.Verify();
}

Result<LayerBlobInfo> WriteLayerBlob(const LayerToc& toc, const TarSplit& split,
                                     ChunkSource& chunks, Compression c, ByteSink& out, int level) {
  RETURN_IF_ERROR(CheckLevel(c, level));
  ForwardingSink blob(&out, /*hash=*/true);
  LayerBlobInfo info;
  info.diff_id = toc.diff_id;
  switch (c) {
    case Compression::kNone:
      info.media_type = kMediaTypeTar;
      RETURN_IF_ERROR(WriteTar(toc, split, chunks, blob));
      break;
    case Compression::kGzip: {
      info.media_type = kMediaTypeTarGzip;
      GzipSink gz(&blob);
      RETURN_IF_ERROR(gz.Init(level == 0 ? Z_DEFAULT_COMPRESSION : level));
      RETURN_IF_ERROR(WriteTar(toc, split, chunks, gz));
      RETURN_IF_ERROR(gz.Close());
      break;
    }
    case Compression::kZstd:
      info.media_type = kMediaTypeTarZstd;
      RETURN_IF_ERROR(WritePlainZstd(toc, split, chunks, blob, level));
      break;
    case Compression::kZstdChunked: {
      info.media_type = kMediaTypeTarZstd;
      Status s = WriteZstdChunked(toc, split, chunks, blob, level, &info.annotations);
      if (s.code() == Status::Code::kUnsupported && blob.count() == 0) {
        info.annotations.clear();
        s = WritePlainZstd(toc, split, chunks, blob, level);
      }
      RETURN_IF_ERROR(s);
      break;
    }
  }
  info.digest = blob.Finish();
  info.size = blob.count();
  return info;
}

}  // namespace cfs
