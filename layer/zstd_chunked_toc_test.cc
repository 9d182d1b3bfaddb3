#include "zstd_chunked_toc.h"

#include <gtest/gtest.h>

namespace cfs {
namespace {

TEST(ParseRfc3339, GoTimesAsContainersStorageWritesThem) {
  int64_t s = 0;
  uint32_t ns = 0;
  ASSERT_TRUE(ParseRfc3339("2023-11-14T22:13:20Z", &s, &ns));
  EXPECT_EQ(s, 1700000000);
  EXPECT_EQ(ns, 0u);
  ASSERT_TRUE(ParseRfc3339("2023-11-14T22:13:20.5Z", &s, &ns));
  EXPECT_EQ(s, 1700000000);
  EXPECT_EQ(ns, 500000000u);
  ASSERT_TRUE(ParseRfc3339("2023-11-14T22:13:20.123456789Z", &s, &ns));
  EXPECT_EQ(ns, 123456789u);
  // Go's local-time offsets (time.Unix in a time zone).
  ASSERT_TRUE(ParseRfc3339("2023-11-14T23:43:20.000000001+01:30", &s, &ns));
  EXPECT_EQ(s, 1700000000);
  EXPECT_EQ(ns, 1u);
  ASSERT_TRUE(ParseRfc3339("2023-11-14T17:13:20-05:00", &s, &ns));
  EXPECT_EQ(s, 1700000000);
  ASSERT_TRUE(ParseRfc3339("1970-01-01T00:00:00Z", &s, &ns));
  EXPECT_EQ(s, 0);
  ASSERT_TRUE(ParseRfc3339("1969-12-31T23:59:59Z", &s, &ns));
  EXPECT_EQ(s, -1);
  ASSERT_TRUE(ParseRfc3339("0001-01-01T00:00:00Z", &s, &ns));  // Go's zero time
  EXPECT_EQ(s, -62135596800);
  ASSERT_TRUE(ParseRfc3339("2024-02-29T12:00:00Z", &s, &ns));
  EXPECT_EQ(s, 1709208000);
  for (const char* bad : {"", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14 22:13:20Z",
                          "2023-13-14T22:13:20Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+0100",
                          "2023-11-14T22:13:20Zjunk", "20x3-11-14T22:13:20Z"})
    EXPECT_FALSE(ParseRfc3339(bad, &s, &ns)) << bad;
}

TEST(TocEntriesOf, RefusesWhatTheTarReaderRefuses) {
  using nlohmann::json;
  auto one = [](json e) { return TocEntriesOf(json::array({std::move(e)}), "t"); };
  EXPECT_FALSE(one({{"type", "socket"}, {"name", "s"}}).ok());
  EXPECT_FALSE(one({{"type", "reg"}, {"name", "../x"}}).ok());
  EXPECT_FALSE(one({{"type", "hardlink"}, {"name", "h"}, {"linkName", "/../"}}).ok());
  EXPECT_FALSE(one({{"type", "reg"}, {"name", "f"}, {"uid", -1}}).ok());
  EXPECT_FALSE(one({{"type", "reg"}, {"name", "f"}, {"modtime", "yesterday"}}).ok());
  EXPECT_FALSE(one({{"type", "reg"}, {"name", "f"}, {"xattrs", {{"user.a", "!!"}}}}).ok());
  auto through = TocEntriesOf(json::array({{{"type", "symlink"}, {"name", "a"}, {"linkName", "/etc"}},
                                           {{"type", "reg"}, {"name", "a/passwd"}}}),
                              "t");
  ASSERT_FALSE(through.ok());
  EXPECT_NE(through.status().message().find("goes through symlink"), std::string::npos);
  auto ok = TocEntriesOf(
      json::array({{{"type", "dir"}, {"name", "./d/"}, {"mode", 040755}},
                   {{"type", "reg"}, {"name", "./d/.wh.gone"}},
                   {{"type", "char"}, {"name", "c"}, {"devMajor", 1}, {"devMinor", 3}},
                   {{"type", "reg"}, {"name", "f"}, {"size", 5}, {"xattrs", {{"user.b", "eA=="}, {"user.a", ""}}}},
                   {{"type", "chunk"}, {"name", "f"}}}),
      "t");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->size(), 4u);
  EXPECT_EQ((*ok)[0].name, "d");
  EXPECT_EQ((*ok)[0].mode, 0755u);
  EXPECT_EQ((*ok)[1].role, OverlayRole::kWhiteout);
  EXPECT_EQ((*ok)[2].dev_major, 1u);
  EXPECT_EQ((*ok)[2].dev_minor, 3u);
  ASSERT_EQ((*ok)[3].xattrs.size(), 2u);
  EXPECT_EQ((*ok)[3].xattrs[0].first, "user.a");
  EXPECT_EQ((*ok)[3].xattrs[1].second, "x");
}

TEST(CheckTocMatchesTar, TheTarMayAddXattrsNothingElse) {
  TocEntry e;
  e.name = "f";
  e.size = 5;
  e.xattrs = {{"user.a", "1"}};
  TocEntry t = e;
  t.uname = "root";  // the TOC has no owner names
  t.xattrs = {{"user.a", "1"}, {"user.libarchive", "2"}};
  EXPECT_TRUE(CheckTocMatchesTar({e}, {t}, "l").ok());
  TocEntry other = t;
  other.xattrs = {{"user.a", "9"}};
  EXPECT_EQ(CheckTocMatchesTar({e}, {other}, "l").code(), Status::Code::kCorruption);
  other = t;
  other.mtime_nsec = 1;
  auto st = CheckTocMatchesTar({e}, {other}, "l");
  ASSERT_EQ(st.code(), Status::Code::kCorruption);
  EXPECT_NE(st.message().find("mtime"), std::string::npos) << st.message();
  EXPECT_FALSE(CheckTocMatchesTar({e}, {t, t}, "l").ok());
}

}  // namespace
}  // namespace cfs
