// A bring-up profile recorded by a deploy (`cimg deploy --record-profile`):
// which files of the rootfs master0 read while the lifecycle ran, in the
// order it first read them -- the same profile `clusterfs mount
// --record-profile` records on a lazy mount (store/read_profile.h), to be
// attached to the image (`cimg profile attach`) so that lazy mounts of it
// fetch those files first.
//
// How: after the rootfs is sent and before the first step, every regular
// file of master0's rootfs gets the epoch as its access time
// (host/profile_mark.sh); after the last step, the files whose access time
// moved are the ones read, ordered by it (host/profile_collect.sh). This
// needs nothing on the host but coreutils and findutils, and works where
// reads update access times (relatime, the default, or strictatime; a
// noatime filesystem is refused by name). What it cannot see: which part of
// a file was read (a range is the whole file), copies made by
// copy_file_range within one filesystem (`cp` from the rootfs to /usr/bin
// when both are on one filesystem: the kernel does not stamp the source),
// and reads of steps that were done before (a re-deploy runs none of them:
// record on a fresh cluster). A missing file only costs its prefetch.
// Access times come from the kernel's coarse clock: reads in the same
// clock tick (a few ms) are ordered by path.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "deploy/host_runner.h"
#include "store/read_profile.h"

namespace cfs::deploy {

// Sets every regular file of master0's rootfs to "not read yet".
Status MarkProfileStart(HostRunner& run, HostCtx& m0);

// The files read since MarkProfileStart, in the order first read.
Result<ReadProfile> CollectProfile(HostRunner& run, HostCtx& m0);

// Parses what host/profile_collect.sh prints ("ATIME\tSIZE\tPATH\0" records)
// into a profile: files in order of access time (ties by path), empty files
// left out. `host` names the host in errors.
Result<ReadProfile> ParseProfileRecords(std::string_view out, const std::string& host);

}  // namespace cfs::deploy
