// Placeholders: a build step's regular files from the local context written
// into its upper dir without their data. A placeholder is the file with its
// name, mode, owner, times and xattrs as a copy would have them, and its
// size set by ftruncate (sparse: no data blocks); the table records where
// its data is (the context file and that file's stat at copy time). The
// upper dir then goes to Store::ImportDirLayer with the table
// (ImportDirOptions::data_from), which reads each placeholder's data from
// its context file and fails, naming the file, when that file changed since
// (builder/builder.cc). So a COPY writes and reads back no file data.
//
// Nothing but that import may read a placeholder as content: a step's upper
// dir holds placeholders only when it goes straight to the import (COPY,
// ADD and APP steps of cimg build; never a mount, RUN, the image collection
// or cimg commit). Downloads and ADD's archive members are real files.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "base/io.h"
#include "base/status.h"
#include "store/store.h"

namespace cfs::builder {

// Not thread-safe: one step's copy fills it, then the import reads it.
class Placeholders {
 public:
  // Makes `out` (a new empty regular file, the upper dir's `rel`: a path
  // relative to the upper dir, "a/b") the placeholder of the context file
  // open as `in` (at `src`): out gets in's size (sparse) and rel -> src is
  // recorded with in's fstat. An empty file needs no record (it is whole).
  Status Make(int in, int out, const std::string& src, const std::string& rel);
  // The upper dir's `rel` is being replaced (by a file, symlink or
  // directory): it is no longer a placeholder.
  void Forget(const std::string& rel) { data_.erase(rel); }

  // For ImportDirOptions::data_from.
  const std::map<std::string, ExternalFileData>& data() const { return data_; }
  size_t size() const { return data_.size(); }

 private:
  std::map<std::string, ExternalFileData> data_;
};

// Where a step's upper dir of placeholders goes: a new private directory in
// /dev/shm when that is a tmpfs, nullopt when it is not (the upper dir then
// stays in the build's work dir, on disk). The tree is metadata only
// (placeholders are sparse), and making its inodes on a tmpfs costs a
// fraction of ext4's, which searches its inode tables for recently deleted
// inodes to skip at every create: 40% of a fresh build's time there.
// Only for steps whose upper dir holds placeholders and no data (no
// download, no unpacked archive). Removed with the TempDir.
Result<std::optional<TempDir>> MemoryUpperDir();

}  // namespace cfs::builder
