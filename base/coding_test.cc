#include "base/coding.h"

#include <gtest/gtest.h>

#include "base/strings.h"

namespace cfs {
namespace {

TEST(Coding, FixedWidthIsLittleEndianAndRoundTrips) {
  std::string s;
  PutFixed32(&s, 0x04030201u);
  PutFixed64(&s, 0x0c0b0a0908070605ull);
  ASSERT_EQ(s.size(), 12u);
  for (int i = 0; i < 12; i++) EXPECT_EQ(static_cast<uint8_t>(s[i]), i + 1) << i;
  EXPECT_EQ(DecodeFixed32(s.data()), 0x04030201u);
  EXPECT_EQ(DecodeFixed64(s.data() + 4), 0x0c0b0a0908070605ull);
  char b[8];
  EncodeFixed64(b, ~0ull);
  EXPECT_EQ(DecodeFixed64(b), ~0ull);
  EncodeFixed32(b, 0x80000001u);
  EXPECT_EQ(DecodeFixed32(b), 0x80000001u);
}

TEST(Coding, Base64MatchesRfc4648Vectors) {
  const std::pair<const char*, const char*> kVectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, enc] : kVectors) {
    EXPECT_EQ(Base64Encode(raw), enc);
    auto d = Base64Decode(enc);
    ASSERT_TRUE(d.ok()) << enc;
    EXPECT_EQ(*d, raw);
  }
}

TEST(Coding, Base64DecodeAcceptsUnpaddedAndWhitespace) {
  EXPECT_EQ(*Base64Decode("Zm9vYg"), "foob");     // libarchive writes no padding
  EXPECT_EQ(*Base64Decode("Zm9v\nYmFy\n"), "foobar");
  std::string all;
  for (int i = 0; i < 256; i++) all += static_cast<char>(i);
  EXPECT_EQ(*Base64Decode(Base64Encode(all)), all);
}

TEST(Coding, Base64DecodeRefusesWhatNoEncodingProduces) {
  for (const char* bad : {"Z", "Zm9vY", "Zm=v", "=Zm9", "Zm9v===", "Zm9*", "Zg=", "Zg==Zg=="}) {
    auto d = Base64Decode(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().message(), "bad base64");
    }
  }
}

TEST(Strings, TrimDropsAsciiWhitespaceAtBothEnds) {
  EXPECT_EQ(Trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Trim(" \n "), "");
  EXPECT_EQ(TrimView("x"), "x");
}

TEST(Strings, ParseByteSizeReadsUnitsAsPowersOf1024) {
  struct Row {
    const char* in;
    uint64_t want;
  } rows[] = {{"0", 0},           {"1048576", 1048576},     {"1K", 1024},
              {"700M", 700ull << 20}, {"4G", 4ull << 30}, {"4GiB", 4ull << 30},
              {"4gb", 4ull << 30},    {"1.5G", 3ull << 29}, {"2T", 2ull << 40},
              {"512B", 512}};
  for (const auto& r : rows) {
    auto v = ParseByteSize(r.in);
    ASSERT_TRUE(v.ok()) << r.in << ": " << v.status().message();
    EXPECT_EQ(*v, r.want) << r.in;
  }
  for (const char* bad : {"", "G", "4X", "4 G", "-1", "4GX", "99999999999999999999", "20000000T"}) {
    auto v = ParseByteSize(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) EXPECT_NE(v.status().message().find("size"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace cfs
