// Files of the merged view of a LayerStack: what a path is, and a regular
// file's bytes read chunk by chunk through a ChunkSource (every chunk
// verified by the source). What cimg ls/cat/cp/export and deploy read an
// image's files with.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/io.h"
#include "base/status.h"
#include "layer/chunk_source.h"
#include "layer/layer_stack.h"

namespace cfs {

// The entry that holds the metadata a user sees at a merged path: a hard
// link's target entry (ResolveHardlink), any other entry itself.
const TocEntry& MergedMeta(const LayerStack& stack, LayerStack::Ref r);

// `path` ("/a/b", "a/b"; "" or "/" is the root) with the symlinks of its
// directories resolved as the kernel would inside a chroot of the merged
// view (an absolute target starts at its root, ".." stops there), and of
// its last component too when follow_last or when path ends in "/"
// (as "link/" names the directory): the path without symlinks
// ("a/b"), which need not exist. Invalid "too many levels of symbolic
// links" after 40.
Result<std::string> ResolveMergedPath(const LayerStack& stack, std::string_view path,
                                      bool follow_last);

// The entry at `path` (resolved as ResolveMergedPath). NotFound "no such
// file or directory" (the caller names the path) when there is none.
Result<LayerStack::Ref> LookupMerged(const LayerStack& stack, std::string_view path,
                                     bool follow_last = false);

// Writes the bytes of the regular file (or hard link to one) `r` to out,
// chunk after chunk. Invalid when r is another type; Corruption when the
// chunks do not add up to the entry's size.
Status ReadMergedFile(const LayerStack& stack, ChunkSource& chunks, LayerStack::Ref r,
                      ByteSink& out);

// The same, into memory.
Result<std::string> ReadMergedFileBytes(const LayerStack& stack, ChunkSource& chunks,
                                        LayerStack::Ref r);

}  // namespace cfs

namespace cfs {

// One entry of a merged directory listing.
struct MergedListEntry {
  std::string path;  // relative to the listed directory ("a", "a/b"); the name for a file
  LayerStack::Ref ref;
};

// The entries of directory `path` (its directories' symlinks resolved, not
// its last component's) sorted by name, with `recursive` their subtrees too
// (a parent before its children); a non-directory lists itself.
// NotFound as LookupMerged.
Result<std::vector<MergedListEntry>> ListMerged(const LayerStack& stack, std::string_view path,
                                                bool recursive);

}  // namespace cfs
