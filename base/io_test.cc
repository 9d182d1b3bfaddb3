#include "base/io.h"

#include <gtest/gtest.h>

#include <string>

namespace cfs {
namespace {

// Counts the reads passed to it.
class CountingSource : public ByteSource {
 public:
  explicit CountingSource(std::string_view data) : in_(data) {}
  Result<size_t> Read(void* buf, size_t n) override {
    reads++;
    largest = std::max(largest, n);
    return in_.Read(buf, n);
  }
  int reads = 0;
  size_t largest = 0;

 private:
  MemorySource in_;
};

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(i * 131 + i / 7);
  return s;
}

TEST(BufferedSourceTest, SmallReadsAreServedFromLargeBlocks) {
  const std::string data = Pattern(100000);
  CountingSource in(data);
  BufferedSource b(&in, 16384);
  std::string out;
  char buf[512];
  for (;;) {
    auto got = b.Read(buf, sizeof buf);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    if (*got == 0) break;
    out.append(buf, *got);
  }
  EXPECT_EQ(out, data);
  // 100000 bytes in 16 KiB blocks: 7 reads, then one at end of stream.
  EXPECT_EQ(in.reads, 8);
  EXPECT_EQ(in.largest, 16384u);
}

TEST(BufferedSourceTest, MixedReadSizesKeepTheOrder) {
  const std::string data = Pattern(50000);
  CountingSource in(data);
  BufferedSource b(&in, 4096);
  std::string out;
  std::string buf(10000, '\0');
  size_t sizes[] = {1, 511, 4096, 10000, 3, 9000, 700};
  for (size_t i = 0;; i++) {
    size_t n = sizes[i % std::size(sizes)];
    auto got = b.Read(buf.data(), n);
    ASSERT_TRUE(got.ok());
    if (*got == 0) break;
    ASSERT_LE(*got, n);
    out.append(buf.data(), *got);
  }
  EXPECT_EQ(out, data);
}

TEST(BufferedSourceTest, EmptyStreamEndsAtOnce) {
  CountingSource in("");
  BufferedSource b(&in, 4096);
  char c;
  auto got = b.Read(&c, 1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, 0u);
}

}  // namespace
}  // namespace cfs
