// Overlay lookup: what a name in a merged directory resolves to, as the
// kernel's overlayfs decides it. Not a public header; OverlayFs::Resolve
// (fs/overlay_lookup.cc) fills it.
//
// The upper dir is looked at first: a whiteout there hides the name, an
// entry there is the object (a directory in the upper dir merges the lowers'
// directories of the same path below it unless it is opaque). Otherwise the
// lowers of the parent are asked top first: the first entry is the object
// (a directory merges the lowers below it down to an opaque one, a
// non-directory, or a whiteout), and a whiteout before any entry hides it.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/io.h"
#include "fs/inode_table.h"

namespace cfs {

// What a name resolves to in the merged view, before it becomes an Inode.
struct Resolved {
  bool found = false;
  struct stat st {};           // the topmost provider's attributes (st_ino mount-unique)
  UniqueFd upper;              // O_PATH fd when the name is in the upper dir
  int lower = -1;              // non-dir from a lower: which one
  LowerList dir_lowers;
  uint32_t lower_nlink = 1;
  bool whiteout_in_upper = false;  // the upper dir holds a whiteout for the name
};

// A view of a resolved directory at merged `path`, to resolve names below
// it; not in the inode table (no parent: its name is `path`). Takes a copy
// of r's upper fd.
std::unique_ptr<Inode> DirView(const std::string& path, Resolved* r);

}  // namespace cfs
