#include "builder/upper_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <deque>
#include <vector>

#include "builder/rootfs_path.h"
#include "layer/whiteouts.h"

namespace cfs::builder {

namespace {

constexpr int kMaxLinks = 40;  // as the kernel's path walk

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string Base(const std::string& p) {
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

int Errno(int fallback = EIO) { return errno ? errno : fallback; }

}  // namespace

int UpperRoot::OpenUpper(const std::string& path, int flags) {
  return OpenResolved(upper_, path, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
}

bool UpperRoot::UnderOpaque(const std::string& p) const {
  if (opaque_.empty()) return false;
  for (size_t slash = p.find('/'); slash != std::string::npos; slash = p.find('/', slash + 1))
    if (opaque_.count(p.substr(0, slash))) return true;
  return false;
}

// parent_fd: the upper dir's directory holding p, or -1 when it has none.
Result<std::optional<struct stat>> UpperRoot::StatAt(int parent_fd, const std::string& p, bool* in_upper) {
  *in_upper = false;
  struct stat st;
  if (parent_fd >= 0) {
    if (::fstatat(parent_fd, Base(p).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      *in_upper = true;
      if (IsOverlayWhiteout(st)) return std::optional<struct stat>();
      return std::optional<struct stat>(st);
    }
    if (errno != ENOENT) return Status::IOError("upper dir: " + p);
  }
  if (!lower_ || UnderOpaque(p)) return std::optional<struct stat>();
  ASSIGN_OR_RETURN(LowerEntry e, lower_->Stat(p));
  if (e.kind != LowerEntry::Kind::kEntry) return std::optional<struct stat>();
  return std::optional<struct stat>(e.st);
}

Result<std::optional<struct stat>> UpperRoot::Stat(const Dir& d, const std::string& name, bool* in_upper) {
  bool up = false;
  auto r = StatAt(d.fd.get(), Join(d.path, name), &up);
  if (in_upper) *in_upper = up;
  return r;
}

Result<std::string> UpperRoot::ReadLink(int parent_fd, const std::string& p, bool in_upper) {
  if (!in_upper) return lower_->ReadLink(p);
  std::string t(4096, '\0');
  ssize_t n = ::readlinkat(parent_fd, Base(p).c_str(), t.data(), t.size());
  if (n < 0) return Status::IOError("upper dir: readlink " + p);
  t.resize(static_cast<size_t>(n));
  return t;
}

// A copy-up of lower directory p as name in parent_fd (the kernel's: owner,
// mode, xattrs, times; the parent's times kept).
int UpperRoot::CopyUpDir(int parent_fd, const std::string& name, const std::string& p) {
  auto e = lower_->Stat(p);
  if (!e.ok() || e->kind != LowerEntry::Kind::kEntry) return EIO;
  auto xs = lower_->Xattrs(p);
  if (!xs.ok()) return EIO;
  struct stat pst;
  if (::fstat(parent_fd, &pst) != 0) return errno;
  if (::mkdirat(parent_fd, name.c_str(), 0700) != 0) return errno;
  UniqueFd d(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d.valid()) return errno;
  const struct stat& st = e->st;
  // Owner first: chown clears setuid/setgid, chmod then sets the mode.
  if (::fchown(d.get(), st.st_uid, st.st_gid) != 0 || ::fchmod(d.get(), st.st_mode & 07777) != 0)
    return errno;
  for (const auto& [k, v] : *xs) {
    if (k.rfind("trusted.overlay.", 0) == 0) continue;
    if (::fsetxattr(d.get(), k.c_str(), v.data(), v.size(), 0) != 0) return errno;
  }
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  if (::futimens(d.get(), ts) != 0) return errno;
  struct timespec pts[2] = {pst.st_atim, pst.st_mtim};
  ::futimens(parent_fd, pts);
  return 0;
}

// Directory p (merged: a directory when `exists`) as name in parent_fd.
int UpperRoot::EnsureUpperDir(int parent_fd, const std::string& name, const std::string& p, bool exists,
                              bool in_upper) {
  if (exists) return in_upper ? 0 : CopyUpDir(parent_fd, name, p);
  if (in_upper && ::unlinkat(parent_fd, name.c_str(), 0) != 0) return errno;  // a whiteout
  if (::mkdirat(parent_fd, name.c_str(), 0755) != 0) return errno;
  return in_upper ? MarkOpaque(parent_fd, name, p) : 0;
}

int UpperRoot::MarkOpaque(int parent_fd, const std::string& name, const std::string& p) {
  UniqueFd d(::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d.valid()) return errno;
  if (::fsetxattr(d.get(), kOverlayOpaqueXattr, "y", 1, 0) != 0) return errno;
  opaque_.insert(p);
  return 0;
}

bool UpperRoot::IsDir(const std::string& path) {
  Dir d;
  return Walk("", path, Scope::kInRoot, false, &d) == 0;
}

int UpperRoot::OpenDir(const std::string& base, const std::string& path, Scope scope, Dir* out) {
  return Walk(base, path, scope, true, out);
}

// The upper dir's directory of the components stack (invalid when it has none).
UniqueFd UpperRoot::Reopen(const std::vector<std::string>& stack) {
  return UniqueFd(OpenUpper(JoinComponents(stack, stack.size()), O_RDONLY | O_DIRECTORY));
}

int UpperRoot::Walk(const std::string& base, const std::string& path, Scope scope, bool create, Dir* out) {
  const bool beneath = scope == Scope::kBeneath;
  if (beneath && !path.empty() && path[0] == '/') return EXDEV;
  std::vector<std::string> stack = SplitComponents(base);
  const size_t floor = beneath ? stack.size() : 0;
  std::deque<std::string> todo;
  for (auto& c : SplitComponents(path)) todo.push_back(std::move(c));
  int links = 0;
  UniqueFd cur = Reopen(stack);
  if (!cur.valid() && create) return Errno();
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c == "..") {
      if (stack.size() > floor) {
        stack.pop_back();
        cur = Reopen(stack);
      } else if (beneath) {
        return EXDEV;
      }
      continue;
    }
    const std::string p = Join(JoinComponents(stack, stack.size()), c);
    bool in_upper = false;
    auto st = StatAt(cur.get(), p, &in_upper);
    if (!st.ok()) return EIO;
    if (*st && S_ISLNK((*st)->st_mode)) {
      if (++links > kMaxLinks) return ELOOP;
      auto target = ReadLink(cur.get(), p, in_upper);
      if (!target.ok()) return EIO;
      if (!target->empty() && (*target)[0] == '/') {
        if (beneath) return EXDEV;
        stack.clear();
      }
      auto tc = SplitComponents(*target);
      todo.insert(todo.begin(), tc.begin(), tc.end());
      cur = Reopen(stack);
      continue;
    }
    if (*st && !S_ISDIR((*st)->st_mode)) return ENOTDIR;
    if (!*st && !create) return ENOENT;
    if (create) {
      if (int err = EnsureUpperDir(cur.get(), c, p, st->has_value(), in_upper)) return err;
    }
    stack.push_back(std::move(c));
    cur.Reset(cur.valid() ? ::openat(cur.get(), stack.back().c_str(),
                                     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                          : -1);
    if (create && !cur.valid()) return Errno();
  }
  out->path = JoinComponents(stack, stack.size());
  out->fd = std::move(cur);
  return 0;
}

int UpperRoot::ClearForNonDir(const Dir& d, const std::string& name) {
  bool in_upper = false;
  auto st = Stat(d, name, &in_upper);
  if (!st.ok()) return EIO;
  if (*st && S_ISDIR((*st)->st_mode)) return EISDIR;
  if (in_upper && ::unlinkat(d.fd.get(), name.c_str(), 0) != 0) return errno;
  if (placeholders_) placeholders_->Forget(Join(d.path, name));
  return 0;
}

int UpperRoot::MakeDir(const Dir& d, const std::string& name, mode_t mode) {
  const std::string p = Join(d.path, name);
  bool in_upper = false;
  auto st = Stat(d, name, &in_upper);
  if (!st.ok()) return EIO;
  if (*st && S_ISDIR((*st)->st_mode)) return in_upper ? 0 : CopyUpDir(d.fd.get(), name, p);
  // What the new directory replaces: in the lower (then it hides the lower's
  // entry, opaque), or only in the upper dir (gone).
  bool hides_lower = (in_upper && !*st) || (*st && !in_upper);
  if (in_upper && *st && lower_ && !UnderOpaque(p)) {
    auto e = lower_->Stat(p);
    if (!e.ok()) return EIO;
    hides_lower = e->kind == LowerEntry::Kind::kEntry;
  }
  if (in_upper && ::unlinkat(d.fd.get(), name.c_str(), 0) != 0) return errno;
  if (placeholders_) placeholders_->Forget(p);
  if (::mkdirat(d.fd.get(), name.c_str(), mode) != 0) return errno;
  return hides_lower ? MarkOpaque(d.fd.get(), name, p) : 0;
}

}  // namespace cfs::builder
