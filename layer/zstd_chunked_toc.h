// The entries of a zstd:chunked TOC (its JSON "entries"), as TocEntries:
// what a lazy mount serves before, or without, the layer's tar-split. The
// tar-split (the raw tar headers) stays the authority for the layer: once
// it is fetched, the TOC's entries must agree with it on everything a mount
// shows (as containers/storage checks). Private to layer/
// (zstd_chunked_reader.cc).
#pragma once

#include "base/time.h"  // ParseRfc3339, which the TOC's times use

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "layer/toc.h"

namespace cfs {

// One TocEntry per non-"chunk" TOC entry, in TOC (tar) order, names
// normalized; chunk lists left empty (first_chunk/num_chunks 0); uname and
// gname empty (the TOC has none). Refused (Corruption, naming the entry):
// an unknown type, a bad name or link target, a path through a symlink of
// the layer, a malformed number or time.
Result<std::vector<TocEntry>> TocEntriesOf(const nlohmann::json& entries, const std::string& what);

// Ok when the entries from the TOC and from the tar-split are the same
// files: type, name, link target, mode, owner ids, mtime, size, device
// numbers and xattrs (the tar's may add LIBARCHIVE.xattr ones, which a TOC
// written as Go's archive/tar reads the tar lacks), entry by entry.
// Corruption naming the first that differs otherwise.
Status CheckTocMatchesTar(const std::vector<TocEntry>& from_toc,
                          const std::vector<TocEntry>& from_tar, const std::string& what);

}  // namespace cfs
