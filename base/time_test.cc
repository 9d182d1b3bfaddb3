// base/time.h: RFC 3339 parsing and UTC formatting.
#include "base/time.h"

#include <gtest/gtest.h>

namespace cfs {
namespace {

TEST(Time, FormatsUtc) {
  EXPECT_EQ(Rfc3339Utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(Rfc3339Utc(1700000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatUtc(1700000000, "%Y-%m-%d %H:%M"), "2023-11-14 22:13");
}

TEST(Time, FormattedTimeParsesBack) {
  int64_t sec = 0;
  uint32_t nsec = 1;
  ASSERT_TRUE(ParseRfc3339(Rfc3339Utc(1234567890), &sec, &nsec));
  EXPECT_EQ(sec, 1234567890);
  EXPECT_EQ(nsec, 0u);
  EXPECT_FALSE(ParseRfc3339("2023-11-14 22:13", &sec, &nsec));
}

}  // namespace
}  // namespace cfs
