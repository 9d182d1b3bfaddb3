#include "mount/mount_table.h"

#include "base/mountinfo.h"

namespace cfs::mount {

std::string MountDevice(const std::string& path) {
  std::string dev;
  auto mounts = ReadMountInfo();
  if (!mounts.ok()) return dev;
  for (const auto& m : *mounts)
    if (m.mount_point == path) dev = m.device;  // the last (topmost) mount wins
  return dev;
}

bool IsMountPoint(const std::string& path) {
  auto mounts = ReadMountInfo();
  if (!mounts.ok()) return false;
  for (const auto& m : *mounts)
    if (m.mount_point == path) return true;
  return false;
}

}  // namespace cfs::mount
