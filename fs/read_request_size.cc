#include "fs/read_request_size.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace cfs {
namespace {

// libfuse 3.14 (fuse_send_data_iov): a reply of one fd buffer with one
// header iovec needs page * (1 + 1 + 1) + out header + data in the pipe.
constexpr size_t kPipePages = 3;
constexpr size_t kOutHeader = 16;  // struct fuse_out_header
constexpr size_t kLargest = 1 << 20;  // libfuse's largest request (256 pages)
constexpr size_t kSmallest = 128 << 10;

// How many bytes one of this process's pipes can hold at most.
size_t PipeCapacity(size_t page) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return 0;
  // Wanted for full requests: granted with CAP_SYS_RESOURCE or a raised
  // pipe-max-size; otherwise EPERM, and the limit is pipe-max-size.
  int got = ::fcntl(p[0], F_SETPIPE_SZ, static_cast<int>(kLargest + (kPipePages + 1) * page));
  for (size_t want = kLargest; got < 0 && want >= page; want /= 2)
    got = ::fcntl(p[0], F_SETPIPE_SZ, static_cast<int>(want));
  ::close(p[0]);
  ::close(p[1]);
  return got < 0 ? 0 : static_cast<size_t>(got);
}

}  // namespace

size_t SplicedReadSize(size_t pipe_bytes, size_t page) {
  if (page == 0 || pipe_bytes < kPipePages * page + kOutHeader) return 0;
  size_t n = (pipe_bytes - kPipePages * page - kOutHeader) / page * page;
  n = std::min(n, kLargest);
  return n < kSmallest ? 0 : n;
}

size_t MaxReadRequest() {
  static const size_t n = [] {
    size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    return SplicedReadSize(PipeCapacity(page), page);
  }();
  return n;
}

}  // namespace cfs
