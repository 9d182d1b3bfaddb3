// What identifies a file's contents without reading them: its device,
// inode, size, mtime and ctime (nanoseconds included). A write changes
// mtime and ctime; restoring mtime (touch -r) sets ctime to now, and nothing
// lets a user set ctime; a file replaced by another has another inode or
// ctime. So while the identity holds, the bytes are the ones seen before
// (but for git's "racy" case: a change within the timestamps' granularity,
// which its users guard against). The build's digest cache
// (builder/digest_cache.h) and a placeholder's data check
// (store.h ExternalFileData) both rest on it.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>

namespace cfs {

struct FileIdentity {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_sec = 0, ctime_sec = 0;
  uint32_t mtime_nsec = 0, ctime_nsec = 0;

  static FileIdentity Of(const struct stat& st) {
    FileIdentity id;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = static_cast<uint64_t>(st.st_size);
    id.mtime_sec = st.st_mtim.tv_sec;
    id.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
    id.ctime_sec = st.st_ctim.tv_sec;
    id.ctime_nsec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
    return id;
  }
  // The later of mtime and ctime, in microseconds since the epoch (rounded up).
  int64_t NewestMicros() const {
    int64_t m = mtime_sec * 1'000'000 + (mtime_nsec + 999) / 1000;
    int64_t c = ctime_sec * 1'000'000 + (ctime_nsec + 999) / 1000;
    return std::max(m, c);
  }
  bool operator==(const FileIdentity&) const = default;
};

}  // namespace cfs
