#include "zstd_chunked_toc.h"

#include <algorithm>
#include <functional>
#include <map>
#include <unordered_set>

#include "base/coding.h"
#include "base/time.h"
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
