#include "zstd_chunked_toc.h"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_set>

#include "base/coding.h"
#include "layer/whiteouts.h"

namespace cfs {

using nlohmann::json;

namespace {

std::string Str(const json& e, const char* k) {
  return e.contains(k) && e[k].is_string() ? e[k].get<std::string>() : "";
}

Result<EntryType> TypeOf(const std::string& t) {
  static const std::map<std::string, EntryType> kTypes = {
      {"reg", EntryType::kRegular},  {"dir", EntryType::kDirectory}, {"symlink", EntryType::kSymlink},
      {"hardlink", EntryType::kHardlink}, {"char", EntryType::kChar}, {"block", EntryType::kBlock},
      {"fifo", EntryType::kFifo}};
  auto it = kTypes.find(t);
  if (it == kTypes.end()) return Status::Corruption("unknown type " + QuoteForMessage(t));
  return it->second;
}

std::string_view Basename(std::string_view name) {
  size_t slash = name.rfind('/');
  return slash == std::string_view::npos ? name : name.substr(slash + 1);
}

// n decimal digits of s at pos, or -1.
int Digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (size_t i = pos; i < pos + n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// The entry's numeric fields (absent: 0).
Status Numbers(const json& j, TocEntry* e, const std::function<Status(const std::string&)>& bad) {
  auto num = [&](const char* k, uint64_t max, uint64_t* v) -> Status {
    *v = 0;
    if (!j.contains(k)) return Status::Ok();
    const json& x = j[k];
    if (x.is_number_unsigned()) {
      *v = x.get<uint64_t>();
    } else if (x.is_number_integer() && x.get<int64_t>() >= 0) {
      *v = static_cast<uint64_t>(x.get<int64_t>());
    } else {
      return bad(std::string("bad ") + k);
    }
    return *v <= max ? Status::Ok() : bad(std::string(k) + " out of range");
  };
  uint64_t mode, uid, gid, major, minor;
  RETURN_IF_ERROR(num("mode", INT64_MAX, &mode));
  RETURN_IF_ERROR(num("uid", UINT32_MAX, &uid));
  RETURN_IF_ERROR(num("gid", UINT32_MAX, &gid));
  RETURN_IF_ERROR(num("devMajor", UINT32_MAX, &major));
  RETURN_IF_ERROR(num("devMinor", UINT32_MAX, &minor));
  RETURN_IF_ERROR(num("size", INT64_MAX, &e->size));
  e->mode = static_cast<uint32_t>(mode & 07777);
  e->uid = static_cast<uint32_t>(uid);
  e->gid = static_cast<uint32_t>(gid);
  e->dev_major = static_cast<uint32_t>(major);
  e->dev_minor = static_cast<uint32_t>(minor);
  if (j.contains("modtime") && !ParseRfc3339(Str(j, "modtime"), &e->mtime_sec, &e->mtime_nsec))
    return bad("bad modtime");
  return Status::Ok();
}

// xattrs: an object of names to base64 values, sorted by name.
Status Xattrs(const json& j, TocEntry* e, const std::function<Status(const std::string&)>& bad) {
  if (!j.contains("xattrs")) return Status::Ok();
  const json& x = j["xattrs"];
  if (!x.is_object()) return bad("xattrs is not an object");
  std::map<std::string, std::string> sorted;
  for (const auto& [k, v] : x.items()) {
    if (!v.is_string() || k.empty() || k.find('\0') != std::string::npos) return bad("bad xattr");
    auto value = Base64Decode(v.get<std::string>());
    if (!value.ok()) return bad("xattr " + QuoteForMessage(k) + " is not base64");
    sorted[k] = std::move(*value);
  }
  e->xattrs.assign(sorted.begin(), sorted.end());
  return Status::Ok();
}

Result<TocEntry> EntryOf(const json& j, const std::string& what) {
  const std::string raw = Str(j, "name");
  std::function<Status(const std::string&)> bad = [&](const std::string& why) {
    return Status::Corruption(what + ": TOC entry " + QuoteForMessage(raw) + ": " + why);
  };
  TocEntry e;
  auto type = TypeOf(Str(j, "type"));
  if (!type.ok()) return bad(type.status().message());
  e.type = *type;
  auto name = NormalizeEntryName(raw);
  if (!name.ok()) return bad(name.status().message());
  e.name = std::move(*name);
  e.role = RoleOfName(Basename(e.name));
  const std::string link = Str(j, "linkName");
  if (e.type == EntryType::kHardlink) {
    auto target = NormalizeEntryName(link);
    if (!target.ok()) return bad("hard link target: " + target.status().message());
    e.link_target = std::move(*target);
  } else if (e.type == EntryType::kSymlink) {
    if (link.find('\0') != std::string::npos) return bad("NUL byte in the symlink target");
    e.link_target = link;
  }
  RETURN_IF_ERROR(Numbers(j, &e, bad));
  RETURN_IF_ERROR(Xattrs(j, &e, bad));
  return e;
}

// A path through a symlink of the same layer ("a" -> "/etc", then
// "a/passwd") is refused, as the tar reader refuses it.
Status NotThroughSymlink(const std::unordered_set<std::string>& symlinks, const std::string& path,
                         const std::string& what) {
  for (size_t i = path.find('/'); i != std::string::npos; i = path.find('/', i + 1))
    if (symlinks.count(path.substr(0, i)))
      return Status::Corruption(what + ": TOC entry " + QuoteForMessage(path) + " goes through symlink " +
                                QuoteForMessage(path.substr(0, i)));
  return Status::Ok();
}

// Every xattr of the TOC's entry is the tar's, with the same value. The tar
// may carry more: LIBARCHIVE.xattr records, which the tar reader takes and
// Go's archive/tar (so a TOC written as containers/storage writes it) does
// not; a lazy mount lacks those until the layer is pulled.
bool XattrsWithin(const std::vector<std::pair<std::string, std::string>>& toc,
                  const std::vector<std::pair<std::string, std::string>>& tar) {
  for (const auto& x : toc)
    if (std::find(tar.begin(), tar.end(), x) == tar.end()) return false;
  return true;
}

}  // namespace

bool ParseRfc3339(std::string_view s, int64_t* sec, uint32_t* nsec) {
  const int y = Digits(s, 0, 4), mo = Digits(s, 5, 2), d = Digits(s, 8, 2);
  const int h = Digits(s, 11, 2), mi = Digits(s, 14, 2), se = Digits(s, 17, 2);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
      se < 0 || se > 60 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
      s[13] != ':' || s[16] != ':')
    return false;
  size_t p = 19;
  uint32_t ns = 0;
  if (p < s.size() && s[p] == '.') {
    size_t digits = 0;
    for (p++; p < s.size() && s[p] >= '0' && s[p] <= '9'; p++, digits++)
      if (digits < 9) ns = ns * 10 + static_cast<uint32_t>(s[p] - '0');
    if (digits == 0) return false;
    for (; digits < 9; digits++) ns *= 10;
  }
  int64_t offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    p++;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int oh = Digits(s, p + 1, 2), om = Digits(s, p + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59 || s[p + 3] != ':') return false;
    offset = (s[p] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    p += 6;
  } else {
    return false;
  }
  if (p != s.size()) return false;
  *sec = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
  *nsec = ns;
  return true;
}

Result<std::vector<TocEntry>> TocEntriesOf(const json& entries, const std::string& what) {
  std::vector<TocEntry> out;
  std::unordered_set<std::string> symlinks;
  for (const auto& j : entries) {
    if (!j.is_object()) return Status::Corruption(what + ": TOC entry is not an object");
    if (Str(j, "type") == "chunk") continue;
    ASSIGN_OR_RETURN(TocEntry e, EntryOf(j, what));
    RETURN_IF_ERROR(NotThroughSymlink(symlinks, e.name, what));
    if (e.type == EntryType::kHardlink) RETURN_IF_ERROR(NotThroughSymlink(symlinks, e.link_target, what));
    if (e.type == EntryType::kSymlink) symlinks.insert(e.name);
    out.push_back(std::move(e));
  }
  return out;
}

Status CheckTocMatchesTar(const std::vector<TocEntry>& from_toc,
                          const std::vector<TocEntry>& from_tar, const std::string& what) {
  if (from_toc.size() != from_tar.size())
    return Status::Corruption(what + ": the TOC has " + std::to_string(from_toc.size()) +
                              " entries, the tar-split " + std::to_string(from_tar.size()));
  for (size_t i = 0; i < from_toc.size(); i++) {
    const TocEntry& a = from_toc[i];
    const TocEntry& b = from_tar[i];
    const char* field = nullptr;
    if (a.name != b.name) field = "name";
    else if (a.type != b.type) field = "type";
    else if (a.link_target != b.link_target) field = "link target";
    else if (a.mode != b.mode) field = "mode";
    else if (a.uid != b.uid || a.gid != b.gid) field = "owner";
    else if (a.mtime_sec != b.mtime_sec || a.mtime_nsec != b.mtime_nsec) field = "mtime";
    else if (a.size != b.size) field = "size";
    else if (a.dev_major != b.dev_major || a.dev_minor != b.dev_minor) field = "device numbers";
    else if (!XattrsWithin(a.xattrs, b.xattrs)) field = "xattrs";
    if (field)
      return Status::Corruption(what + ": entry " + std::to_string(i + 1) + " (" + QuoteForMessage(b.name) +
                                "): the TOC and the tar-split disagree on its " + field);
  }
  return Status::Ok();
}

}  // namespace cfs
