#include "builder/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "base/io.h"
#include "builder/rootfs_path.h"

namespace cfs::builder {

namespace {

struct ArchiveFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
using Reader = std::unique_ptr<archive, ArchiveFree>;

// A reader of `path` as a tar, plain or compressed as buildah's
// compression.AutoDecompress knows (gzip, bzip2, xz, zstd); nullptr (and
// *why) when it cannot be opened.
Reader OpenTar(const std::string& path, std::string* why) {
  Reader a(archive_read_new());
  if (!a) {
    *why = "out of memory";
    return nullptr;
  }
  archive_read_support_filter_gzip(a.get());
  archive_read_support_filter_bzip2(a.get());
  archive_read_support_filter_xz(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    const char* e = archive_error_string(a.get());
    *why = e ? e : "cannot open";
    return nullptr;
  }
  return a;
}

// A member's name as components: "" and "." dropped; absolute names, ".."
// and whiteout names refused.
Result<std::vector<std::string>> MemberComponents(const char* raw) {
  if (!raw) return Status::Invalid("a name that is not text");
  std::string name = raw;
  if (!name.empty() && name[0] == '/') return Status::Invalid("an absolute name");
  std::vector<std::string> out = SplitComponents(name);
  for (const auto& c : out) {
    if (c == "..") return Status::Invalid("a \"..\" component (it would leave the destination)");
    if (c.rfind(".wh.", 0) == 0) return Status::Invalid("a whiteout name (.wh.), reserved by the layer format");
  }
  return out;
}

Status OpenError(const std::string& dir) {
  if (errno == EXDEV || errno == ELOOP)
    return Status::Invalid("its directory " + dir + " leads outside the destination through a symlink");
  if (errno == ENOTDIR) return Status::Invalid(dir + " is not a directory");
  return Status::IOError(dir);
}

using Dir = UpperRoot::Dir;

// The directory holding the last component of comps, below dest, its
// missing directories created (0755); no step of the way leaves dest.
Result<Dir> OpenParent(UpperRoot& root, const Dir& dest, const std::vector<std::string>& comps) {
  const std::string p = JoinComponents(comps, comps.size() - 1);
  Dir d;
  if (int err = root.OpenDir(dest.path, p, UpperRoot::Scope::kBeneath, &d)) {
    errno = err;
    return OpenError(p);
  }
  return d;
}

// Makes room for a new non-directory `base` in parent: what is there goes,
// unless it is a directory.
Status Clear(UpperRoot& root, const Dir& parent, const std::string& base) {
  int err = root.ClearForNonDir(parent, base);
  if (err == EISDIR) return Status::Invalid("a directory of that name is in the destination");
  if (err) {
    errno = err;
    return Status::IOError("replace " + base);
  }
  return Status::Ok();
}

struct DirTimes {
  std::string path;
  mode_t mode;
  struct timespec mtime;
};

class Unpacker {
 public:
  Unpacker(archive* a, UpperRoot& root, const Dir& dest) : a_(a), root_(root), dest_(dest) {}

  // One member.
  Status Entry(archive_entry* e) {
    ASSIGN_OR_RETURN(std::vector<std::string> comps, MemberComponents(archive_entry_pathname(e)));
    const mode_t type = archive_entry_filetype(e);
    const char* hardlink = archive_entry_hardlink(e);
    if (comps.empty()) return Status::Ok();  // the destination itself
    ASSIGN_OR_RETURN(Dir parent, OpenParent(root_, dest_, comps));
    const std::string& base = comps.back();
    struct timespec mtime = {archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
    const mode_t perm = archive_entry_perm(e) & 07777;
    if (hardlink) return Link(hardlink, parent, base);
    if (type == AE_IFDIR) return MakeDir(parent, base, perm, mtime);
    if (type == AE_IFREG) return File(parent, base, perm, mtime, archive_entry_size(e));
    if (type == AE_IFLNK) return Symlink(archive_entry_symlink(e), parent, base, mtime);
    return Status::Unsupported("device nodes, FIFOs and sockets are not unpacked");
  }

  // Directory modes and times last (deepest first): their contents changed them.
  void FinishDirs() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      UniqueFd d(root_.OpenUpper(it->path, O_RDONLY | O_DIRECTORY));
      if (!d.valid()) continue;
      ::fchmod(d.get(), it->mode);
      struct timespec ts[2] = {it->mtime, it->mtime};
      ::futimens(d.get(), ts);
    }
  }

 private:
  // A directory member (its rootfs path kept for FinishDirs).
  Status MakeDir(const Dir& parent, const std::string& base, mode_t perm, struct timespec mtime) {
    if (int err = root_.MakeDir(parent, base, 0755)) {
      errno = err;
      return Status::IOError("mkdir");
    }
    ::fchownat(parent.fd.get(), base.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW);
    dirs_.push_back({parent.path.empty() ? base : parent.path + "/" + base, perm, mtime});
    return Status::Ok();
  }

  Status File(const Dir& parent, const std::string& base, mode_t perm, struct timespec mtime,
              la_int64_t size) {
    RETURN_IF_ERROR(Clear(root_, parent, base));
    UniqueFd out(::openat(parent.fd.get(), base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.valid()) return Status::IOError("create");
    const void* buf;
    size_t n;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a_, &buf, &n, &off)) == ARCHIVE_OK) {
      // Sparse members: the holes stay holes.
      if (::lseek(out.get(), off, SEEK_SET) < 0) return Status::IOError("seek");
      RETURN_IF_ERROR(WriteAll(out.get(), buf, n));
    }
    if (r != ARCHIVE_EOF) return Status::Corruption(ErrorText());
    if (::ftruncate(out.get(), size) != 0) return Status::IOError("truncate");
    if (::fchown(out.get(), 0, 0) != 0 && errno != EPERM) return Status::IOError("chown");
    if (::fchmod(out.get(), perm) != 0) return Status::IOError("chmod");
    struct timespec ts[2] = {mtime, mtime};
    ::futimens(out.get(), ts);
    return Status::Ok();
  }

  Status Symlink(const char* target, const Dir& parent, const std::string& base, struct timespec mtime) {
    if (!target) return Status::Invalid("a symlink without a target");
    RETURN_IF_ERROR(Clear(root_, parent, base));
    const int pfd = parent.fd.get();
    if (::symlinkat(target, pfd, base.c_str()) != 0) return Status::IOError("symlink");
    ::fchownat(pfd, base.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW);
    struct timespec ts[2] = {mtime, mtime};
    ::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW);
    return Status::Ok();
  }

  // A hard link to an earlier member: a regular file below the destination
  // that this step wrote (not one of the image below).
  Status Link(const char* target, const Dir& parent, const std::string& base) {
    auto tc = MemberComponents(target);
    if (!tc.ok()) return tc.status().Prefix("hard link target");
    if (tc->empty()) return Status::Invalid("a hard link to the destination itself");
    ASSIGN_OR_RETURN(Dir tparent, OpenParent(root_, dest_, *tc));
    struct stat st;
    if (::fstatat(tparent.fd.get(), tc->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      return Status::Invalid("hard link target " + QuoteForMessage(target) + " is not a file unpacked before it");
    RETURN_IF_ERROR(Clear(root_, parent, base));
    if (::linkat(tparent.fd.get(), tc->back().c_str(), parent.fd.get(), base.c_str(), 0) != 0)
      return Status::IOError("link");
    return Status::Ok();
  }

  std::string ErrorText() const {
    const char* e = archive_error_string(a_);
    return e ? e : "unreadable";
  }

  archive* a_;
  UpperRoot& root_;
  const Dir& dest_;
  std::vector<DirTimes> dirs_;
};

}  // namespace

bool IsTarArchive(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::string why;
  Reader a = OpenTar(path, &why);
  if (!a) return false;
  archive_entry* e = nullptr;
  return archive_read_next_header(a.get(), &e) == ARCHIVE_OK;
}

Status UnpackTarArchive(const std::string& path, UpperRoot& root, const UpperRoot::Dir& dest,
                        const std::string& shown) {
  std::string why;
  Reader a = OpenTar(path, &why);
  if (!a) return Status::Invalid(shown + ": " + why);
  Unpacker u(a.get(), root, dest);
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      const char* msg = archive_error_string(a.get());
      return Status::Corruption(shown + ": " + (msg ? msg : "unreadable"));
    }
    const char* name = archive_entry_pathname(e);
    Status st = u.Entry(e);
    if (!st.ok()) return st.Prefix(shown + ": member " + QuoteForMessage(name ? name : "?"));
  }
  u.FinishDirs();
  return Status::Ok();
}

}  // namespace cfs::builder
