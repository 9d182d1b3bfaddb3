// The record a live clusterfs mount leaves for other processes (cimg commit
// reads it), and where its daemon's pid file goes.
//
// Both live in /run/clusterfs (root) or /run/user/UID/clusterfs (others),
// named after the mount point: HASH.json (this record) and HASH.pid (the
// daemon's pid and a newline), HASH being the first 16 hex digits of the
// SHA-256 of the mount point's real path. They exist while the mount is
// served. The record is one JSON object:
//   "mountpoint"  the mount point (real path)
//   "root"        the store root ("" when no lower is an image)
//   "source"      IMAGE as given ("none" for none)
//   "manifests"   the manifest digests of the images mounted, "" for a
//                 registry image read lazily
//   "dir_lowers"  how many lowers are directories
//   "upper", "work"  the upper and work dirs ("" when read-only)
//   "pid"         the daemon's pid
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/status.h"

namespace cfs::mount {

struct MountState {
  std::string mountpoint, root, source;
  std::vector<std::string> manifests;
  int dir_lowers = 0;
  std::string upper, work;
  pid_t pid = 0;
};

// The file of mount point `mnt` (a real path) with extension `ext` (".json"
// for the record, ".pid" for the pid file). Creates nothing.
std::string MountRecordPath(const std::string& mnt, const std::string& ext);

// Creates the directory of the records (best effort; mode 0700).
void MakeMountRecordDir();

// Writes s as the record of s.mountpoint (atomically, mode 0600), creating
// the directory.
Status WriteMountState(const MountState& s);

// The record of mount point `mnt` (a real path): the read's error when there
// is none (IOError), Corruption when it is malformed.
Result<MountState> ReadMountState(const std::string& mnt);

}  // namespace cfs::mount
