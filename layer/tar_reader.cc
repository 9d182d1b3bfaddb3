// Tar parsing by hand: libarchive does not hand out the raw header bytes, and
// the tar-split must keep every one of them to rebuild the layer exactly.
//
// Formats read: v7, ustar (name prefix), GNU ('L'/'K' long names, base-256
// numbers) and PAX ('x' per entry, 'g' global); the header's fields are in
// tar_header.h.
#include "layer/tar_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "base/coding.h"
#include "tar_header.h"
#include "layer/whiteouts.h"

namespace cfs {

namespace {

constexpr size_t kBlock = kTarBlock;

std::string HumanBytes(uint64_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= (1u << 10) && n % (1u << 10) == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
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
    auto size = ParseTarNumber(blk, tar::kSize, TarOctal::kGnu);
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
    if (!ParsePaxRecords(data, &recs)) return Bad(*r, at, "malformed PAX record");
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
      auto n = ParseTarDecimal(v);
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

namespace {

using PaxMap = std::map<std::string, std::string>;

const std::string* PaxValue(const PaxMap& pax, const char* k) {
  auto it = pax.find(k);
  return it == pax.end() ? nullptr : &it->second;
}

// The entry's name and link target: from PAX, else a GNU long record, else
// the header block.
void HeaderNames(const char* blk, const PaxMap& pax, const std::optional<std::string>& long_name,
                 const std::optional<std::string>& long_link, std::string* raw_name,
                 std::string* link) {
  const bool ustar = std::string_view(blk + tar::kMagic.off, tar::kMagic.len) ==
                     std::string_view("ustar\0", 6);
  if (const std::string* v = PaxValue(pax, "path")) {
    *raw_name = *v;
  } else if (long_name) {
    *raw_name = *long_name;
  } else {
    std::string_view prefix = ustar ? TarString(blk, tar::kPrefix) : "";
    if (!prefix.empty()) *raw_name = std::string(prefix) + "/";
    *raw_name += TarString(blk, tar::kName);
  }
  if (const std::string* v = PaxValue(pax, "linkpath")) {
    *link = *v;
  } else if (long_link) {
    *link = *long_link;
  } else {
    *link = TarString(blk, tar::kLinkname);
  }
}

// The entry type a typeflag stands for.
Result<EntryType> TypeOfFlag(char type, const std::string& raw_name, uint64_t at) {
  switch (type) {
    case '0':
    case '\0':
    case '7':
      // Old tars mark a directory by a trailing slash on a regular entry.
      return raw_name.ends_with('/') ? EntryType::kDirectory : EntryType::kRegular;
    case '1':
      return EntryType::kHardlink;
    case '2':
      return EntryType::kSymlink;
    case '3':
      return EntryType::kChar;
    case '4':
      return EntryType::kBlock;
    case '5':
      return EntryType::kDirectory;
    case '6':
      return EntryType::kFifo;
    case 'S':
      return Status::Unsupported("entry " + QuoteForMessage(raw_name) + ": sparse files are not supported");
    default:
      return Status::Unsupported("entry " + QuoteForMessage(raw_name) + ": unsupported tar entry type " +
                                 TypeChar(type) + " at offset " + std::to_string(at));
  }
}

// The numeric and owner fields of the header block that PAX does not
// override (PAX values are applied later, by FillFromPax), and the size.
Status HeaderNumbers(const char* blk, const PaxMap& pax, const std::string& raw_name, uint64_t at,
                     TocEntry* e) {
  auto bad = [&](const std::string& what) {
    return Status::Corruption(what + " in header of entry " + QuoteForMessage(raw_name) + " at offset " +
                              std::to_string(at));
  };
  auto num = [&](TarField f, const char* what) -> Result<int64_t> {
    auto v = ParseTarNumber(blk, f, TarOctal::kGnu);
    if (!v) return bad(std::string("invalid ") + what + " field");
    return *v;
  };
  auto u32 = [&](TarField f, const char* what) -> Result<uint32_t> {
    ASSIGN_OR_RETURN(int64_t v, num(f, what));
    if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
      return bad(std::string(what) + " out of range");
    }
    return static_cast<uint32_t>(v);
  };
  ASSIGN_OR_RETURN(int64_t mode, num(tar::kMode, "mode"));
  e->mode = static_cast<uint32_t>(mode) & 07777;
  if (!PaxValue(pax, "uid")) {
    ASSIGN_OR_RETURN(e->uid, u32(tar::kUid, "uid"));
  }
  if (!PaxValue(pax, "gid")) {
    ASSIGN_OR_RETURN(e->gid, u32(tar::kGid, "gid"));
  }
  if (!PaxValue(pax, "mtime")) {
    ASSIGN_OR_RETURN(e->mtime_sec, num(tar::kMtime, "mtime"));
  }
  const bool has_owner = std::string_view(blk + tar::kMagic.off, tar::kMagic.len).starts_with("ustar");
  if (has_owner) {  // ustar or GNU
    e->uname = TarString(blk, tar::kUname);
    e->gname = TarString(blk, tar::kGname);
  }
  if (has_owner && (e->type == EntryType::kChar || e->type == EntryType::kBlock)) {
    ASSIGN_OR_RETURN(e->dev_major, u32(tar::kDevMajor, "devmajor"));
    ASSIGN_OR_RETURN(e->dev_minor, u32(tar::kDevMinor, "devminor"));
  }
  if (const std::string* v = PaxValue(pax, "size")) {
    auto n = ParseTarDecimal(*v);
    if (!n || *n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return bad("invalid PAX size");
    }
    e->size = *n;
  } else {
    ASSIGN_OR_RETURN(int64_t size, num(tar::kSize, "size"));
    if (size < 0) return bad("negative size");
    e->size = static_cast<uint64_t>(size);
  }
  return Status::Ok();
}

}  // namespace

Status TarReader::Impl::BuildEntry(TarReader* r, const char* blk, uint64_t at, PendingEntry* p,
                                   TocEntry* e) {
  PaxMap pax = r->global_;
  MergePax(p->pax, &pax);
  std::string raw_name, link;
  HeaderNames(blk, pax, p->long_name, p->long_link, &raw_name, &link);
  if (raw_name.size() > r->limits_.max_name || link.size() > r->limits_.max_name) {
    return Status::Invalid("name or link target of the entry at offset " + std::to_string(at) +
                           " is longer than " + std::to_string(r->limits_.max_name) + " bytes");
  }
  ASSIGN_OR_RETURN(e->type, TypeOfFlag(blk[tar::kTypeflag], raw_name, at));
  ASSIGN_OR_RETURN(e->name, NormalizeEntryName(raw_name));
  e->role = RoleOfName(Basename(e->name));
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
  RETURN_IF_ERROR(HeaderNumbers(blk, pax, raw_name, at, e));
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
    if (!AllZero(pad, n)) {
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
    if (!got || AllZero(blk, kBlock)) {
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
    if (!TarChecksumOk(blk)) return Impl::Bad(*this, at, "bad tar header checksum");
    p.raw.append(blk, kBlock);
    const char type = blk[tar::kTypeflag];
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
