#include "layer/toc.h"

#include <sys/stat.h>

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string_view>

namespace cfs {

uint32_t EntryTypeBits(EntryType t) {
  switch (t) {
    case EntryType::kRegular:
    case EntryType::kHardlink: return S_IFREG;
    case EntryType::kDirectory: return S_IFDIR;
    case EntryType::kSymlink: return S_IFLNK;
    case EntryType::kChar: return S_IFCHR;
    case EntryType::kBlock: return S_IFBLK;
    case EntryType::kFifo: return S_IFIFO;
  }
  return S_IFREG;
}

const char* EntryTypeName(EntryType t) {
  switch (t) {
    case EntryType::kRegular:
      return "regular";
    case EntryType::kDirectory:
      return "directory";
    case EntryType::kSymlink:
      return "symlink";
    case EntryType::kHardlink:
      return "hardlink";
    case EntryType::kChar:
      return "char";
    case EntryType::kBlock:
      return "block";
    case EntryType::kFifo:
      return "fifo";
  }
  return "unknown";
}

namespace {

}  // namespace

Result<std::string> NormalizeEntryName(std::string_view name) {
  if (name.empty()) return Status::Invalid("empty entry name in layer");
  if (name.find('\0') != std::string_view::npos) {
    return Status::Invalid("NUL byte in entry name " + QuoteForMessage(name));
  }
  if (name.front() == '/') return Status::Invalid("absolute path " + QuoteForMessage(name) + " in layer");
  std::string out;
  out.reserve(name.size());
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view comp = name.substr(pos, slash - pos);
    pos = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp == "..") return Status::Invalid("entry name " + QuoteForMessage(name) + " contains \"..\"");
    if (!out.empty()) out += '/';
    out.append(comp);
  }
  if (out.empty()) out = ".";  // ".", "./", ".//." ...: the layer root
  return out;
}

// ---------------------------------------------------------------------------
// Binary encoding (store/FORMAT.md "Layer TOC", "Tar-split").

namespace {

constexpr char kTocMagic[4] = {'C', 'T', 'O', 'C'};
constexpr char kSplitMagic[4] = {'C', 'T', 'S', 'P'};
// Version 2 appends a SHA-256 of the body before it, checked on decode, so
// a record altered behind RocksDB's back (its own checksums pass) is caught
// before anything is served from it. Version 1 (no check) is still read.
constexpr uint8_t kVersion = 2;
constexpr uint8_t kVersionUnchecked = 1;
constexpr size_t kCheckBytes = 32;
constexpr uint64_t kMaxDecoded = uint64_t{1} << 30;  // 1 GiB
constexpr int kZstdLevel = 3;

class Encoder {
 public:
  void Byte(uint8_t b) { out_ += static_cast<char>(b); }
  void Raw(std::string_view s) { out_.append(s); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<uint8_t>(v));
  }
  void Signed(int64_t v) {  // zigzag
    Varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  void String(std::string_view s) {
    Varint(s.size());
    Raw(s);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

// Reads the uncompressed body. Every method checks the bytes that remain, so
// no length taken from the input is trusted before it is validated.
class Decoder {
 public:
  Decoder(std::string_view data, const char* what) : data_(data), what_(what) {}

  Status Error(const std::string& msg) const {
    return Status::Corruption(std::string(what_) + ": " + msg + " at byte " + std::to_string(pos_));
  }
  size_t remaining() const { return data_.size() - pos_; }

  Status Raw(size_t n, std::string_view* out, const char* field) {
    if (n > remaining()) return Error(std::string("truncated ") + field);
    *out = data_.substr(pos_, n);
    pos_ += n;
    return Status::Ok();
  }
  Status Byte(uint8_t* b, const char* field) {
    std::string_view v;
    RETURN_IF_ERROR(Raw(1, &v, field));
    *b = static_cast<uint8_t>(v[0]);
    return Status::Ok();
  }
  Status Varint(uint64_t* v, const char* field) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b;
      RETURN_IF_ERROR(Byte(&b, field));
      if (shift == 63 && b > 1) return Error(std::string("varint overflow in ") + field);
      x |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *v = x;
        return Status::Ok();
      }
    }
    return Error(std::string("varint too long in ") + field);
  }
  Status U32(uint32_t* v, const char* field) {
    uint64_t x;
    RETURN_IF_ERROR(Varint(&x, field));
    if (x > std::numeric_limits<uint32_t>::max()) {
      return Error(std::string(field) + " out of range");
    }
    *v = static_cast<uint32_t>(x);
    return Status::Ok();
  }
  Status Signed(int64_t* v, const char* field) {
    uint64_t x;
    RETURN_IF_ERROR(Varint(&x, field));
    *v = static_cast<int64_t>((x >> 1) ^ (~(x & 1) + 1));
    return Status::Ok();
  }
  Status String(std::string* s, const char* field) {
    uint64_t n;
    RETURN_IF_ERROR(Varint(&n, field));
    if (n > remaining()) return Error(std::string("length of ") + field + " past end");
    std::string_view v;
    RETURN_IF_ERROR(Raw(static_cast<size_t>(n), &v, field));
    s->assign(v);
    return Status::Ok();
  }
  // Reads an element count; each element takes at least min_bytes, so a
  // count the remaining input cannot hold is rejected before any reserve().
  Status Count(uint64_t* n, size_t min_bytes, const char* field) {
    RETURN_IF_ERROR(Varint(n, field));
    if (*n > remaining() / min_bytes) return Error(std::string(field) + " count too large");
    return Status::Ok();
  }
  Status Header(const char (&magic)[4]) {
    std::string_view m;
    RETURN_IF_ERROR(Raw(4, &m, "magic"));
    if (m != std::string_view(magic, 4)) return Error("bad magic");
    uint8_t version;
    RETURN_IF_ERROR(Byte(&version, "version"));
    if (version != kVersion && version != kVersionUnchecked)
      return Error("unsupported version " + std::to_string(version));
    return Status::Ok();
  }
  Status End() const { return remaining() == 0 ? Status::Ok() : Error("trailing bytes"); }

 private:
  std::string_view data_;
  size_t pos_ = 0;
  const char* what_;
};

std::string Compress(const std::string& raw);

// Appends the body's SHA-256 (version 2) and compresses.
std::string Seal(std::string raw) {
  raw.append(Digest::Of(raw).Raw());
  return Compress(raw);
}

// The body of a decoded record without its check, after verifying it.
Result<std::string_view> CheckedBody(std::string_view raw, const char* what) {
  if (raw.size() < 5 || raw[4] != static_cast<char>(kVersion)) return raw;  // v1 or bad: Header says
  if (raw.size() < 5 + kCheckBytes)
    return Status::Corruption(std::string(what) + ": truncated checksum");
  std::string_view body = raw.substr(0, raw.size() - kCheckBytes);
  if (Digest::Of(body).Raw() != raw.substr(body.size()))
    return Status::Corruption(std::string(what) + ": checksum mismatch (the record was altered)");
  return body;
}

std::string Compress(const std::string& raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), kZstdLevel);
  // Compressing into a buffer of ZSTD_compressBound() bytes cannot fail.
  if (ZSTD_isError(n)) std::abort();
  out.resize(n);
  return out;
}

// zstd cannot expand more than this: every block (at most 128 KiB of
// output) costs at least a 3-byte header and one byte of content.
constexpr uint64_t kMaxZstdRatio = 32 * 1024;

// Decompresses one zstd frame whose header declares its size. A declared
// size over 1 GiB, or one the input could not possibly expand to, is
// rejected before anything is allocated.
Result<std::string> Decompress(std::string_view in, const char* what) {
  auto fail = [what](const std::string& m) {
    return Status::Corruption(std::string(what) + ": " + m);
  };
  unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return fail("not a zstd frame");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) return fail("zstd frame without content size");
  if (size > kMaxDecoded) return fail("decoded size " + std::to_string(size) + " over 1 GiB");
  if (size > in.size() * kMaxZstdRatio + (128 << 10)) {
    return fail("declared size " + std::to_string(size) + " impossible for " +
                std::to_string(in.size()) + " compressed bytes");
  }
  std::string out(static_cast<size_t>(size), '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n)) return fail(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != size) return fail("frame size mismatch");
  return out;
}

// Smallest encoded sizes, for bounding counts before reserve().
constexpr size_t kMinChunkBytes = 32 + 1;
constexpr size_t kMinEntryBytes = 17;  // 2 type bytes + 15 one-byte varints/strings
constexpr size_t kMinStringBytes = 1;

void EncodeEntry(const TocEntry& e, Encoder* w) {
  w->Byte(static_cast<uint8_t>(e.type));
  w->Byte(static_cast<uint8_t>(e.role));
  w->String(e.name);
  w->String(e.link_target);
  w->Varint(e.mode);
  w->Varint(e.uid);
  w->Varint(e.gid);
  w->String(e.uname);
  w->String(e.gname);
  w->Signed(e.mtime_sec);
  w->Varint(e.mtime_nsec);
  w->Varint(e.dev_major);
  w->Varint(e.dev_minor);
  w->Varint(e.size);
  w->Varint(e.xattrs.size());
  for (const auto& [k, v] : e.xattrs) {
    w->String(k);
    w->String(v);
  }
  w->Varint(e.first_chunk);
  w->Varint(e.num_chunks);
}

Status DecodeEntry(Decoder* r, size_t num_chunks, TocEntry* e) {
  uint8_t type, role;
  RETURN_IF_ERROR(r->Byte(&type, "entry type"));
  if (type > static_cast<uint8_t>(EntryType::kFifo)) {
    return r->Error("unknown entry type " + std::to_string(type));
  }
  e->type = static_cast<EntryType>(type);
  RETURN_IF_ERROR(r->Byte(&role, "overlay role"));
  if (role > static_cast<uint8_t>(OverlayRole::kOpaque)) {
    return r->Error("unknown overlay role " + std::to_string(role));
  }
  e->role = static_cast<OverlayRole>(role);
  RETURN_IF_ERROR(r->String(&e->name, "name"));
  RETURN_IF_ERROR(r->String(&e->link_target, "link target"));
  RETURN_IF_ERROR(r->U32(&e->mode, "mode"));
  RETURN_IF_ERROR(r->U32(&e->uid, "uid"));
  RETURN_IF_ERROR(r->U32(&e->gid, "gid"));
  RETURN_IF_ERROR(r->String(&e->uname, "uname"));
  RETURN_IF_ERROR(r->String(&e->gname, "gname"));
  RETURN_IF_ERROR(r->Signed(&e->mtime_sec, "mtime"));
  RETURN_IF_ERROR(r->U32(&e->mtime_nsec, "mtime nsec"));
  RETURN_IF_ERROR(r->U32(&e->dev_major, "dev major"));
  RETURN_IF_ERROR(r->U32(&e->dev_minor, "dev minor"));
  RETURN_IF_ERROR(r->Varint(&e->size, "size"));
  uint64_t nx;
  RETURN_IF_ERROR(r->Count(&nx, 2 * kMinStringBytes, "xattr"));
  e->xattrs.resize(static_cast<size_t>(nx));
  for (auto& [k, v] : e->xattrs) {
    RETURN_IF_ERROR(r->String(&k, "xattr name"));
    RETURN_IF_ERROR(r->String(&v, "xattr value"));
  }
  RETURN_IF_ERROR(r->U32(&e->first_chunk, "first chunk"));
  RETURN_IF_ERROR(r->U32(&e->num_chunks, "chunk count"));
  if (uint64_t{e->first_chunk} + e->num_chunks > num_chunks) {
    return r->Error("entry " + QuoteForMessage(e->name) + " chunks [" + std::to_string(e->first_chunk) +
                    ", +" + std::to_string(e->num_chunks) + ") outside the chunk table of " +
                    std::to_string(num_chunks));
  }
  return Status::Ok();
}

}  // namespace

std::string LayerToc::Encode() const {
  Encoder w;
  w.Raw(std::string_view(kTocMagic, 4));
  w.Byte(kVersion);
  w.Raw(diff_id.Raw());
  w.Varint(tar_size);
  w.Varint(chunks.size());
  for (const ChunkRef& c : chunks) {
    w.Raw(c.digest.Raw());
    w.Varint(c.size);
  }
  w.Varint(entries.size());
  for (const TocEntry& e : entries) EncodeEntry(e, &w);
  return Seal(std::move(w.out()));
}

Result<LayerToc> LayerToc::Decode(std::string_view data) {
  const char* kWhat = "layer TOC";
  ASSIGN_OR_RETURN(std::string raw, Decompress(data, kWhat));
  ASSIGN_OR_RETURN(std::string_view body, CheckedBody(raw, kWhat));
  Decoder r(body, kWhat);
  RETURN_IF_ERROR(r.Header(kTocMagic));
  LayerToc toc;
  std::string_view digest;
  RETURN_IF_ERROR(r.Raw(32, &digest, "diff_id"));
  toc.diff_id = Digest::FromRaw(digest);
  RETURN_IF_ERROR(r.Varint(&toc.tar_size, "tar size"));
  uint64_t n;
  RETURN_IF_ERROR(r.Count(&n, kMinChunkBytes, "chunk"));
  toc.chunks.resize(static_cast<size_t>(n));
  for (ChunkRef& c : toc.chunks) {
    RETURN_IF_ERROR(r.Raw(32, &digest, "chunk digest"));
    c.digest = Digest::FromRaw(digest);
    RETURN_IF_ERROR(r.U32(&c.size, "chunk size"));
  }
  RETURN_IF_ERROR(r.Count(&n, kMinEntryBytes, "entry"));
  toc.entries.resize(static_cast<size_t>(n));
  for (TocEntry& e : toc.entries) RETURN_IF_ERROR(DecodeEntry(&r, toc.chunks.size(), &e));
  RETURN_IF_ERROR(r.End());
  return toc;
}

std::string TarSplit::Encode() const {
  Encoder w;
  w.Raw(std::string_view(kSplitMagic, 4));
  w.Byte(kVersion);
  w.Varint(headers.size());
  for (const std::string& h : headers) w.String(h);
  w.Varint(odd_padding.size());
  for (const auto& [index, bytes] : odd_padding) {
    w.Varint(index);
    w.String(bytes);
  }
  w.String(trailer);
  return Seal(std::move(w.out()));
}

Result<TarSplit> TarSplit::Decode(std::string_view data) {
  const char* kWhat = "tar-split";
  ASSIGN_OR_RETURN(std::string raw, Decompress(data, kWhat));
  ASSIGN_OR_RETURN(std::string_view body, CheckedBody(raw, kWhat));
  Decoder r(body, kWhat);
  RETURN_IF_ERROR(r.Header(kSplitMagic));
  TarSplit split;
  uint64_t n;
  RETURN_IF_ERROR(r.Count(&n, kMinStringBytes, "header"));
  split.headers.resize(static_cast<size_t>(n));
  for (std::string& h : split.headers) RETURN_IF_ERROR(r.String(&h, "header"));
  RETURN_IF_ERROR(r.Count(&n, 2, "odd padding"));
  split.odd_padding.resize(static_cast<size_t>(n));
  int64_t prev = -1;
  for (auto& [index, bytes] : split.odd_padding) {
    RETURN_IF_ERROR(r.U32(&index, "padding index"));
    if (int64_t{index} <= prev || index >= split.headers.size()) {
      return r.Error("padding index " + std::to_string(index) + " out of order or range");
    }
    prev = index;
    RETURN_IF_ERROR(r.String(&bytes, "padding"));
    if (bytes.size() >= 512) {
      return r.Error("padding of " + std::to_string(bytes.size()) + " bytes");
    }
  }
  RETURN_IF_ERROR(r.String(&split.trailer, "trailer"));
  RETURN_IF_ERROR(r.End());
  return split;
}

}  // namespace cfs
