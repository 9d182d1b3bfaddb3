// Image archives on disk: unpacking an oci-archive/docker-archive tar into a
// directory without trusting its names, and packing an OCI layout directory
// into a tar. Both go through libarchive.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <vector>

#include "transport/archive_handles.h"
#include "transport/image_source.h"
#include "image_source_internal.h"

namespace cfs {

namespace {

// Link chains longer than this are refused (a loop guard).
constexpr int kMaxLinkDepth = 16;

// Joins path components, resolving "." and, when allow_up, ".." against
// the components before it. Returns false when ".." is not allowed or
// climbs above the root.
bool NormalizeComponents(const std::string& p, bool allow_up, std::string* out) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string c = p.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!allow_up || parts.empty()) return false;
      parts.pop_back();
      continue;
    }
    parts.push_back(std::move(c));
  }
  out->clear();
  for (const auto& c : parts) {
    if (!out->empty()) *out += '/';
    *out += c;
  }
  return true;
}

// An archive member name made safe: relative, without "." or empty
// components. Invalid for absolute names and names with "..".
Result<std::string> MemberName(const char* raw, const std::string& what) {
  if (!raw) return Status::Invalid(what + ": member without a name");
  std::string name = raw;
  if (name.starts_with("/"))
    return Status::Invalid(what + ": member \"" + name + "\" has an absolute name; refused");
  std::string clean;
  if (!NormalizeComponents(name, /*allow_up=*/false, &clean))
    return Status::Invalid(what + ": member \"" + name + "\" contains \"..\"; refused");
  return clean;
}

std::string Dirname(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}

Status CopyFile(const std::string& from, const std::string& to) {
  ASSIGN_OR_RETURN(auto src, FdSource::Open(from));
  int fd = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(to);
  UniqueFd out(fd);
  std::string buf(1 << 20, '\0');
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, src->Read(buf.data(), buf.size()));
    if (n == 0) return Status::Ok();
    RETURN_IF_ERROR(WriteAll(fd, buf.data(), n).Prefix(to));
  }
}

// Unpacks one archive; members are remembered so that links can be
// resolved to them once every file is on disk.
class Extractor {
 public:
  Extractor(std::string archive, std::string dest)
      : archive_(std::move(archive)), dest_(std::move(dest)), what_("archive " + archive_) {}

  Status Run() {
    ArchiveReader a(archive_read_new());
    if (!a) return Status::IOError("archive_read_new", ENOMEM);
    archive_read_support_filter_all(a.get());
    archive_read_support_format_tar(a.get());
    if (archive_read_open_filename(a.get(), archive_.c_str(), 1 << 16) != ARCHIVE_OK) {
      if (archive_errno(a.get()) == ENOENT) return Status::NotFound(archive_ + ": no such file");
      return ReadError(a.get(), 0);
    }
    for (uint64_t count = 0;; count++) {
      struct archive_entry* e = nullptr;
      int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return ReadError(a.get(), count);
      RETURN_IF_ERROR(ExtractEntry(a.get(), e));
    }
    return ResolveLinks();
  }

 private:
  Status ReadError(struct archive* a, uint64_t count) const {
    std::string msg = ArchiveError(a);
    if (count == 0 && msg.find("Unrecognized archive format") != std::string::npos)
      return Status::Invalid(what_ + ": not a tar archive (" + msg + ")");
    return Status::Corruption(what_ + ": " + msg);
  }

  Status ExtractEntry(struct archive* a, struct archive_entry* e) {
    ASSIGN_OR_RETURN(std::string name, MemberName(archive_entry_pathname(e), what_));
    if (name.empty()) return Status::Ok();  // "./", the root itself
    if (const char* hard = archive_entry_hardlink(e)) {
      ASSIGN_OR_RETURN(std::string target, MemberName(hard, what_));
      return AddLink(name, target);
    }
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        return MakeDirs(dest_ + "/" + name);
      case AE_IFREG:
        return ExtractFile(a, e, name);
      case AE_IFLNK:
        return AddSymlink(name, archive_entry_symlink(e));
      default:
        return Status::Invalid(what_ + ": member \"" + name +
                               "\" is not a file, directory or link; refused");
    }
  }

  Status ExtractFile(struct archive* a, struct archive_entry* e, const std::string& name) {
    const std::string path = dest_ + "/" + name;
    RETURN_IF_ERROR(MakeDirs(Dirname(path)));
    links_.erase(name);  // a later member replaces an earlier one
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Status::IOError("unlink " + path);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError(path);
    UniqueFd out(fd);
    uint64_t written = 0;
    char buf[1 << 16];
    for (;;) {
      la_ssize_t n = archive_read_data(a, buf, sizeof buf);
      if (n == 0) break;
      if (n < 0) {
        if (n == ARCHIVE_WARN) continue;
        return Status::Corruption(what_ + ": member \"" + name + "\": " + ArchiveError(a));
      }
      RETURN_IF_ERROR(WriteAll(fd, buf, static_cast<size_t>(n)).Prefix(path));
      written += static_cast<uint64_t>(n);
    }
    if (archive_entry_size_is_set(e) && written != static_cast<uint64_t>(archive_entry_size(e))) {
      return Status::Corruption(what_ + ": member \"" + name + "\": " + std::to_string(written) +
                                " bytes, its header says " + std::to_string(archive_entry_size(e)));
    }
    files_.insert(name);
    return Status::Ok();
  }

  Status AddSymlink(const std::string& name, const char* target) {
    if (!target || !*target)
      return Status::Invalid(what_ + ": symlink \"" + name + "\" has no target");
    if (target[0] == '/') {
      return Status::Invalid(what_ + ": symlink \"" + name + "\" points to the absolute path \"" +
                             target + "\"; refused");
    }
    std::string resolved;
    std::string joined = Dirname(name).empty() ? target : Dirname(name) + "/" + target;
    if (!NormalizeComponents(joined, /*allow_up=*/true, &resolved) || resolved.empty()) {
      return Status::Invalid(what_ + ": symlink \"" + name + "\" -> \"" + target +
                             "\" points outside the archive; refused");
    }
    return AddLink(name, resolved);
  }

  Status AddLink(const std::string& name, const std::string& target) {
    files_.erase(name);
    links_[name] = target;
    return Status::Ok();
  }

  // Materializes each link as a copy (a hard link when possible) of the
  // regular file member it leads to.
  Status ResolveLinks() {
    for (const auto& [name, first] : links_) {
      std::string target = first;
      for (int depth = 0; !files_.contains(target); depth++) {
        auto next = links_.find(target);
        if (next == links_.end() || depth >= kMaxLinkDepth) {
          return Status::Invalid(what_ + ": link \"" + name + "\" -> \"" + first +
                                 "\" does not lead to a file in the archive");
        }
        target = next->second;
      }
      const std::string from = dest_ + "/" + target, to = dest_ + "/" + name;
      RETURN_IF_ERROR(MakeDirs(Dirname(to)));
      if (::unlink(to.c_str()) != 0 && errno != ENOENT) return Status::IOError("unlink " + to);
      if (::link(from.c_str(), to.c_str()) != 0) RETURN_IF_ERROR(CopyFile(from, to));
    }
    return Status::Ok();
  }

  const std::string archive_, dest_, what_;
  std::set<std::string> files_;               // regular file members on disk
  std::map<std::string, std::string> links_;  // member → target member
};

// ---- Writing -------------------------------------------------------------

struct TreeEntry {
  std::string rel;  // relative name, no leading "./"
  bool is_dir = false;
  uint64_t size = 0;
};

Status ListTree(const std::string& root, const std::string& rel, std::vector<TreeEntry>* out) {
  const std::string path = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(path.c_str());
  if (!d) return Status::IOError("opendir " + path);
  std::unique_ptr<DIR, int (*)(DIR*)> guard(d, ::closedir);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  if (errno != 0) return Status::IOError("readdir " + path);
  for (const auto& n : names) {
    TreeEntry e;
    e.rel = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (::lstat((root + "/" + e.rel).c_str(), &st) != 0) return Status::IOError(root + "/" + e.rel);
    if (S_ISDIR(st.st_mode)) {
      e.is_dir = true;
      out->push_back(e);
      RETURN_IF_ERROR(ListTree(root, e.rel, out));
    } else if (S_ISREG(st.st_mode)) {
      e.size = static_cast<uint64_t>(st.st_size);
      out->push_back(e);
    } else {
      return Status::Invalid(root + "/" + e.rel + ": not a file or directory; cannot archive it");
    }
  }
  return Status::Ok();
}

// libarchive → ByteSink glue; the first sink error is kept in status.
struct SinkClient {
  ByteSink* sink;
  Status status;
};

la_ssize_t SinkWrite(struct archive*, void* client, const void* buf, size_t n) {
  auto* c = static_cast<SinkClient*>(client);
  c->status = c->sink->Write(buf, n);
  return c->status.ok() ? static_cast<la_ssize_t>(n) : -1;
}

Status WriteMember(struct archive* a, SinkClient* client, const std::string& dir,
                   const TreeEntry& t) {
  ArchiveEntry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), t.rel.c_str());
  archive_entry_set_filetype(e.get(), t.is_dir ? AE_IFDIR : AE_IFREG);
  archive_entry_set_perm(e.get(), t.is_dir ? 0755 : 0644);
  archive_entry_set_size(e.get(), t.is_dir ? 0 : static_cast<la_int64_t>(t.size));
  archive_entry_set_uid(e.get(), 0);
  archive_entry_set_gid(e.get(), 0);
  archive_entry_set_mtime(e.get(), 0, 0);
  auto fail = [&](const std::string& what) {
    if (!client->status.ok()) return client->status;
    return Status::IOError(what + ": " + ArchiveError(a), EIO);
  };
  if (archive_write_header(a, e.get()) != ARCHIVE_OK) return fail("tar header " + t.rel);
  if (t.is_dir) return Status::Ok();
  ASSIGN_OR_RETURN(auto src, FdSource::Open(dir + "/" + t.rel));
  std::string buf(1 << 20, '\0');
  uint64_t total = 0;
  for (;;) {
    ASSIGN_OR_RETURN(size_t n, src->Read(buf.data(), buf.size()));
    if (n == 0) break;
    if (archive_write_data(a, buf.data(), n) < 0) return fail("tar data " + t.rel);
    total += n;
  }
  if (total != t.size)
    return Status::Corruption(dir + "/" + t.rel + ": changed size while being archived");
  return Status::Ok();
}

}  // namespace

namespace oci {

Status ExtractImageArchive(const std::string& archive, const std::string& dest) {
  return Extractor(archive, dest).Run();
}

}  // namespace oci

Status WriteTarOfDir(const std::string& dir, const std::string& path) {
  std::vector<TreeEntry> tree;
  RETURN_IF_ERROR(ListTree(dir, "", &tree));
  std::sort(tree.begin(), tree.end(),
            [](const TreeEntry& x, const TreeEntry& y) { return x.rel < y.rel; });

  ASSIGN_OR_RETURN(auto sink, AtomicFileSink::Create(path));
  SinkClient client{sink.get(), Status::Ok()};
  ArchiveWriter a(archive_write_new());
  if (!a) return Status::IOError("archive_write_new", ENOMEM);
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_open(a.get(), &client, nullptr, SinkWrite, nullptr) != ARCHIVE_OK) {
    return Status::IOError(path + ": " + ArchiveError(a.get()), EIO);
  }
  for (const auto& t : tree) RETURN_IF_ERROR(WriteMember(a.get(), &client, dir, t));
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    if (!client.status.ok()) return client.status;
    return Status::IOError(path + ": " + ArchiveError(a.get()), EIO);
  }
  return sink->Commit();
}

}  // namespace cfs
