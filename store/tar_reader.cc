// Tar parsing by hand: libarchive does not hand out the raw header bytes, and
// the tar-split must keep every one of them to rebuild the layer exactly.
//
// Formats read: v7, ustar (name prefix), GNU ('L'/'K' long names, base-256
// numbers) and PAX ('x' per entry, 'g' global). Facts used:
//   header block: name[100]@0 mode[8]@100 uid[8]@108 gid[8]@116 size[12]@124
//   mtime[12]@136 chksum[8]@148 typeflag@156 linkname[100]@157 magic[6]@257
//   version[2]@263 uname[32]@265 gname[32]@297 devmajor[8]@329
//   devminor[8]@337 prefix[155]@345 (ustar only; GNU keeps atime etc. there).
//   PAX record: "<decimal length of the whole record> <key>=<value>\n".
#include "store/tar_reader.h"
#include "base/coding.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

namespace cfs {

namespace {

constexpr size_t kBlock = 512;

constexpr size_t kNameOff = 0, kNameLen = 100;
constexpr size_t kModeOff = 100, kUidOff = 108, kGidOff = 116, kIdLen = 8;
constexpr size_t kSizeOff = 124, kMtimeOff = 136, kNumLen = 12;
constexpr size_t kChksumOff = 148, kChksumLen = 8;
constexpr size_t kTypeOff = 156;
constexpr size_t kLinkOff = 157, kLinkLen = 100;
constexpr size_t kMagicOff = 257;
constexpr size_t kUnameOff = 265, kGnameOff = 297, kOwnerLen = 32;
constexpr size_t kDevMajorOff = 329, kDevMinorOff = 337, kDevLen = 8;
constexpr size_t kPrefixOff = 345, kPrefixLen = 155;

std::string HumanBytes(uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (1u << 10) && n % (1u << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

bool IsZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (p[i] != 0) return false;
  }
  return true;
}

// A NUL-terminated header string field (it may fill the field with no NUL).
std::string_view CString(const char* blk, size_t off, size_t len) {
  const char* p = blk + off;
  const void* nul = std::memchr(p, 0, len);
  return {p, nul ? static_cast<size_t>(static_cast<const char*>(nul) - p) : len};
}

// A numeric header field: octal digits (leading spaces, ended by a space or
// NUL, as GNU tar accepts) or GNU base-256 (high bit of the first byte set;
// bit 6 set means negative, two's complement).
std::optional<int64_t> ParseNumeric(const char* blk, size_t off, size_t len) {
  const auto* f = reinterpret_cast<const unsigned char*>(blk + off);
  if (f[0] & 0x80) {
    const unsigned char inv = (f[0] & 0x40) ? 0xff : 0x00;
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
      unsigned char c = f[i] ^ inv;
      if (i == 0) c &= 0x7f;
      if (x >> 56) return std::nullopt;
      x = (x << 8) | c;
    }
    if (x >> 63) return std::nullopt;
    return inv ? ~static_cast<int64_t>(x) : static_cast<int64_t>(x);
  }
  size_t i = 0;
  while (i < len && f[i] == ' ') i++;
  uint64_t v = 0;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v >> 60) return std::nullopt;
    v = v * 8 + (f[i] - '0');
  }
  if (i < len && f[i] != ' ' && f[i] != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

// Accepts the unsigned sum (POSIX) and the signed one (old Sun/GNU tars), as
// GNU tar does; the checksum field itself counts as eight spaces.
bool ChecksumOk(const char* blk) {
  auto stored = ParseNumeric(blk, kChksumOff, kChksumLen);
  if (!stored) return false;
  int64_t usum = 0, ssum = 0;
  for (size_t i = 0; i < kBlock; i++) {
    char c = (i >= kChksumOff && i < kChksumOff + kChksumLen) ? ' ' : blk[i];
    usum += static_cast<unsigned char>(c);
    ssum += static_cast<signed char>(c);
  }
  return *stored == usum || *stored == ssum;
}

std::optional<uint64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// PAX time: "[-]SECONDS[.FRACTION]"; the fraction is cut to nanoseconds.
bool ParsePaxTime(std::string_view s, int64_t* sec, uint32_t* nsec) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  auto w = ParseDecimal(whole);
  if (!w || *w > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  uint32_t ns = 0;
  for (size_t i = 0; i < frac.size(); i++) {
    if (frac[i] < '0' || frac[i] > '9') return false;
    if (i < 9) ns = ns * 10 + static_cast<uint32_t>(frac[i] - '0');
  }
  for (size_t i = frac.size(); i < 9; i++) ns *= 10;
  int64_t v = static_cast<int64_t>(*w);
  if (neg && ns > 0) {
    *sec = -v - 1;
    *nsec = 1'000'000'000 - ns;
  } else {
    *sec = neg ? -v : v;
    *nsec = ns;
  }
  return true;
}

using PaxRecords = std::vector<std::pair<std::string, std::string>>;

// Splits PAX extended header data into records. Trailing NUL bytes (some
// writers pad the data) are tolerated; anything else malformed is an error.
bool ParsePax(std::string_view data, PaxRecords* out) {
  while (!data.empty()) {
    if (IsZero(data.data(), data.size())) break;
    size_t sp = data.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 20) return false;
    auto len = ParseDecimal(data.substr(0, sp));
    if (!len || *len > data.size() || *len < sp + 4) return false;
    std::string_view rec = data.substr(0, *len);
    if (rec.back() != '\n') return false;
    std::string_view kv = rec.substr(sp + 1, rec.size() - sp - 2);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) return false;
    out->emplace_back(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    data.remove_prefix(*len);
  }
  return true;
}

bool IsXattrKey(std::string_view k) {
  return k.starts_with("SCHILY.xattr.") || k.starts_with("LIBARCHIVE.xattr.");
}

// Merges records into *m in order. An empty value deletes the key (POSIX),
// except for xattrs, whose value may legitimately be empty.
void MergePax(const PaxRecords& recs, std::map<std::string, std::string>* m) {
  for (const auto& [k, v] : recs) {
    if (v.empty() && !IsXattrKey(k)) {
      m->erase(k);
    } else {
      (*m)[k] = v;
    }
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// LIBARCHIVE.xattr names are URL-encoded ("%XX").
std::optional<std::string> UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::string_view Basename(std::string_view name) {
  size_t slash = name.rfind('/');
  return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

std::string TypeChar(char t) {
  if (t >= 0x21 && t < 0x7f) return std::string("'") + t + "'";
  return QuoteForMessage(std::string_view(&t, 1));
}

}  // namespace

// The parts of the current entry gathered before its own header block.
struct PendingEntry {
  // Every byte since the previous entry's padding.
  std::string raw;
  // raw holds nothing but 'g' records.
  bool only_global = true;
  // GNU 'L' and 'K' records.
  std::optional<std::string> long_name, long_link;
  // 'x' records, in order.
  PaxRecords pax;
};

// Private helpers; a nested class so they may use TarReader's members.
class TarReader::Impl {
 public:
  static std::string Where(const TarReader& r) {
    if (r.payload_left_ > 0 || r.padding_left_ > 0) return "entry " + QuoteForMessage(r.name_);
    if (r.entries_ == 0) return "first header";
    return "header after entry " + QuoteForMessage(r.name_);
  }
  static Status Truncated(const TarReader& r) {
    return Status::Corruption("truncated tar at offset " + std::to_string(r.offset_) + " (" +
                              Where(r) + ")");
  }
  static Status Bad(const TarReader& r, uint64_t at, const std::string& what) {
    return Status::Corruption(what + " at offset " + std::to_string(at) + " (" + Where(r) + ")");
  }

  // Reads up to n bytes, fewer only at end of stream.
  static Result<size_t> ReadUpTo(TarReader* r, char* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
      ASSIGN_OR_RETURN(size_t k, r->RawRead(buf + got, n - got));
      if (k == 0) break;
      got += k;
    }
    return got;
  }
  static Status ReadExact(TarReader* r, char* buf, size_t n) {
    ASSIGN_OR_RETURN(size_t got, ReadUpTo(r, buf, n));
    return got == n ? Status::Ok() : Truncated(*r);
  }

  // Reads one header block; false on a clean end of stream at the boundary.
  static Result<bool> ReadBlock(TarReader* r, char* blk) {
    ASSIGN_OR_RETURN(size_t got, ReadUpTo(r, blk, kBlock));
    if (got == 0) return false;
    if (got < kBlock) return Truncated(*r);
    return true;
  }

  // Everything from the first zero block to the end of the stream.
  static Status ReadTrailer(TarReader* r, std::string start) {
    std::string& t = r->split_.trailer;
    t = std::move(start);
    char buf[16384];
    for (;;) {
      if (t.size() > r->limits_.max_trailer) {
        return Status::Invalid("more than " + std::to_string(r->limits_.max_trailer) +
                               " bytes after end of archive (limit " +
                               HumanBytes(r->limits_.max_trailer) + ")");
      }
      ASSIGN_OR_RETURN(size_t got, r->RawRead(buf, sizeof(buf)));
      if (got == 0) return Status::Ok();
      t.append(buf, got);
    }
  }

  // Reads the data of an 'L', 'K', 'x' or 'g' record (and its padding) into
  // p->raw, returning a view of the data without the padding.
  static Result<std::string_view> ReadRecord(TarReader* r, const char* blk, uint64_t at,
                                             PendingEntry* p) {
    auto size = ParseNumeric(blk, kSizeOff, kNumLen);
    if (!size || *size < 0) return Bad(*r, at, "invalid size in extended header");
    if (static_cast<uint64_t>(*size) > r->limits_.max_pax_header) {
      return Status::Invalid("extended header of " + std::to_string(*size) + " bytes at offset " +
                             std::to_string(at) + " (limit " +
                             HumanBytes(r->limits_.max_pax_header) + ")");
    }
    size_t n = static_cast<size_t>(*size);
    size_t padded = (n + kBlock - 1) / kBlock * kBlock;
    if (p->raw.size() + padded > 4 * r->limits_.max_pax_header + 64 * kBlock) {
      return Status::Invalid("too many extended headers at offset " + std::to_string(at));
    }
    size_t start = p->raw.size();
    p->raw.resize(start + padded);
    RETURN_IF_ERROR(ReadExact(r, p->raw.data() + start, padded));
    return std::string_view(p->raw).substr(start, n);
  }

  static Status HandleRecord(TarReader* r, char type, std::string_view data, uint64_t at,
                             PendingEntry* p) {
    if (type == 'L' || type == 'K') {
      std::string v(data.substr(0, data.find('\0')));
      (type == 'L' ? p->long_name : p->long_link) = std::move(v);
      return Status::Ok();
    }
    PaxRecords recs;
    if (!ParsePax(data, &recs)) return Bad(*r, at, "malformed PAX record");
    if (type == 'x') {
      p->pax.insert(p->pax.end(), recs.begin(), recs.end());
      return Status::Ok();
    }
    MergePax(recs, &r->global_);
    size_t total = 0;
    for (const auto& [k, v] : r->global_) total += k.size() + v.size();
    if (total > r->limits_.max_pax_header) {
      return Status::Invalid("global PAX headers over " + HumanBytes(r->limits_.max_pax_header) +
                             " at offset " + std::to_string(at));
    }
    return Status::Ok();
  }

  static Status CheckNotThroughSymlink(const TarReader& r, const std::string& path) {
    for (size_t i = path.find('/'); i != std::string::npos; i = path.find('/', i + 1)) {
      std::string parent = path.substr(0, i);
      if (r.symlinks_.count(parent)) {
        return Status::Invalid("entry " + QuoteForMessage(path) + " goes through symlink " + QuoteForMessage(parent));
      }
    }
    return Status::Ok();
  }

  static Status BuildEntry(TarReader* r, const char* blk, uint64_t at, PendingEntry* p,
                           TocEntry* e);
  static Status FillFromPax(const std::map<std::string, std::string>& pax,
                            const std::string& raw_name, uint64_t at, TocEntry* e);
};

Status TarReader::Impl::FillFromPax(const std::map<std::string, std::string>& pax,
                                    const std::string& raw_name, uint64_t at, TocEntry* e) {
  auto bad = [&](const std::string& key) {
    return Status::Corruption("invalid PAX " + key + " of entry " + QuoteForMessage(raw_name) +
                              " at offset " + std::to_string(at));
  };
  std::map<std::string, std::string> xattrs;
  for (const auto& [k, v] : pax) {
    if (k.starts_with("GNU.sparse.")) {
      return Status::Unsupported("entry " + QuoteForMessage(raw_name) + ": sparse files are not supported");
    }
    if (k == "uid" || k == "gid") {
      auto n = ParseDecimal(v);
      if (!n || *n > std::numeric_limits<uint32_t>::max()) return bad(k);
      (k == "uid" ? e->uid : e->gid) = static_cast<uint32_t>(*n);
    } else if (k == "uname") {
      e->uname = v;
    } else if (k == "gname") {
      e->gname = v;
    } else if (k == "mtime") {
      if (!ParsePaxTime(v, &e->mtime_sec, &e->mtime_nsec)) return bad(k);
    } else if (k.starts_with("SCHILY.xattr.")) {
      std::string name = k.substr(std::strlen("SCHILY.xattr."));
      if (name.empty()) return bad(k);
      xattrs[name] = v;
    } else if (k.starts_with("LIBARCHIVE.xattr.")) {
      auto name = UrlDecode(std::string_view(k).substr(std::strlen("LIBARCHIVE.xattr.")));
      auto value = Base64Decode(v);  // libarchive writes no padding
      if (!name || name->empty() || !value.ok()) return bad(k);
      xattrs.try_emplace(*name, std::move(*value));  // SCHILY wins if both are present
    }
  }
  for (auto& [k, v] : xattrs) {
    if (k.find('\0') != std::string::npos) return bad("xattr name");
    e->xattrs.emplace_back(k, std::move(v));
  }
  return Status::Ok();
}

Status TarReader::Impl::BuildEntry(TarReader* r, const char* blk, uint64_t at, PendingEntry* p,
                                   TocEntry* e) {
  std::map<std::string, std::string> pax = r->global_;
  MergePax(p->pax, &pax);
  auto get = [&pax](const char* k) -> const std::string* {
    auto it = pax.find(k);
    return it == pax.end() ? nullptr : &it->second;
  };

  std::string_view magic(blk + kMagicOff, 6);
  const bool ustar = magic == std::string_view("ustar\0", 6);
  const bool has_owner = magic.starts_with("ustar");  // ustar or GNU
  std::string raw_name;
  if (const std::string* v = get("path")) {
    raw_name = *v;
  } else if (p->long_name) {
    raw_name = *p->long_name;
  } else {
    std::string_view prefix = ustar ? CString(blk, kPrefixOff, kPrefixLen) : "";
    if (!prefix.empty()) raw_name = std::string(prefix) + "/";
    raw_name += CString(blk, kNameOff, kNameLen);
  }
  std::string link;
  if (const std::string* v = get("linkpath")) {
    link = *v;
  } else if (p->long_link) {
    link = *p->long_link;
  } else {
    link = CString(blk, kLinkOff, kLinkLen);
  }
  if (raw_name.size() > r->limits_.max_name || link.size() > r->limits_.max_name) {
    return Status::Invalid("name or link target of the entry at offset " + std::to_string(at) +
                           " is longer than " + std::to_string(r->limits_.max_name) + " bytes");
  }

  const char type = blk[kTypeOff];
  switch (type) {
    case '0':
    case '\0':
    case '7':
      // Old tars mark a directory by a trailing slash on a regular entry.
      e->type = raw_name.ends_with('/') ? EntryType::kDirectory : EntryType::kRegular;
      break;
    case '1':
      e->type = EntryType::kHardlink;
      break;
    case '2':
      e->type = EntryType::kSymlink;
      break;
    case '3':
      e->type = EntryType::kChar;
      break;
    case '4':
      e->type = EntryType::kBlock;
      break;
    case '5':
      e->type = EntryType::kDirectory;
      break;
    case '6':
      e->type = EntryType::kFifo;
      break;
    case 'S':
      return Status::Unsupported("entry " + QuoteForMessage(raw_name) + ": sparse files are not supported");
    default:
      return Status::Unsupported("entry " + QuoteForMessage(raw_name) + ": unsupported tar entry type " +
                                 TypeChar(type) + " at offset " + std::to_string(at));
  }

  ASSIGN_OR_RETURN(e->name, NormalizeEntryName(raw_name));
  std::string_view base = Basename(e->name);
  if (base == ".wh..wh..opq") {
    e->role = OverlayRole::kOpaque;
  } else if (base.starts_with(".wh.")) {
    e->role = OverlayRole::kWhiteout;
  }
  if (e->type == EntryType::kHardlink) {
    auto target = NormalizeEntryName(link);
    if (!target.ok()) return target.status().Prefix("hard link " + QuoteForMessage(e->name));
    e->link_target = std::move(target).value();
  } else if (e->type == EntryType::kSymlink) {
    if (link.find('\0') != std::string::npos) {
      return Status::Invalid("NUL byte in target of symlink " + QuoteForMessage(e->name));
    }
    e->link_target = link;
  }

  // A path through a symlink of this same layer would let extraction (or a
  // lower layer's view) write outside the tree: "a" -> "/etc", then "a/passwd".
  RETURN_IF_ERROR(CheckNotThroughSymlink(*r, e->name));
  if (e->type == EntryType::kHardlink) {
    RETURN_IF_ERROR(CheckNotThroughSymlink(*r, e->link_target));
  }
  if (e->type == EntryType::kSymlink) r->symlinks_.insert(e->name);

  auto bad = [&](const std::string& what) {
    return Status::Corruption(what + " in header of entry " + QuoteForMessage(raw_name) + " at offset " +
                              std::to_string(at));
  };
  auto num = [&](size_t off, size_t len, const char* what) -> Result<int64_t> {
    auto v = ParseNumeric(blk, off, len);
    if (!v) return bad(std::string("invalid ") + what + " field");
    return *v;
  };
  auto u32 = [&](size_t off, size_t len, const char* what) -> Result<uint32_t> {
    ASSIGN_OR_RETURN(int64_t v, num(off, len, what));
    if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
      return bad(std::string(what) + " out of range");
    }
    return static_cast<uint32_t>(v);
  };
  ASSIGN_OR_RETURN(int64_t mode, num(kModeOff, kIdLen, "mode"));
  e->mode = static_cast<uint32_t>(mode) & 07777;
  if (!get("uid")) {
    ASSIGN_OR_RETURN(e->uid, u32(kUidOff, kIdLen, "uid"));
  }
  if (!get("gid")) {
    ASSIGN_OR_RETURN(e->gid, u32(kGidOff, kIdLen, "gid"));
  }
  if (!get("mtime")) {
    ASSIGN_OR_RETURN(e->mtime_sec, num(kMtimeOff, kNumLen, "mtime"));
  }
  if (has_owner) {
    e->uname = CString(blk, kUnameOff, kOwnerLen);
    e->gname = CString(blk, kGnameOff, kOwnerLen);
  }
  if (has_owner && (e->type == EntryType::kChar || e->type == EntryType::kBlock)) {
    ASSIGN_OR_RETURN(e->dev_major, u32(kDevMajorOff, kDevLen, "devmajor"));
    ASSIGN_OR_RETURN(e->dev_minor, u32(kDevMinorOff, kDevLen, "devminor"));
  }
  if (const std::string* v = get("size")) {
    auto n = ParseDecimal(*v);
    if (!n || *n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return bad("invalid PAX size");
    }
    e->size = *n;
  } else {
    ASSIGN_OR_RETURN(int64_t size, num(kSizeOff, kNumLen, "size"));
    if (size < 0) return bad("negative size");
    e->size = static_cast<uint64_t>(size);
  }
  return FillFromPax(pax, raw_name, at, e);
}

TarReader::TarReader(ByteSource* src, const TarLimits& limits) : src_(src), limits_(limits) {}

Result<size_t> TarReader::RawRead(void* buf, size_t n) {
  ASSIGN_OR_RETURN(size_t got, src_->Read(buf, n));
  offset_ += got;
  return got;
}

Result<size_t> TarReader::ReadPayload(void* buf, size_t n) {
  if (payload_left_ == 0 || n == 0) return size_t{0};
  n = static_cast<size_t>(std::min<uint64_t>(n, payload_left_));
  ASSIGN_OR_RETURN(size_t got, RawRead(buf, n));
  if (got == 0) return Impl::Truncated(*this);
  payload_left_ -= got;
  return got;
}

Status TarReader::SkipRest() {
  if (payload_left_ > 0) {
    std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(payload_left_, 64 * 1024)));
    while (payload_left_ > 0) {
      ASSIGN_OR_RETURN(size_t got, ReadPayload(buf.data(), buf.size()));
      (void)got;
    }
  }
  if (padding_left_ > 0) {
    char pad[kBlock];
    const size_t n = static_cast<size_t>(padding_left_);
    RETURN_IF_ERROR(Impl::ReadExact(this, pad, n));
    padding_left_ = 0;
    if (!IsZero(pad, n)) {
      split_.odd_padding.emplace_back(static_cast<uint32_t>(entries_ - 1), std::string(pad, n));
    }
  }
  return Status::Ok();
}

Result<bool> TarReader::Next(TocEntry* e) {
  if (done_) return false;
  RETURN_IF_ERROR(SkipRest());
  PendingEntry p;
  char blk[kBlock];
  for (;;) {
    const uint64_t at = offset_;
    ASSIGN_OR_RETURN(bool got, Impl::ReadBlock(this, blk));
    if (!got || IsZero(blk, kBlock)) {
      // End of archive. Only global PAX headers may precede it; they are
      // kept with the trailer so the tar still rebuilds exactly.
      if (!p.only_global) {
        return got ? Impl::Bad(*this, at, "end of archive after an extended header")
                   : Impl::Truncated(*this);
      }
      if (got) p.raw.append(blk, kBlock);
      RETURN_IF_ERROR(Impl::ReadTrailer(this, std::move(p.raw)));
      done_ = true;
      return false;
    }
    if (!ChecksumOk(blk)) return Impl::Bad(*this, at, "bad tar header checksum");
    p.raw.append(blk, kBlock);
    const char type = blk[kTypeOff];
    if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
      if (type != 'g') p.only_global = false;
      ASSIGN_OR_RETURN(std::string_view data, Impl::ReadRecord(this, blk, at, &p));
      RETURN_IF_ERROR(Impl::HandleRecord(this, type, data, at, &p));
      continue;
    }
    if (entries_ >= limits_.max_entries) {
      return Status::Invalid("more than " + std::to_string(limits_.max_entries) +
                             " entries in layer");
    }
    *e = TocEntry{};
    RETURN_IF_ERROR(Impl::BuildEntry(this, blk, at, &p, e));
    split_.headers.push_back(std::move(p.raw));
    entries_++;
    name_ = e->name;
    payload_left_ = e->size;
    padding_left_ = (kBlock - e->size % kBlock) % kBlock;
    return true;
  }
}

}  // namespace cfs
