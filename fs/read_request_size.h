// The size of the READ requests a mount asks the kernel for (the max_read
// mount option and INIT's max_read).
//
// Why it matters: data from directory lowers and upper files is replied
// with fuse_reply_data() from the file descriptor, which libfuse 3.14
// splices (file -> pipe -> /dev/fuse: the bytes never enter the daemon)
// only when the whole reply fits in its per-thread pipe with room to spare:
// page * (header iovecs + buffers + 1) + header + data bytes. A pipe grows
// past /proc/sys/fs/pipe-max-size (1 MiB by default) only with
// CAP_SYS_RESOURCE, so without it (a container, a user mount, this CI) a
// READ of the kernel's default largest size (1 MiB) never fits, and libfuse
// silently falls back to pread()ing every request into a fresh 1 MiB
// buffer and writev()ing it: two copies and an mmap/munmap per request
// (measured: 4x the daemon's CPU of a cold read, 0.74x fuse-overlayfs,
// whose 128 KiB requests fit). Requests a few pages short of the pipe
// make every reply a splice again.
#pragma once

#include <cstddef>

namespace cfs {

// The largest READ size (bytes, whole pages, at most 1 MiB: libfuse's own
// limit) whose fd-backed reply libfuse splices through a pipe of
// pipe_bytes; 0 when that is below 128 KiB (then the caller should leave
// the kernel's default: a tiny pipe limit is better served by copies of
// large requests than by many small spliced ones).
size_t SplicedReadSize(size_t pipe_bytes, size_t page);

// SplicedReadSize for this process: how far a pipe can grow here (probed
// once, with a pipe: CAP_SYS_RESOURCE or a raised pipe-max-size allow full
// 1 MiB requests; otherwise the pipe-max-size limit). 0 = leave max_read
// unset. Thread-safe.
size_t MaxReadRequest();

}  // namespace cfs
