#include "fs/read_request_size.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace cfs {
namespace {

constexpr size_t kPage = 4096;

TEST(SplicedReadSize, DefaultPipeLimitLeavesRoomForTheHeaderAndThreePages) {
  // pipe-max-size 1 MiB: 1 MiB - 3 pages - 16 bytes, rounded down to pages.
  EXPECT_EQ(SplicedReadSize(1 << 20, kPage), 252 * kPage);
  // One page more would not fit: libfuse would copy that reply.
  EXPECT_GT(253 * kPage + 3 * kPage + 16, size_t{1} << 20);
}

TEST(SplicedReadSize, LargePipesGiveFullRequests) {
  EXPECT_EQ(SplicedReadSize(2 << 20, kPage), size_t{1} << 20);
  EXPECT_EQ(SplicedReadSize(64 << 20, kPage), size_t{1} << 20);
}

TEST(SplicedReadSize, TinyPipesLeaveTheDefault) {
  EXPECT_EQ(SplicedReadSize(64 << 10, kPage), 0u);
  EXPECT_EQ(SplicedReadSize(0, kPage), 0u);
  EXPECT_EQ(SplicedReadSize(kPage, kPage), 0u);
  EXPECT_EQ(SplicedReadSize(1 << 20, 0), 0u);
  // 128 KiB + 3 pages + header: the smallest size still set.
  EXPECT_EQ(SplicedReadSize((128 << 10) + 3 * kPage + 16, kPage), size_t{128} << 10);
}

TEST(SplicedReadSize, OtherPageSizes) {
  EXPECT_EQ(SplicedReadSize(1 << 20, 16384), 60 * size_t{16384});  // 1 MiB - 3*16K - 16
}

TEST(MaxReadRequest, FitsAPipeOfThisProcess) {
  size_t n = MaxReadRequest();
  ASSERT_GT(n, 0u) << "this machine's pipes hold less than 128 KiB + 3 pages";
  EXPECT_EQ(n % static_cast<size_t>(::sysconf(_SC_PAGESIZE)), 0u);
  EXPECT_LE(n, size_t{1} << 20);
  EXPECT_EQ(MaxReadRequest(), n);  // computed once
  // What libfuse will need for a reply of n bytes: a pipe that big can be had.
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  size_t need = n + 3 * static_cast<size_t>(::sysconf(_SC_PAGESIZE)) + 16;
  EXPECT_GE(::fcntl(p[0], F_SETPIPE_SZ, static_cast<int>(need)), static_cast<int>(need));
  ::close(p[0]);
  ::close(p[1]);
}

}  // namespace
}  // namespace cfs
