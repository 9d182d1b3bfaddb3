#include "mount/mount_table.h"

#include <fstream>
#include <sstream>

namespace cfs::mount {

std::string MountDevice(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, dev;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, majmin, root, mp;
    ls >> id >> parent >> majmin >> root >> mp;
    if (mp == path) dev = majmin;  // the last (topmost) mount wins
  }
  return dev;
}

bool IsMountPoint(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string f[5];
    for (auto& x : f) ls >> x;
    // Field 5 is the mount point, with octal escapes for spaces etc.
    std::string mp;
    for (size_t i = 0; i < f[4].size(); ++i) {
      if (f[4][i] == '\\' && i + 3 < f[4].size()) {
        mp += static_cast<char>(std::stoi(f[4].substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        mp += f[4][i];
      }
    }
    if (mp == path) return true;
  }
  return false;
}

}  // namespace cfs::mount
