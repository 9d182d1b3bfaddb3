// ADD's archives: sealer hands ADD to buildah, whose copier unpacks a local
// source that reads as a tar archive (plain, gzip, bzip2, xz or zstd,
// decided by its contents, not its name) into the destination directory.
// URLs are never unpacked. Here the unpacking never writes outside the
// destination: a member named absolutely or with a ".." component, or whose
// parent directories lead out of the destination through a symlink (an
// absolute one, or one climbing above it), is refused by name and nothing
// more is unpacked. A hard link must name a file this step wrote before it
// inside the destination (an earlier member; not a file of the image
// below); device nodes, FIFOs and sockets are refused, and so are names the
// layer format reserves (".wh." whiteouts). Members keep their
// mode and mtime; everything is owned by root, as COPY's files are.
#pragma once

#include <string>

#include "base/status.h"
#include "builder/upper_root.h"

namespace cfs::builder {

// True when the regular file at `path` decompresses (none, gzip, bzip2, xz,
// zstd) to a stream that starts with a valid tar header (buildah's
// isArchivePath). An empty archive is not one: it is copied as a file.
bool IsTarArchive(const std::string& path);

// Unpacks the archive at `path` into the directory `dest` of root. `shown` names the archive in errors:
// "SHOWN: member \"NAME\": reason".
Status UnpackTarArchive(const std::string& path, UpperRoot& root, const UpperRoot::Dir& dest,
                        const std::string& shown);

}  // namespace cfs::builder
