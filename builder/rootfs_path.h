// Paths below a build's rootfs or a destination directory: splitting them
// into components, joining them back, and opening them with openat2 so that
// no step of the resolution (symlinks included) leaves the directory.
// Shared by COPY (copy.cc) and ADD's archive unpacking (archive.cc).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace cfs::builder {

// "a//b/./c" -> {"a", "b", "c"}: empty and "." components dropped, ".."
// kept (the caller refuses it with its own words).
std::vector<std::string> SplitComponents(const std::string& p);

// The first n components joined with "/".
std::string JoinComponents(const std::vector<std::string>& c, size_t n);

// openat2(dir_fd, path ("" = "."), flags | O_CLOEXEC, mode when O_CREAT)
// with `resolve` (RESOLVE_IN_ROOT or RESOLVE_BENEATH) and
// RESOLVE_NO_MAGICLINKS. Returns the fd, or -1 with errno set.
int OpenResolved(int dir_fd, const std::string& path, int flags, uint64_t resolve, mode_t mode = 0);

}  // namespace cfs::builder
