// COPY: files from the build context (or http(s) URLs) into a rootfs, never
// outside it: every path in the rootfs is resolved with openat2
// RESOLVE_IN_ROOT, so ".." and symlinks (absolute ones too) stay inside.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "builder/digest_cache.h"
#include "builder/upper_root.h"

namespace cfs::builder {

// Bounds on one COPY http(s) download.
struct DownloadLimits {
  uint64_t max_bytes = uint64_t{1} << 30;  // larger downloads fail (default 1 GiB)
  long timeout_s = 1800;                   // the whole transfer (default 30 min)
  // Slower than low_speed_bytes/s for low_speed_s seconds fails.
  long low_speed_bytes = 1024, low_speed_s = 60;
};

struct CopySource {
  std::string display;  // as written (for messages)
  std::string path;     // an absolute path in the context, or a downloaded file
  std::string name;     // the name it gets in a directory destination
  bool remote = false;  // downloaded from an http(s) URL
};

// Resolves COPY sources: wildcards (glob) in the context, "${ARCH}" already
// expanded by the caller. Invalid for a source whose path leads outside the
// context (its directories are resolved, symlinks included) or one that
// matches nothing. A source that is itself a symlink is copied as a symlink,
// so what it points at (in or out of the context) is never read. URLs are
// downloaded into tmp_dir (TLS verified) within limits; a download that
// fails or breaks a limit leaves no file.
Result<std::vector<CopySource>> ResolveSources(const std::string& context,
                                               const std::vector<std::string>& srcs,
                                               const std::string& tmp_dir,
                                               const DownloadLimits& limits = {});

// A digest of the sources' names, types, modes, link targets and contents
// (each regular file's SHA-256 and size): the build cache's input key. The
// files' digests come from cache (builder/digest_cache.h) when given (a
// download is hashed all the same), else every file is read; stats (may be
// null) counts the files hashed and those the cache knew.
Result<Digest> DigestSources(const std::vector<CopySource>& srcs, DigestCache* cache = nullptr,
                             DigestCacheStats* stats = nullptr);

// Copies the sources to dest (relative to the rootfs dir root_fd, "/" and
// "." mean its top), as buildah copies for sealer (COPY and ADD): dest is a
// directory when it ends in "/", when there are several sources (after
// wildcards), when a source is a directory (or, with unpack_archives, a
// local tar archive), or when it exists as one; it is created with its
// parents. A directory source gives its contents ("COPY etc etc" makes
// etc/..., "COPY etc ." puts etc's entries at the top; so does each
// directory a wildcard matches); a file lands in a directory destination
// under its own name, else as dest. With unpack_archives (ADD), a local
// source that reads as a tar archive (builder/archive.h) is unpacked into
// dest instead; downloads are copied as they are. Files keep mode and
// mtimes, and are owned by root; symlinks are copied as symlinks.
// The rootfs is root: a build step's upper dir over the image so far
// (builder/upper_root.h), written directly in the overlay upper format.
// When root records placeholders (UpperRoot::set_placeholders), regular
// files of the context are written as placeholders (builder/placeholder.h),
// not downloads nor what ADD unpacks.
Status CopyInto(UpperRoot& root, const std::vector<CopySource>& srcs, const std::string& dest,
                bool unpack_archives = false);
// Whether CopyInto(root, srcs, ..., unpack_archives) writes file data of its
// own (a download, or an archive ADD unpacks), not only placeholders,
// directories and symlinks.
bool CopyWritesData(const std::vector<CopySource>& srcs, bool unpack_archives);
// The same into the plain directory root_fd.
Status CopyInto(int root_fd, const std::vector<CopySource>& srcs, const std::string& dest,
                bool unpack_archives = false);

}  // namespace cfs::builder
