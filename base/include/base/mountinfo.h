// The mount table of this process (/proc/self/mountinfo), parsed once here.
//
// Each line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ..."; ROOT and
// MOUNTPOINT are octal-escaped ("\040" for a space) and come back unescaped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cfs {

struct MountInfo {
  std::string device;       // "major:minor"
  std::string root;         // the mounted path inside its filesystem
  std::string mount_point;  // absolute
};

// The mounts of a mountinfo text, in its order (parents before children);
// malformed lines are skipped.
std::vector<MountInfo> ParseMountInfo(std::string_view text);

// ParseMountInfo of /proc/self/mountinfo.
Result<std::vector<MountInfo>> ReadMountInfo();

}  // namespace cfs
