#include "builder/copy_out.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "base/io.h"
#include "builder/rootfs_path.h"
#include "layer/merged_file.h"

namespace cfs::builder {

namespace {

constexpr uint64_t kBeneath = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;

std::string Parent(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? "" : p.substr(0, slash);
}
std::string Leaf(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

// Writes the entries of one copy below root_fd.
class CopyWriter {
 public:
  CopyWriter(const LayerStack& stack, ChunkSource& chunks, int root_fd, std::string shown,
             const std::function<void(const std::string&)>& log)
      : stack_(stack),
        chunks_(chunks),
        root_(root_fd),
        shown_(std::move(shown)),
        log_(log),
        as_root_(::geteuid() == 0) {}

  // rel: the path below root_fd ("a/b").
  Status Add(const std::string& rel, LayerStack::Ref ref) {
    const TocEntry& meta = MergedMeta(stack_, ref);
    UniqueFd parent(OpenResolved(root_, Parent(rel), O_PATH | O_DIRECTORY, kBeneath));
    if (!parent.valid()) return Status::IOError(Shown(Parent(rel)));
    const std::string leaf = Leaf(rel);
    stats_.entries++;
    if (meta.type == EntryType::kDirectory) return Dir(parent.get(), leaf, rel, meta);
    RETURN_IF_ERROR(MakeRoom(parent.get(), leaf, rel));
    switch (meta.type) {
      case EntryType::kRegular:
        return File(parent.get(), leaf, rel, ref, meta);
      case EntryType::kSymlink:
        if (::symlinkat(meta.link_target.c_str(), parent.get(), leaf.c_str()) != 0)
          return Status::IOError(Shown(rel));
        return Finish(parent.get(), leaf, rel, meta);
      default:
        return Special(parent.get(), leaf, rel, meta);
    }
  }

  // Directories get their mode, times and xattrs last (their children
  // change their mtime; a mode without write permission would refuse them).
  Status FinishDirs() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd fd(OpenResolved(root_, it->first, O_RDONLY | O_DIRECTORY, kBeneath));
      if (!fd.valid()) return Status::IOError(Shown(it->first));
      RETURN_IF_ERROR(Meta(fd.get(), it->first, *it->second));
    }
    return Status::Ok();
  }

  const CopyOutStats& stats() const { return stats_; }

 private:
  std::string Shown(const std::string& rel) const {
    return rel.empty() ? shown_ : shown_ + "/" + rel;
  }

  // An existing entry at leaf that is not a directory is removed.
  Status MakeRoom(int parent, const std::string& leaf, const std::string& rel) {
    struct stat st;
    if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return errno == ENOENT ? Status::Ok() : Status::IOError(Shown(rel));
    if (S_ISDIR(st.st_mode))
      return Status::Exists(Shown(rel) + ": cannot overwrite a directory with a non-directory");
    if (::unlinkat(parent, leaf.c_str(), 0) != 0) return Status::IOError(Shown(rel));
    return Status::Ok();
  }

  Status Dir(int parent, const std::string& leaf, const std::string& rel, const TocEntry& meta) {
    if (!leaf.empty() && ::mkdirat(parent, leaf.c_str(), 0700) != 0) {
      struct stat st;
      if (errno != EEXIST) return Status::IOError(Shown(rel));
      if (::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return Status::IOError(Shown(rel));
      if (!S_ISDIR(st.st_mode)) {
        RETURN_IF_ERROR(MakeRoom(parent, leaf, rel));
        if (::mkdirat(parent, leaf.c_str(), 0700) != 0) return Status::IOError(Shown(rel));
      }
    }
    dirs_.emplace_back(rel, &meta);
    return Status::Ok();
  }

  Status File(int parent, const std::string& leaf, const std::string& rel, LayerStack::Ref ref,
              const TocEntry& meta) {
    LayerStack::Ref data = stack_.ResolveHardlink(ref);
    const uint64_t key = uint64_t{data.layer} << 32 | data.entry;
    if (auto it = first_.find(key); it != first_.end()) {
      UniqueFd from(OpenResolved(root_, Parent(it->second), O_PATH | O_DIRECTORY, kBeneath));
      if (!from.valid() ||
          ::linkat(from.get(), Leaf(it->second).c_str(), parent, leaf.c_str(), 0) != 0)
        return Status::IOError(Shown(rel));
      return Status::Ok();
    }
    first_.emplace(key, rel);
    UniqueFd fd(
        ::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return Status::IOError(Shown(rel));
    FdSink sink(fd.get());
    Status s = ReadMergedFile(stack_, chunks_, data, sink);
    if (!s.ok()) return s.Prefix(Shown(rel));
    stats_.bytes += meta.size;
    return Meta(fd.get(), rel, meta);
  }

  Status Special(int parent, const std::string& leaf, const std::string& rel,
                 const TocEntry& meta) {
    mode_t type = EntryTypeBits(meta.type);
    if (type != S_IFIFO && !as_root_) {
      stats_.skipped++;
      if (log_) log_(Shown(rel) + ": a device, left out (needs root)");
      return Status::Ok();
    }
    if (::mknodat(parent, leaf.c_str(), type | 0600, makedev(meta.dev_major, meta.dev_minor)) != 0)
      return Status::IOError(Shown(rel));
    return Finish(parent, leaf, rel, meta);
  }

  // Owner and times of an entry not opened (symlinks, fifos, devices): by name.
  Status Finish(int parent, const std::string& leaf, const std::string& rel, const TocEntry& meta) {
    if (as_root_ && ::fchownat(parent, leaf.c_str(), meta.uid, meta.gid, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::IOError(Shown(rel));
    if (meta.type != EntryType::kSymlink &&
        ::fchmodat(parent, leaf.c_str(), meta.mode & 07777, 0) != 0)
      return Status::IOError(Shown(rel));
    struct timespec ts[2] = {{meta.mtime_sec, static_cast<long>(meta.mtime_nsec)},
                             {meta.mtime_sec, static_cast<long>(meta.mtime_nsec)}};
    if (::utimensat(parent, leaf.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      return Status::IOError(Shown(rel));
    return Status::Ok();
  }

  // Owner (root only), xattrs, mode, times of an open file or directory.
  Status Meta(int fd, const std::string& rel, const TocEntry& meta) {
    if (as_root_ && ::fchown(fd, meta.uid, meta.gid) != 0) return Status::IOError(Shown(rel));
    for (const auto& [k, v] : meta.xattrs) {
      if (::fsetxattr(fd, k.c_str(), v.data(), v.size(), 0) == 0) continue;
      if (errno != EPERM && errno != ENOTSUP && errno != EACCES)
        return Status::IOError(Shown(rel) + ": xattr " + k);
      if (log_) log_(Shown(rel) + ": xattr " + k + " left out (" + std::strerror(errno) + ")");
    }
    if (::fchmod(fd, meta.mode & 07777) != 0) return Status::IOError(Shown(rel));
    struct timespec ts[2] = {{meta.mtime_sec, static_cast<long>(meta.mtime_nsec)},
                             {meta.mtime_sec, static_cast<long>(meta.mtime_nsec)}};
    if (::futimens(fd, ts) != 0) return Status::IOError(Shown(rel));
    return Status::Ok();
  }

  const LayerStack& stack_;
  ChunkSource& chunks_;
  int root_;
  std::string shown_;  // the destination directory, for messages
  const std::function<void(const std::string&)>& log_;
  bool as_root_;
  CopyOutStats stats_;
  std::map<uint64_t, std::string> first_;  // data entry -> first path written
  std::vector<std::pair<std::string, const TocEntry*>> dirs_;
};

// Where the copy goes: the directory it is made in, and the name of its top
// ("" when the image's root's contents go straight into that directory).
struct Target {
  std::string dir, top;
};

Result<Target> PlaceCopy(const std::string& src, bool src_is_dir, const std::string& dest) {
  std::vector<std::string> comps = SplitComponents(src);
  std::string src_leaf = comps.empty() ? "" : comps.back();
  struct stat st;
  if (::stat(dest.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Target{dest, src_leaf};
  if (::lstat(dest.c_str(), &st) == 0 && src_is_dir)
    return Status::Exists(dest + ": cannot copy a directory over a non-directory");
  std::string d = dest;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  size_t slash = d.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : d.substr(0, slash);
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::NotFound(parent + ": no such directory");
  return Target{parent, d.substr(slash + 1)};
}

}  // namespace

Result<CopyOutStats> CopyOut(const LayerStack& stack, ChunkSource& chunks, const std::string& src,
                             const std::string& dest,
                             const std::function<void(const std::string&)>& log) {
  auto resolved = ResolveMergedPath(stack, src, false);
  if (!resolved.ok()) return resolved.status().Prefix(src);
  auto found = LookupMerged(stack, *resolved);
  if (!found.ok()) return found.status().Prefix(src);
  LayerStack::Ref ref = *found;
  const bool is_dir = stack.Entry(ref).type == EntryType::kDirectory;
  ASSIGN_OR_RETURN(Target t, PlaceCopy(*resolved, is_dir, dest));
  UniqueFd root(::open(t.dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return Status::IOError(t.dir);
  CopyWriter w(stack, chunks, root.get(), t.dir, log);
  if (!t.top.empty()) RETURN_IF_ERROR(w.Add(t.top, ref));
  if (is_dir) {
    ASSIGN_OR_RETURN(auto entries, ListMerged(stack, *resolved, true));
    for (const auto& e : entries)
      RETURN_IF_ERROR(w.Add(t.top.empty() ? e.path : t.top + "/" + e.path, e.ref));
  }
  RETURN_IF_ERROR(w.FinishDirs());
  return w.stats();
}

}  // namespace cfs::builder
