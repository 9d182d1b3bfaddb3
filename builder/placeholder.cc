#include "builder/placeholder.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace cfs::builder {

Status Placeholders::Make(int in, int out, const std::string& src, const std::string& rel) {
  struct stat st;
  if (::fstat(in, &st) != 0) return Status::IOError("COPY: " + src);
  if (!S_ISREG(st.st_mode)) return Status::Invalid("COPY: " + src + ": not a regular file");
  if (st.st_size == 0) return Status::Ok();
  if (::ftruncate(out, st.st_size) != 0) return Status::IOError("COPY: size of " + rel);
  // The step's digest of the context reads it meanwhile, and the import
  // right after: asking for it now keeps the disk busy ahead of the digest
  // (a copy of the data did that before). Only a hint.
  (void)::posix_fadvise(in, 0, 0, POSIX_FADV_WILLNEED);
  ExternalFileData& e = data_[rel];
  e.path = src;
  e.id = FileIdentity::Of(st);
  return Status::Ok();
}

Result<std::optional<TempDir>> MemoryUpperDir() {
  struct statfs fs;
  if (::statfs("/dev/shm", &fs) != 0 || fs.f_type != TMPFS_MAGIC) return std::optional<TempDir>();
  auto dir = TempDir::Create("/dev/shm", "cimg-build-");
  if (!dir.ok()) return std::optional<TempDir>();  // not writable here: on disk
  if (::chmod(dir->path().c_str(), 0700) != 0) return Status::IOError("chmod " + dir->path());
  return std::optional<TempDir>(std::move(*dir));
}

}  // namespace cfs::builder
