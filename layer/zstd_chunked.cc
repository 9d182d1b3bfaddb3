// zstd frames and the zstd:chunked layer layout (layer/FORMAT_zstd_chunked.md).
//
// The TOC and tar-split metadata must agree with what Go's archive/tar reads
// from our own tar headers: containers/storage compares the two
// (ensureTOCMatchesTarSplit) before it trusts a lazily pulled layer. So the
// TOC's names, modes, ids and times are taken from the raw header blocks in
// the TarSplit, decoded the way Go decodes them, not from the normalized
// TocEntry.
#include "layer/zstd_chunked.h"
#include "base/coding.h"
#include "tar_header.h"

#include <zstd.h>

#include <array>
#include <cstring>
#include <ctime>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_set>
#include <vector>

namespace cfs {

namespace {

using Json = nlohmann::ordered_json;

constexpr uint32_t kSkippableFrameMagic = 0x184D2A50;
constexpr uint32_t kZstdFrameMagic = 0xFD2FB528;
constexpr char kFooterMagic[] = "GNUlInUx";
constexpr size_t kFooterSize = 64;
constexpr uint64_t kManifestTypeCrfs = 1;
constexpr size_t kBlock = kTarBlock;

std::string DumpJson(const Json& j) {
  // Invalid UTF-8 becomes U+FFFD, as Go's encoding/json does.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; k++) {
      uint8_t d = static_cast<uint8_t>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Tar headers as Go's archive/tar reads them.

struct Timestamp {
  int64_t sec = 0;
  int64_t nsec = 0;  // 0 <= nsec < 1e9
};

struct GoHeader {
  char typeflag = 0;
  const char* toc_type = "";  // containers/storage's name for the type
  std::string name, linkname;
  int64_t mode = 0, uid = 0, gid = 0, size = 0, devmajor = 0, devminor = 0;
  Timestamp mtime;
  std::optional<Timestamp> atime, ctime;
  std::map<std::string, std::string> xattrs;  // raw values, sorted by name
};

// A PAX time as Go reads it.
bool ParseGoPaxTime(std::string_view v, Timestamp* t) {
  uint32_t ns = 0;
  if (!ParsePaxTime(v, &t->sec, &ns)) return false;
  t->nsec = ns;
  return true;
}

// A PAX decimal that must fit an int64.
bool ParsePaxInt(std::string_view v, int64_t* out) {
  auto n = ParseTarDecimal(v);
  if (!n || *n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = static_cast<int64_t>(*n);
  return true;
}

// One string field of a header block, or of a long-name record's data.
std::string CutNul(std::string_view s) { return std::string(s.substr(0, s.find('\0'))); }

Status ApplyPax(const std::map<std::string, std::string>& pax, GoHeader* h) {
  for (const auto& [k, v] : pax) {
    bool ok = true;
    if (k == "path") {
      h->name = v;
    } else if (k == "linkpath") {
      h->linkname = v;
    } else if (k == "uid") {
      ok = ParsePaxInt(v, &h->uid);
    } else if (k == "gid") {
      ok = ParsePaxInt(v, &h->gid);
    } else if (k == "size") {
      ok = ParsePaxInt(v, &h->size);
    } else if (k == "mtime") {
      ok = ParseGoPaxTime(v, &h->mtime);
    } else if (k == "atime") {
      ok = ParseGoPaxTime(v, &h->atime.emplace());
    } else if (k == "ctime") {
      ok = ParseGoPaxTime(v, &h->ctime.emplace());
    } else if (k.starts_with("GNU.sparse.")) {
      return Status::Unsupported("a GNU sparse file");
    } else if (k.starts_with("SCHILY.xattr.")) {
      h->xattrs[k.substr(13)] = v;
    }
    if (!ok) return Status::Unsupported("a malformed PAX value for '" + k + "'");
  }
  return Status::Ok();
}

const char* TocTypeName(char typeflag) {
  switch (typeflag) {
    case '0':
      return "reg";
    case '1':
      return "hardlink";
    case '2':
      return "symlink";
    case '3':
      return "char";
    case '4':
      return "block";
    case '5':
      return "dir";
    case '6':
      return "fifo";
    default:
      return nullptr;
  }
}

// Decodes the entry header itself (the last block of the run).
Status ParseEntryBlock(std::string_view block, GoHeader* h) {
  const char* blk = block.data();
  auto num = [blk](TarField f, int64_t* out) {
    auto v = ParseTarNumber(blk, f, TarOctal::kGo);
    if (v) *out = *v;
    return v.has_value();
  };
  h->typeflag = blk[tar::kTypeflag];
  h->name = std::string(TarString(blk, tar::kName));
  h->linkname = std::string(TarString(blk, tar::kLinkname));
  int64_t mtime = 0;
  if (!num(tar::kMode, &h->mode) || !num(tar::kUid, &h->uid) || !num(tar::kGid, &h->gid) ||
      !num(tar::kSize, &h->size) || !num(tar::kMtime, &mtime))
    return Status::Unsupported("a malformed numeric header field");
  h->mtime = {mtime, 0};
  std::string_view magic = block.substr(tar::kMagic.off, tar::kMagic.len);
  std::string_view version = block.substr(tar::kVersion.off, tar::kVersion.len);
  bool ustar = magic == std::string_view("ustar\0", 6);
  bool gnu = magic == "ustar " && version == std::string_view(" \0", 2);
  if (ustar && block.substr(508, 4) == std::string_view("tar\0", 4))
    return Status::Unsupported("a star-format header");
  if ((ustar || gnu) && (!num(tar::kDevMajor, &h->devmajor) || !num(tar::kDevMinor, &h->devminor)))
    return Status::Unsupported("a malformed device number");
  if (ustar) {
    std::string_view prefix = TarString(blk, tar::kPrefix);
    if (!prefix.empty()) h->name = std::string(prefix) + "/" + h->name;
  }
  if (gnu) {  // GNU keeps atime/ctime where ustar has its prefix
    int64_t t = 0;
    if (blk[tar::kGnuAtime.off] != 0 && num(tar::kGnuAtime, &t)) h->atime = Timestamp{t, 0};
    if (blk[tar::kGnuCtime.off] != 0 && num(tar::kGnuCtime, &t)) h->ctime = Timestamp{t, 0};
  }
  return Status::Ok();
}

// Parses one entry's header run (extension headers, then the entry header).
// Unsupported names what zstd:chunked cannot carry.
Status ParseGoHeader(std::string_view raw, GoHeader* h) {
  *h = GoHeader();
  std::map<std::string, std::string> pax;
  std::optional<std::string> long_name, long_link;
  size_t pos = 0;
  while (true) {
    if (raw.size() - pos < kBlock) return Status::Unsupported("a header run that ends early");
    std::string_view blk = raw.substr(pos, kBlock);
    pos += kBlock;
    char type = blk[tar::kTypeflag];
    if (type != 'x' && type != 'g' && type != 'L' && type != 'K') {
      if (pos != raw.size()) return Status::Unsupported("blocks after the entry header");
      RETURN_IF_ERROR(ParseEntryBlock(blk, h));
      break;
    }
    int64_t size = ParseTarNumber(blk.data(), tar::kSize, TarOctal::kGo).value_or(-1);
    if (size < 0 ||
        static_cast<uint64_t>(size) > raw.size() - pos)
      return Status::Unsupported("an extension header longer than its run");
    if (type == 'g') return Status::Unsupported("a global PAX header");
    std::string_view data = raw.substr(pos, static_cast<size_t>(size));
    pos += (static_cast<size_t>(size) + kBlock - 1) / kBlock * kBlock;
    if (pos > raw.size()) return Status::Unsupported("an extension header longer than its run");
    if (type == 'x') {
      pax.clear();  // a later PAX header replaces an earlier one
      PaxRecords recs;
      if (!ParsePaxRecords(data, &recs)) return Status::Unsupported("a malformed PAX record");
      for (auto& [k, v] : recs) pax[k] = std::move(v);
    } else if (type == 'L') {
      long_name = CutNul(data);
    } else {
      long_link = CutNul(data);
    }
  }
  RETURN_IF_ERROR(ApplyPax(pax, h));
  if (long_name) h->name = *long_name;
  if (long_link) h->linkname = *long_link;
  if (h->typeflag == '\0') h->typeflag = h->name.ends_with('/') ? '5' : '0';
  h->toc_type = TocTypeName(h->typeflag);
  if (h->toc_type == nullptr)
    return Status::Unsupported(std::string("tar type '") + h->typeflag + "'");
  return Status::Ok();
}

// RFC 3339 in UTC with the fraction trimmed, as Go's time.Time marshals.
Result<std::string> FormatTime(const Timestamp& t) {
  std::tm tm{};
  time_t s = static_cast<time_t>(t.sec);
  if (gmtime_r(&s, &tm) == nullptr || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999)
    return Status::Unsupported("a timestamp outside the years 0-9999");
  char buf[48];
  int n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out(buf, static_cast<size_t>(n));
  if (t.nsec != 0) {
    std::snprintf(buf, sizeof(buf), "%09lld", static_cast<long long>(t.nsec));
    std::string frac(buf);
    frac.erase(frac.find_last_not_of('0') + 1);
    out += "." + frac;
  }
  return out + "Z";
}

// The TOC fields that describe the entry (not where its data is), in
// containers/storage's field order, zero values left out.
Result<Json> EntryMetadata(const GoHeader& h) {
  Json j;
  j["type"] = h.toc_type;
  j["name"] = h.name;
  if (!h.linkname.empty()) j["linkName"] = h.linkname;
  if (h.mode) j["mode"] = h.mode;
  if (h.size) j["size"] = h.size;
  if (h.uid) j["uid"] = h.uid;
  if (h.gid) j["gid"] = h.gid;
  ASSIGN_OR_RETURN(j["modtime"], FormatTime(h.mtime));
  if (h.atime) {
    ASSIGN_OR_RETURN(j["accesstime"], FormatTime(*h.atime));
  }
  if (h.ctime) {
    ASSIGN_OR_RETURN(j["changetime"], FormatTime(*h.ctime));
  }
  if (h.devmajor) j["devMajor"] = h.devmajor;
  if (h.devminor) j["devMinor"] = h.devminor;
  if (!h.xattrs.empty()) {
    Json x = Json::object();
    for (const auto& [k, v] : h.xattrs) x[k] = Base64Encode(v);
    j["xattrs"] = std::move(x);
  }
  return j;
}

// Everything zstd:chunked needs from the layer, checked before the first
// byte is written so the caller can still choose plain zstd.
Status CheckDescribable(const LayerToc& toc, const TarSplit& split) {
  if (!split.odd_padding.empty()) {
    const TocEntry& e = toc.entries[split.odd_padding.front().first];
    return Status::Unsupported("entry \"" + e.name + "\": non-standard tar padding");
  }
  std::string_view end_blocks = std::string_view(split.trailer).substr(0, 2 * kBlock);
  if (end_blocks.find_first_not_of('\0') != std::string_view::npos)
    return Status::Unsupported("headers before the end-of-archive blocks");
  std::unordered_set<std::string_view> names;
  GoHeader h;
  for (size_t i = 0; i < toc.entries.size(); i++) {
    const TocEntry& e = toc.entries[i];
    const std::string what = "entry \"" + e.name + "\"";
    RETURN_IF_ERROR(ParseGoHeader(split.headers[i], &h).Prefix(what));
    RETURN_IF_ERROR(EntryMetadata(h).status().Prefix(what));
    if (static_cast<uint64_t>(h.size) != e.size)
      return Status::Unsupported(what + ": header size " + std::to_string(h.size) +
                                 " differs from its payload size " + std::to_string(e.size));
    if (e.size > 0 && std::strcmp(h.toc_type, "reg") != 0)
      return Status::Unsupported(what + ": payload on a non-regular entry");
    if (!names.insert(e.name).second)
      return Status::Unsupported(what + ": the path occurs twice in the layer");
  }
  return Status::Ok();
}

struct DCtxFree {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One entry's payload chunk as written to the blob.
struct WrittenChunk {
  uint64_t chunk_offset;  // bytes into the file
  uint64_t offset, end;   // the frame in the blob
  const ChunkRef* ref;
};

// Writes one zstd:chunked blob. Single use.
class ChunkedBlobWriter {
 public:
  ChunkedBlobWriter(const LayerToc& toc, const TarSplit& split, ChunkSource& chunks, ByteSink& out)
      : toc_(toc),
        split_(split),
        chunks_(chunks),
        blob_(&out),
        padding_(split),
        tar_(toc),
        toc_sink_(&toc_z_),
        ts_sink_(&ts_z_) {}

  Status Run(int level, std::map<std::string, std::string>* annotations);

 private:
  Status WriteEntry(uint32_t i);
  Status WritePayload(const TocEntry& e, std::vector<WrittenChunk>* written, Digest* digest,
                      uint64_t* crc);
  Status ReadChunkFrame(const ChunkRef& c, std::string* frame);
  Status AddTocEntry(const Json& j);
  Status AddTarSplit(const Json& j);
  Status AddSegment(std::string_view a, std::string_view b);
  Status WriteSkippable(std::string_view payload);
  std::string What(const TocEntry& e) const {
    return "layer " + toc_.diff_id.ToString() + ": entry \"" + e.name + "\"";
  }

  const LayerToc& toc_;
  const TarSplit& split_;
  ChunkSource& chunks_;
  ForwardingSink blob_;  // counts: the blob offset
  TarPaddingCursor padding_;
  RebuiltTarCheck tar_;
  std::unique_ptr<ZstdFrameSink> meta_;  // tar headers, padding and trailer
  std::unique_ptr<ZstdFrameSink> toc_json_, ts_json_;
  std::string toc_z_, ts_z_;  // compressed TOC and tar-split
  StringSink toc_sink_, ts_sink_;
  uint64_t toc_len_ = 0, ts_len_ = 0;  // uncompressed bytes
  int ts_position_ = 0;
  bool first_toc_entry_ = true;
  std::string_view prev_padding_;
  std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx_{ZSTD_createDCtx()};
  std::string chunk_buf_;
};

Status ChunkedBlobWriter::AddTocEntry(const Json& j) {
  std::string s = (first_toc_entry_ ? "" : ",") + DumpJson(j);
  first_toc_entry_ = false;
  toc_len_ += s.size();
  return toc_json_->Write(s);
}

Status ChunkedBlobWriter::AddTarSplit(const Json& j) {
  std::string s = DumpJson(j) + "\n";
  ts_len_ += s.size();
  return ts_json_->Write(s);
}

// A tar-split "segment" (type 2): raw bytes between payloads.
Status ChunkedBlobWriter::AddSegment(std::string_view a, std::string_view b) {
  Json j;
  j["type"] = 2;
  j["payload"] = Base64Encode(std::string(a) + std::string(b));
  j["position"] = ts_position_++;
  return AddTarSplit(j);
}

Status ChunkedBlobWriter::WriteSkippable(std::string_view payload) {
  std::string hdr;
  PutFixed32(&hdr, kSkippableFrameMagic);
  PutFixed32(&hdr, static_cast<uint32_t>(payload.size()));
  RETURN_IF_ERROR(blob_.Write(hdr));
  return blob_.Write(payload);
}

// Reads chunk c's stored frame and decompresses it into chunk_buf_, checking
// it is exactly one zstd frame holding c.size bytes.
Status ChunkedBlobWriter::ReadChunkFrame(const ChunkRef& c, std::string* frame) {
  const std::string what = "chunk " + c.digest.ToString();
  ASSIGN_OR_RETURN(*frame, chunks_.ReadFrame(c));
  if (frame->size() < 4 || DecodeFixed32(frame->data()) != kZstdFrameMagic)
    return Status::Corruption(what + ": stored frame is not a zstd frame");
  size_t fs = ZSTD_findFrameCompressedSize(frame->data(), frame->size());
  if (ZSTD_isError(fs) || fs != frame->size())
    return Status::Corruption(what + ": stored frame is not exactly one zstd frame");
  chunk_buf_.resize(c.size);
  size_t n =
      ZSTD_decompressDCtx(dctx_.get(), chunk_buf_.data(), c.size, frame->data(), frame->size());
  if (ZSTD_isError(n) || n != c.size)
    return Status::Corruption(what + ": stored frame does not hold " + std::to_string(c.size) +
                              " bytes");
  return Status::Ok();
}

// Each chunk's stored frame is copied as it is; the file's first frame starts
// at the current offset because the header frame was ended before.
Status ChunkedBlobWriter::WritePayload(const TocEntry& e, std::vector<WrittenChunk>* written,
                                       Digest* digest, uint64_t* crc) {
  Sha256 file_sha;
  uint64_t in_file = 0;
  std::string frame;
  for (uint32_t k = 0; k < e.num_chunks; k++) {
    const ChunkRef& c = toc_.chunks[e.first_chunk + k];
    RETURN_IF_ERROR(ReadChunkFrame(c, &frame).Prefix(What(e)));
    file_sha.Update(chunk_buf_);
    tar_.Update(chunk_buf_);
    *crc = Crc64Iso(*crc, chunk_buf_.data(), chunk_buf_.size());
    uint64_t offset = blob_.count();
    RETURN_IF_ERROR(blob_.Write(frame));
    written->push_back({in_file, offset, blob_.count(), &c});
    in_file += c.size;
  }
  *digest = file_sha.Finish();
  return Status::Ok();
}

Status ChunkedBlobWriter::WriteEntry(uint32_t i) {
  const TocEntry& e = toc_.entries[i];
  const std::string& headers = split_.headers[i];
  GoHeader h;
  RETURN_IF_ERROR(ParseGoHeader(headers, &h).Prefix(What(e)));
  ASSIGN_OR_RETURN(Json main, EntryMetadata(h));
  RETURN_IF_ERROR(meta_->Write(headers));
  tar_.Update(headers);
  RETURN_IF_ERROR(AddSegment(prev_padding_, headers));

  std::vector<WrittenChunk> written;
  uint64_t crc = 0;
  if (e.size > 0) {
    RETURN_IF_ERROR(meta_->Close());  // the payload starts a new frame
    Digest digest;
    RETURN_IF_ERROR(WritePayload(e, &written, &digest, &crc));
    main["digest"] = digest.ToString();
    main["offset"] = written.front().offset;
    main["endOffset"] = written.back().end;
    if (written.size() > 1) {  // the "reg" entry describes the first chunk
      main["chunkSize"] = written.front().ref->size;
      main["chunkDigest"] = written.front().ref->digest.ToString();
    }
  }
  RETURN_IF_ERROR(AddTocEntry(main));
  for (size_t k = 1; k < written.size(); k++) {
    const WrittenChunk& w = written[k];
    Json j;
    j["type"] = "chunk";
    j["name"] = h.name;
    j["offset"] = w.offset;
    j["endOffset"] = w.end;
    j["chunkSize"] = w.ref->size;
    j["chunkOffset"] = w.chunk_offset;
    j["chunkDigest"] = w.ref->digest.ToString();
    RETURN_IF_ERROR(AddTocEntry(j));
  }

  // The tar-split "file" (type 1) entry, with the payload's CRC-64.
  Json f;
  f["type"] = 1;
  if (IsValidUtf8(h.name)) {
    f["name"] = h.name;
  } else {
    f["name_raw"] = Base64Encode(h.name);
  }
  if (h.size) f["size"] = h.size;
  if (h.size > 0) {
    std::string sum;
    for (int b = 7; b >= 0; b--) sum.push_back(static_cast<char>(crc >> (8 * b)));
    f["payload"] = Base64Encode(sum);
  } else {
    f["payload"] = nullptr;
  }
  f["position"] = ts_position_++;
  RETURN_IF_ERROR(AddTarSplit(f));

  prev_padding_ = padding_.After(i, e.size);
  tar_.Update(prev_padding_);
  return meta_->Write(prev_padding_);
}

Status ChunkedBlobWriter::Run(int level, std::map<std::string, std::string>* annotations) {
  if (!dctx_) return Status::IOError("zstd: cannot create a decompression context", ENOMEM);
  ASSIGN_OR_RETURN(meta_, ZstdFrameSink::Create(&blob_, level, 0));
  ASSIGN_OR_RETURN(toc_json_, ZstdFrameSink::Create(&toc_sink_, level, 0));
  ASSIGN_OR_RETURN(ts_json_, ZstdFrameSink::Create(&ts_sink_, level, 0));
  const std::string head = R"({"version":1,"entries":[)";
  toc_len_ += head.size();
  RETURN_IF_ERROR(toc_json_->Write(head));

  for (uint32_t i = 0; i < toc_.entries.size(); i++) RETURN_IF_ERROR(WriteEntry(i));

  // As tar-split records it: the last padding with the two end-of-archive
  // blocks, then whatever follows them.
  std::string_view trailer = split_.trailer;
  size_t end_blocks = std::min<size_t>(trailer.size(), 2 * kBlock);
  RETURN_IF_ERROR(AddSegment(prev_padding_, trailer.substr(0, end_blocks)));
  RETURN_IF_ERROR(AddSegment(trailer.substr(end_blocks), ""));
  RETURN_IF_ERROR(meta_->Write(trailer));
  tar_.Update(trailer);
  RETURN_IF_ERROR(meta_->Close());
  RETURN_IF_ERROR(tar_.Verify());

  RETURN_IF_ERROR(ts_json_->Close());
  const std::string tail = R"(],"tarSplitDigest":")" + Digest::Of(ts_z_).ToString() + R"("})";
  toc_len_ += tail.size();
  RETURN_IF_ERROR(toc_json_->Write(tail));
  RETURN_IF_ERROR(toc_json_->Close());

  const uint64_t toc_offset = blob_.count() + 8;
  RETURN_IF_ERROR(WriteSkippable(toc_z_));
  const uint64_t ts_offset = blob_.count() + 8;
  RETURN_IF_ERROR(WriteSkippable(ts_z_));
  std::string footer;
  for (uint64_t v : {toc_offset, uint64_t{toc_z_.size()}, toc_len_, kManifestTypeCrfs, ts_offset,
                     uint64_t{ts_z_.size()}, ts_len_})
    PutFixed64(&footer, v);
  footer.append(kFooterMagic, 8);
  static_assert(sizeof(kFooterMagic) - 1 + 7 * 8 == kFooterSize);
  RETURN_IF_ERROR(WriteSkippable(footer));

  auto str = [](uint64_t v) { return std::to_string(v); };
  (*annotations)[kZstdChunkedManifestChecksumKey] = Digest::Of(toc_z_).ToString();
  (*annotations)[kZstdChunkedManifestPositionKey] = str(toc_offset) + ":" + str(toc_z_.size()) +
                                                    ":" + str(toc_len_) + ":" +
                                                    str(kManifestTypeCrfs);
  (*annotations)[kZstdChunkedTarSplitPositionKey] =
      str(ts_offset) + ":" + str(ts_z_.size()) + ":" + str(ts_len_);
  (*annotations)[kZstdChunkedOldManifestChecksumKey] = (*annotations)[kZstdChunkedManifestChecksumKey];
  (*annotations)[kZstdChunkedOldManifestPositionKey] = (*annotations)[kZstdChunkedManifestPositionKey];
  return Status::Ok();
}

}  // namespace

// ---------------------------------------------------------------------------

ZstdFrameSink::ZstdFrameSink(ByteSink* out, void* cctx)
    : out_(out), cctx_(cctx), buf_(ZSTD_CStreamOutSize(), '\0') {}

ZstdFrameSink::~ZstdFrameSink() { ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(cctx_)); }

Result<std::unique_ptr<ZstdFrameSink>> ZstdFrameSink::Create(ByteSink* out, int level,
                                                             int workers) {
  if (level == 0) level = 3;
  if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
    return Status::Invalid("zstd level " + std::to_string(level) + ": want " +
                           std::to_string(ZSTD_minCLevel()) + ".." +
                           std::to_string(ZSTD_maxCLevel()));
  ZSTD_CCtx* c = ZSTD_createCCtx();
  if (c == nullptr) return Status::IOError("zstd: cannot create a compression context", ENOMEM);
  std::unique_ptr<ZstdFrameSink> sink(new ZstdFrameSink(out, c));
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  // A libzstd built without threads refuses; it then compresses inline.
  if (workers > 0) ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, workers);
  return sink;
}

Status ZstdFrameSink::Drive(const void* data, size_t n, bool end) {
  auto* c = static_cast<ZSTD_CCtx*>(cctx_);
  ZSTD_inBuffer in{data, n, 0};
  while (true) {
    ZSTD_outBuffer out{buf_.data(), buf_.size(), 0};
    size_t left = ZSTD_compressStream2(c, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
    if (ZSTD_isError(left))
      return Status::IOError(std::string("zstd: ") + ZSTD_getErrorName(left), EIO);
    if (out.pos > 0) RETURN_IF_ERROR(out_->Write(buf_.data(), out.pos));
    if (end ? left == 0 : in.pos == in.size) return Status::Ok();
  }
}

Status ZstdFrameSink::Write(const void* data, size_t n) {
  if (n == 0) return Status::Ok();
  pending_ += n;
  return Drive(data, n, false);
}

Status ZstdFrameSink::Close() {
  if (pending_ == 0) return Status::Ok();
  pending_ = 0;
  return Drive(nullptr, 0, true);
}

uint64_t Crc64Iso(uint64_t crc, const void* data, size_t n) {
  static const std::array<uint64_t, 256> kTable = [] {
    constexpr uint64_t kPoly = 0xD800000000000000ull;  // ISO 3309, reversed
    std::array<uint64_t, 256> t{};
    for (uint64_t i = 0; i < 256; i++) {
      uint64_t v = i;
      for (int b = 0; b < 8; b++) v = (v & 1) ? (v >> 1) ^ kPoly : v >> 1;
      t[i] = v;
    }
    return t;
  }();
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = kTable[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

Status WriteZstdChunked(const LayerToc& toc, const TarSplit& split, ChunkSource& chunks,
                        ByteSink& out, int level, std::map<std::string, std::string>* annotations) {
  const std::string layer = "layer " + toc.diff_id.ToString();
  RETURN_IF_ERROR(CheckTarLayout(toc, split));
  RETURN_IF_ERROR(CheckDescribable(toc, split).Prefix(layer + ": zstd:chunked cannot describe"));
  ChunkedBlobWriter w(toc, split, chunks, out);
  return w.Run(level, annotations);
}

}  // namespace cfs
