// The merged view of a LayerStack as one tar, as `podman export` writes a
// container's rootfs: every path of the view (the root itself not listed),
// parents before children, names relative ("etc/passwd"); mode, owner,
// mtime, symlink targets, device numbers and xattrs (PAX records) kept.
// Paths that share data in the view (a file and its hard links) are one
// file and hard links to the first of them written. Whiteouts and opaque
// markers never appear: they are applied. File data is read through the
// ChunkSource, every chunk verified.
#pragma once

#include <string>

#include "base/io.h"
#include "base/status.h"
#include "layer/chunk_source.h"
#include "layer/layer_stack.h"

struct archive_entry;  // libarchive's

namespace cfs {

// Clears x and describes `meta` (what the merged view shows at `path`:
// MergedMeta) named `path`: type, permission bits, numeric owner (no
// names: a tar extracted elsewhere keeps the image's ids), mtime, symlink
// target, device numbers, xattrs, and size (a regular file's). The one
// header of a merged entry, for this tar and for deploy's rootfs stream.
void FillTarEntry(archive_entry* x, const std::string& path, const TocEntry& meta);

// Writes the tar (uncompressed, POSIX pax) to out. Errors name the path
// whose data could not be read, or the write that failed.
Status WriteMergedTar(const LayerStack& stack, ChunkSource& chunks, ByteSink& out);

}  // namespace cfs
