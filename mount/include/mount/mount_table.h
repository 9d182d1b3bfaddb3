// Questions to this process's mount table (/proc/self/mountinfo).
#pragma once

#include <string>

namespace cfs::mount {

// Whether something is mounted at `path` (a real path).
bool IsMountPoint(const std::string& path);

// The "major:minor" of the filesystem mounted at `path` (the topmost mount
// there), or "" when nothing is.
std::string MountDevice(const std::string& path);

}  // namespace cfs::mount
