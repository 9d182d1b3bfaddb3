#include "layer/zstd_chunked_reader.h"

#include <zstd.h>

#include <deque>
#include <map>
#include <nlohmann/json.hpp>

#include "base/coding.h"
#include "layer/tar_reader.h"
#include "layer/zstd_chunked.h"
#include "zstd_chunked_toc.h"

namespace cfs {

using nlohmann::json;

namespace {

constexpr uint64_t kMaxToc = 256ull << 20;
constexpr uint64_t kMaxSplit = 1ull << 30;

Result<uint64_t> ParseU64(std::string_view s, const std::string& what) {
  if (s.empty() || s.size() > 20) return Status::Invalid(what + ": bad number");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Status::Invalid(what + ": bad number");
    uint64_t n = v * 10 + static_cast<uint64_t>(c - '0');
    if (n / 10 != v) return Status::Invalid(what + ": number too large");
    v = n;
  }
  return v;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    auto p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

Result<std::string> Decompress(std::string_view z, uint64_t ulen, uint64_t max,
                               const std::string& what) {
  if (ulen > max) return Status::Invalid(what + ": " + std::to_string(ulen) + " bytes is too large");
  std::string out(ulen, '\0');
  size_t r = ZSTD_decompress(out.data(), out.size(), z.data(), z.size());
  if (ZSTD_isError(r)) return Status::Corruption(what + ": zstd: " + ZSTD_getErrorName(r));
  if (r != ulen)
    return Status::Corruption(what + ": " + std::to_string(r) + " bytes, want " +
                              std::to_string(ulen));
  return out;
}

Result<std::string> B64(std::string_view in, const std::string& what) {
  auto r = Base64Decode(in);
  if (!r.ok()) return Status::Corruption(what + ": bad base64");
  return r;
}

// The tar as the tar-split describes it, with every payload replaced by
// zeros: TarReader parses the real headers from it.
class SyntheticTar : public ByteSource {
 public:
  struct Piece {
    std::string bytes;   // raw segment, or
    uint64_t zeros = 0;  // a payload of this many bytes
  };
  explicit SyntheticTar(std::deque<Piece> pieces) : pieces_(std::move(pieces)) {}
  Result<size_t> Read(void* buf, size_t n) override {
    auto* out = static_cast<char*>(buf);
    size_t done = 0;
    while (done < n && !pieces_.empty()) {
      Piece& p = pieces_.front();
      if (!p.bytes.empty()) {
        size_t k = std::min(n - done, p.bytes.size() - pos_);
        std::memcpy(out + done, p.bytes.data() + pos_, k);
        pos_ += k;
        done += k;
        if (pos_ == p.bytes.size()) {
          pieces_.pop_front();
          pos_ = 0;
        }
      } else if (p.zeros) {
        size_t k = static_cast<size_t>(std::min<uint64_t>(n - done, p.zeros));
        std::memset(out + done, 0, k);
        p.zeros -= k;
        done += k;
        if (p.zeros == 0) pieces_.pop_front();
      } else {
        pieces_.pop_front();
      }
    }
    total_ += done;
    return done;
  }
  uint64_t total() const { return total_; }

 private:
  std::deque<Piece> pieces_;
  size_t pos_ = 0;
  uint64_t total_ = 0;
};

struct FileChunks {
  uint64_t size = 0;
  std::vector<ChunkRef> refs;
  std::vector<BlobChunk> where;
};

uint64_t U64(const json& e, const char* k) {
  if (!e.contains(k)) return 0;
  const json& v = e[k];
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return static_cast<uint64_t>(v.get<int64_t>());
  return UINT64_MAX;  // caught by the range checks
}

std::string Str(const json& e, const char* k) {
  return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : "";
}

// Chunks of every regular file in the TOC, by normalized name (a name may
// repeat: a queue per name, consumed in tar order).
class TocChunkReader {
 public:
  TocChunkReader(uint64_t data_end, const std::string& what) : data_end_(data_end), what_(what) {}

  Result<std::map<std::string, std::deque<FileChunks>>> Run(const json& entries) {
    for (const auto& e : entries) {
      if (!e.is_object()) return Status::Corruption(what_ + ": TOC entry is not an object");
      std::string type = Str(e, "type");
      if (type == "chunk") {
        RETURN_IF_ERROR(Chunk(e));
        continue;
      }
      RETURN_IF_ERROR(Finish());
      if (type == "reg") RETURN_IF_ERROR(Reg(e));
    }
    RETURN_IF_ERROR(Finish());
    return std::move(out_);
  }

 private:
  Status Bad(const std::string& why) const {
    return Status::Corruption(what_ + ": " + cur_name_ + ": " + why);
  }

  // A "reg" entry: a file, with its first chunk.
  Status Reg(const json& e) {
    uint64_t size = U64(e, "size");
    if (size == 0) return Status::Ok();  // no data
    auto name = NormalizeEntryName(Str(e, "name"));
    if (!name.ok()) return Status::Corruption(what_ + ": TOC: " + name.status().message());
    auto& q = out_[*name];
    q.emplace_back();
    cur_ = &q.back();
    cur_name_ = *name;
    cur_->size = size;
    uint64_t off = U64(e, "offset"), end = U64(e, "endOffset");
    if (end < off || end > data_end_) return Bad("file range outside the blob's data");
    cur_end_ = end;
    uint64_t csize = U64(e, "chunkSize");
    ChunkRef ref;
    BlobChunk w;
    w.offset = off;
    if (csize == 0 || csize == size) {
      if (size > UINT32_MAX) return Bad("chunk too large");
      auto d = Digest::Parse(Str(e, "chunkDigest").empty() ? Str(e, "digest") : Str(e, "chunkDigest"));
      if (!d.ok()) return Bad("bad digest");
      ref.digest = *d;
      ref.size = static_cast<uint32_t>(size);
      w.length = end - off;
    } else {
      if (csize > UINT32_MAX || csize > size) return Bad("bad chunkSize");
      auto d = Digest::Parse(Str(e, "chunkDigest"));
      if (!d.ok()) return Bad("bad chunkDigest");
      ref.digest = *d;
      ref.size = static_cast<uint32_t>(csize);
      w.length = UINT64_MAX;  // up to the next chunk
    }
    cur_->refs.push_back(ref);
    cur_->where.push_back(w);
    return Status::Ok();
  }

  // A "chunk" entry: the next chunk of the current file.
  Status Chunk(const json& e) {
    if (!cur_) return Status::Corruption(what_ + ": chunk entry without a file before it");
    uint64_t coff = U64(e, "chunkOffset"), csize = U64(e, "chunkSize");
    uint64_t have = 0;
    for (const auto& r : cur_->refs) have += r.size;
    if (coff != have || csize == 0 || csize > UINT32_MAX)
      return Bad("chunk at " + std::to_string(coff) + " does not follow the previous one");
    ChunkRef ref;
    ref.size = static_cast<uint32_t>(csize);
    BlobChunk w;
    if (Str(e, "chunkType") == "zeros") {
      w.zeros = true;
      std::string z(csize, '\0');
      ref.digest = Digest::Of(z);
    } else {
      auto d = Digest::Parse(Str(e, "chunkDigest"));
      if (!d.ok()) return Bad("bad chunkDigest");
      ref.digest = *d;
      w.offset = U64(e, "offset");
      w.length = e.contains("endOffset") ? U64(e, "endOffset") - w.offset : UINT64_MAX;
      if (e.contains("endOffset") && U64(e, "endOffset") < w.offset)
        return Bad("endOffset before offset");
    }
    cur_->refs.push_back(ref);
    cur_->where.push_back(w);
    return Status::Ok();
  }

  // Closes the current file: chunk ends and sizes checked.
  Status Finish() {
    if (!cur_) return Status::Ok();
    uint64_t sum = 0;
    for (size_t i = 0; i < cur_->refs.size(); i++) {
      BlobChunk& w = cur_->where[i];
      if (!w.zeros && w.length == UINT64_MAX) {
        // No endOffset: ends where the next chunk starts, or at the file's end.
        uint64_t end = cur_end_;
        for (size_t j = i + 1; j < cur_->where.size(); j++)
          if (!cur_->where[j].zeros) {
            end = cur_->where[j].offset;
            break;
          }
        if (end < w.offset) return Bad("chunk offsets go backwards");
        w.length = end - w.offset;
      }
      if (!w.zeros && (w.length == 0 || w.offset + w.length > data_end_ || w.offset + w.length < w.offset))
        return Bad("chunk range outside the blob's data");
      sum += cur_->refs[i].size;
    }
    if (sum != cur_->size)
      return Bad("chunks add up to " + std::to_string(sum) + " bytes, the file has " +
                 std::to_string(cur_->size));
    cur_ = nullptr;
    return Status::Ok();
  }

  const uint64_t data_end_;
  const std::string& what_;
  std::map<std::string, std::deque<FileChunks>> out_;
  FileChunks* cur_ = nullptr;
  std::string cur_name_;
  uint64_t cur_end_ = 0;  // the reg entry's endOffset
};

}  // namespace

Result<std::optional<ChunkedPositions>> ChunkedPositionsOf(
    const std::map<std::string, std::string>& annotations, uint64_t blob_size,
    const std::string& blob) {
  const std::string what = blob + ": zstd:chunked annotations";
  auto find = [&](const char* k) -> const std::string* {
    auto it = annotations.find(k);
    return it == annotations.end() ? nullptr : &it->second;
  };
  // A value under its newer or its older name; both present must agree.
  auto either = [&](const char* key, const char* old_key) -> Result<const std::string*> {
    const std::string* v = find(key);
    const std::string* old = find(old_key);
    if (v && old && *v != *old)
      return Status::Invalid(what + ": " + key + " and " + old_key + " differ");
    return v ? v : old;
  };
  ASSIGN_OR_RETURN(const std::string* sum,
                   either(kZstdChunkedManifestChecksumKey, kZstdChunkedOldManifestChecksumKey));
  ASSIGN_OR_RETURN(const std::string* mpos,
                   either(kZstdChunkedManifestPositionKey, kZstdChunkedOldManifestPositionKey));
  const std::string* tpos = find(kZstdChunkedTarSplitPositionKey);
  // Without a tar-split (the older variant) the tar cannot be rebuilt from
  // parts: such a layer is read whole.
  if (!sum || !mpos || !tpos) return std::optional<ChunkedPositions>();
  ChunkedPositions p;
  auto dg = Digest::Parse(*sum);
  if (!dg.ok()) return Status::Invalid(what + ": bad manifest-checksum");
  p.toc_digest = *dg;
  auto m = Split(*mpos, ':');
  auto t = Split(*tpos, ':');
  if (m.size() != 4 || t.size() != 3) return Status::Invalid(what + ": bad position");
  ASSIGN_OR_RETURN(p.toc_offset, ParseU64(m[0], what));
  ASSIGN_OR_RETURN(p.toc_length, ParseU64(m[1], what));
  ASSIGN_OR_RETURN(p.toc_ulength, ParseU64(m[2], what));
  if (m[3] != "1") return Status::Unsupported(what + ": manifest type " + std::string(m[3]));
  ASSIGN_OR_RETURN(p.split_offset, ParseU64(t[0], what));
  ASSIGN_OR_RETURN(p.split_length, ParseU64(t[1], what));
  ASSIGN_OR_RETURN(p.split_ulength, ParseU64(t[2], what));
  auto inside = [&](uint64_t off, uint64_t len) {
    return off <= blob_size && len <= blob_size - off;
  };
  if (!inside(p.toc_offset, p.toc_length) || !inside(p.split_offset, p.split_length))
    return Status::Invalid(what + ": position outside the blob");
  if (p.toc_length == 0 || p.toc_length > kMaxToc || p.split_length > kMaxSplit)
    return Status::Invalid(what + ": implausible TOC or tar-split length");
  return std::optional<ChunkedPositions>(p);
}

namespace {

// The TOC's JSON, checked against its digest, and the tar-split digest it names.
Result<json> LoadToc(std::string_view toc_z, const ChunkedPositions& pos, Digest* split_digest,
                     const std::string& what) {
  if (Digest::Of(toc_z) != pos.toc_digest)
    return Status::Corruption(what + ": TOC does not match the manifest-checksum annotation");
  ASSIGN_OR_RETURN(std::string toc_bytes, Decompress(toc_z, pos.toc_ulength, kMaxToc, what + ": TOC"));
  json toc;
  try {
    toc = json::parse(toc_bytes);
  } catch (const std::exception& e) {
    return Status::Corruption(what + ": TOC is not JSON: " + e.what());
  }
  if (!toc.is_object() || !toc.contains("entries") || !toc["entries"].is_array())
    return Status::Corruption(what + ": TOC has no entries");
  std::string tsd = Str(toc, "tarSplitDigest");
  if (tsd.empty())
    return Status::Unsupported(what + ": TOC names no tar-split digest (old zstd:chunked variant)");
  auto want_split = Digest::Parse(tsd);
  if (!want_split.ok()) return Status::Corruption(what + ": bad tarSplitDigest");
  *split_digest = *want_split;
  return toc;
}

// The tar-split (JSON lines), as the pieces of a tar with zero payloads.
Result<std::deque<SyntheticTar::Piece>> SplitPieces(const std::string& split_bytes,
                                                    const std::string& what) {
  std::deque<SyntheticTar::Piece> pieces;
  size_t start = 0;
  uint64_t line_no = 0;
  while (start < split_bytes.size()) {
    size_t nl = split_bytes.find('\n', start);
    std::string_view line(split_bytes.data() + start,
                          (nl == std::string::npos ? split_bytes.size() : nl) - start);
    start = nl == std::string::npos ? split_bytes.size() : nl + 1;
    line_no++;
    if (line.empty()) continue;
    const std::string where = what + ": tar-split line " + std::to_string(line_no);
    json j;
    try {
      j = json::parse(line);
    } catch (const std::exception& e) {
      return Status::Corruption(where + ": " + e.what());
    }
    int type = j.value("type", 0);
    if (type == 2) {
      ASSIGN_OR_RETURN(std::string raw, B64(Str(j, "payload"), where));
      if (!raw.empty()) pieces.push_back({std::move(raw), 0});
    } else if (type == 1) {
      uint64_t size = U64(j, "size");
      if (size == UINT64_MAX) return Status::Corruption(what + ": tar-split: bad size");
      if (size) pieces.push_back({std::string(), size});
    } else {
      return Status::Corruption(where + ": unknown type " + std::to_string(type));
    }
  }
  return pieces;
}

// Gives regular file e its chunks from the TOC (consumed in tar order).
Status AttachChunks(TocEntry& e, std::map<std::string, std::deque<FileChunks>>& chunks,
                    ChunkedLayer* out, const std::string& what) {
  auto it = chunks.find(e.name);
  if (it == chunks.end() || it->second.empty())
    return Status::Corruption(what + ": TOC has no data for " + e.name);
  FileChunks fc = std::move(it->second.front());
  it->second.pop_front();
  if (fc.size != e.size)
    return Status::Corruption(what + ": " + e.name + ": TOC size " + std::to_string(fc.size) +
                              ", tar size " + std::to_string(e.size));
  e.first_chunk = static_cast<uint32_t>(out->toc.chunks.size());
  e.num_chunks = static_cast<uint32_t>(fc.refs.size());
  for (size_t i = 0; i < fc.refs.size(); i++) {
    out->toc.chunks.push_back(fc.refs[i]);
    out->where.push_back(fc.where[i]);
  }
  return Status::Ok();
}

}  // namespace

namespace {

// The layer as its TOC alone describes it (toc: LoadToc's), tar_size 0.
Result<ChunkedLayer> TocLayer(const json& toc, const ChunkedPositions& pos, const Digest& diff_id,
                              uint64_t blob_size, const std::string& what) {
  // Data frames end where the first metadata frame begins.
  uint64_t data_end = std::min(pos.toc_offset, pos.split_offset);
  data_end = data_end >= 8 ? data_end - 8 : 0;
  data_end = std::min(data_end, blob_size);
  ASSIGN_OR_RETURN(auto chunks, TocChunkReader(data_end, what).Run(toc["entries"]));
  ASSIGN_OR_RETURN(std::vector<TocEntry> entries, TocEntriesOf(toc["entries"], what));
  ChunkedLayer out;
  out.toc.diff_id = diff_id;
  out.has_split = false;
  for (TocEntry& e : entries) {
    if (e.type == EntryType::kRegular && e.size > 0) RETURN_IF_ERROR(AttachChunks(e, chunks, &out, what));
    out.toc.entries.push_back(std::move(e));
  }
  return out;
}

}  // namespace

Result<ChunkedLayer> ParseChunkedToc(std::string_view toc_z, const ChunkedPositions& pos,
                                     const Digest& diff_id, uint64_t blob_size,
                                     const std::string& what) {
  Digest want_split;
  ASSIGN_OR_RETURN(json toc, LoadToc(toc_z, pos, &want_split, what));
  return TocLayer(toc, pos, diff_id, blob_size, what);
}

Result<ChunkedLayer> ParseChunkedLayer(std::string_view toc_z, std::string_view split_z,
                                       const ChunkedPositions& pos, const Digest& diff_id,
                                       uint64_t blob_size, const std::string& what) {
  Digest want_split;
  ASSIGN_OR_RETURN(json toc, LoadToc(toc_z, pos, &want_split, what));
  if (Digest::Of(split_z) != want_split)
    return Status::Corruption(what + ": tar-split does not match the TOC's tarSplitDigest");
  ASSIGN_OR_RETURN(std::string split_bytes,
                   Decompress(split_z, pos.split_ulength, kMaxSplit, what + ": tar-split"));
  ASSIGN_OR_RETURN(ChunkedLayer out, TocLayer(toc, pos, diff_id, blob_size, what));
  ASSIGN_OR_RETURN(auto pieces, SplitPieces(split_bytes, what));
  SyntheticTar tar(std::move(pieces));
  TarReader reader(&tar);
  std::vector<TocEntry> from_tar;
  while (true) {
    TocEntry e;
    ASSIGN_OR_RETURN(bool more, reader.Next(&e));
    if (!more) break;
    from_tar.push_back(std::move(e));
  }
  // What a lazy mount served (the TOC's) is what the layer holds; the
  // metadata kept is the tar's own (uname, gname: the TOC has none).
  RETURN_IF_ERROR(CheckTocMatchesTar(out.toc.entries, from_tar, what));
  for (size_t i = 0; i < from_tar.size(); i++) {
    from_tar[i].first_chunk = out.toc.entries[i].first_chunk;
    from_tar[i].num_chunks = out.toc.entries[i].num_chunks;
  }
  out.toc.entries = std::move(from_tar);
  out.toc.tar_size = tar.total();
  out.split = reader.TakeSplit();
  out.has_split = true;
  return out;
}

Result<ChunkedLayer> FetchChunkedMetadata(const BlobRangeReader& read, uint64_t blob_size,
                                          const ChunkedPositions& p, const Digest& diff_id,
                                          const std::string& what) {
  // TOC and tar-split are neighbours: one request for both.
  uint64_t lo = std::min(p.toc_offset, p.split_offset);
  uint64_t hi = std::max(p.toc_offset + p.toc_length, p.split_offset + p.split_length);
  ASSIGN_OR_RETURN(std::string meta, read(lo, hi - lo));
  if (meta.size() != hi - lo) return Status::Corruption(what + ": short metadata read");
  std::string_view mv(meta);
  return ParseChunkedLayer(mv.substr(p.toc_offset - lo, p.toc_length),
                           mv.substr(p.split_offset - lo, p.split_length), p, diff_id, blob_size,
                           what);
}

Result<ChunkedLayer> FetchChunkedToc(const BlobRangeReader& read, uint64_t blob_size,
                                     const ChunkedPositions& p, const Digest& diff_id,
                                     const std::string& what) {
  ASSIGN_OR_RETURN(std::string toc_z, read(p.toc_offset, p.toc_length));
  if (toc_z.size() != p.toc_length) return Status::Corruption(what + ": short TOC read");
  return ParseChunkedToc(toc_z, p, diff_id, blob_size, what);
}

Result<std::string> DecodeBlobChunk(const ChunkRef& c, std::string_view zdata) {
  return DecompressVerified(c.digest, zdata, c.size);
}

}  // namespace cfs
