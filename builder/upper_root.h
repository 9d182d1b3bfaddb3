// A build step's rootfs written without a mount: the merged view overlayfs
// would show (the step's upper dir over the image so far, a Lower), with
// every change made in the upper dir directly, in the kernel's upper format:
//   - a directory only the lower has is copied up (mode, owner, xattrs but
//     trusted.overlay.*, times; its parent's times kept) before anything is
//     made in it, as overlayfs copies up a directory;
//   - a non-directory replacing a lower non-directory is simply made in the
//     upper dir (it hides the lower one: overlayfs's unlink + create leaves no
//     whiteout either);
//   - a directory replacing a non-directory the lower has is marked opaque
//     (trusted.overlay.opaque=y), as overlayfs's mkdir over a whiteout;
//   - nothing ever replaces a directory (COPY and ADD refuse to), so no
//     whiteout (char 0/0) is needed; a whiteout met in the upper dir reads as
//     absent and is replaced.
// Paths are resolved in the merged view, symlinks (of the upper dir or the
// lower) included, with openat2's RESOLVE_IN_ROOT or RESOLVE_BENEATH rules,
// so nothing is ever written outside the upper dir. Nothing else may change
// the upper dir meanwhile (no live mount of it: its caches would go stale).
#pragma once

#include <sys/stat.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/io.h"
#include "base/status.h"
#include "builder/placeholder.h"
#include "fs/lower.h"

namespace cfs::builder {

class UpperRoot {
 public:
  // upper_fd: the upper dir (O_RDONLY | O_DIRECTORY), borrowed; lower: the
  // image so far (borrowed), or null for none (then this is a plain
  // directory tree written in place).
  UpperRoot(int upper_fd, Lower* lower) : upper_(upper_fd), lower_(lower) {}

  // Where COPY records the placeholders it writes (builder/placeholder.h);
  // borrowed; null (the default): files are written with their data. An
  // entry ClearForNonDir or MakeDir replaces is forgotten there.
  void set_placeholders(Placeholders* p) { placeholders_ = p; }
  Placeholders* placeholders() const { return placeholders_; }

  // A directory of the merged view, present in the upper dir.
  struct Dir {
    UniqueFd fd;       // the upper dir's directory, O_RDONLY | O_DIRECTORY
    std::string path;  // its rootfs path without symlinks ("" = the top)
  };

  // How a path is resolved: as in the rootfs ("/" and ".." stop at its top,
  // absolute symlinks start there), or below a base directory (an absolute
  // path or symlink, or ".." above the base, is EXDEV).
  enum class Scope { kInRoot, kBeneath };

  // Resolves `path` from directory `base` (a Dir's path) to a directory,
  // making missing ones (0755) and copying up lower ones. Returns 0 or an
  // errno: ENOTDIR (a non-directory on the way), ELOOP (over 40 symlinks),
  // EXDEV (kBeneath: leaves the base), or the system call's.
  int OpenDir(const std::string& base, const std::string& path, Scope scope, Dir* out);
  // True when `path` (kInRoot) is a directory of the merged view; changes nothing.
  bool IsDir(const std::string& path);

  // The merged view's lstat of `name` in d; nullopt when absent. *in_upper:
  // whether the upper dir holds it.
  Result<std::optional<struct stat>> Stat(const Dir& d, const std::string& name, bool* in_upper = nullptr);
  // Room for a new non-directory `name` in d: EISDIR when a directory is
  // there, else what the upper dir holds there is removed. 0 or an errno.
  int ClearForNonDir(const Dir& d, const std::string& name);
  // Directory `name` in d, made with mode (umask applies) when absent or a
  // non-directory (that is replaced; opaque when the lower has one there),
  // copied up when only the lower has it. 0 or an errno.
  int MakeDir(const Dir& d, const std::string& name, mode_t mode);
  // Opens the upper dir's `path` (a Dir path, no symlinks followed).
  int OpenUpper(const std::string& path, int flags);

 private:
  // The merged lstat of rootfs path p; parent_fd: the upper dir's directory
  // holding p, or -1 when it has none.
  Result<std::optional<struct stat>> StatAt(int parent_fd, const std::string& p, bool* in_upper);
  Result<std::string> ReadLink(int parent_fd, const std::string& p, bool in_upper);
  int Walk(const std::string& base, const std::string& path, Scope scope, bool create, Dir* out);
  UniqueFd Reopen(const std::vector<std::string>& stack);
  int EnsureUpperDir(int parent_fd, const std::string& name, const std::string& p, bool exists,
                     bool in_upper);
  int CopyUpDir(int parent_fd, const std::string& name, const std::string& p);
  int MarkOpaque(int parent_fd, const std::string& name, const std::string& p);
  bool UnderOpaque(const std::string& p) const;

  int upper_;
  Lower* lower_;
  Placeholders* placeholders_ = nullptr;
  std::set<std::string> opaque_;  // directories this root made opaque
};

}  // namespace cfs::builder
