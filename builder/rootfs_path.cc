#include "builder/rootfs_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace cfs::builder {

std::vector<std::string> SplitComponents(const std::string& p) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    std::string c = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

std::string JoinComponents(const std::vector<std::string>& c, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; i++) s += (i ? "/" : "") + c[i];
  return s;
}

int OpenResolved(int dir_fd, const std::string& path, int flags, uint64_t resolve, mode_t mode) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = resolve | RESOLVE_NO_MAGICLINKS;
  const std::string p = path.empty() ? "." : path;
  return static_cast<int>(::syscall(SYS_openat2, dir_fd, p.c_str(), &how, sizeof how));
}

}  // namespace cfs::builder
