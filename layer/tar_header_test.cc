#include "tar_header.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace cfs {
namespace {

// A header block with `text` written into field f.
std::string Block(TarField f, std::string_view text) {
  std::string b(kTarBlock, '\0');
  std::memcpy(b.data() + f.off, text.data(), std::min(text.size(), f.len));
  return b;
}

std::optional<int64_t> Num(std::string_view text, TarOctal syntax) {
  return ParseTarNumber(Block(tar::kSize, text).data(), tar::kSize, syntax);
}

TEST(TarHeader, OctalFieldsAsGnuTarAndGoReadThem) {
  for (TarOctal s : {TarOctal::kGnu, TarOctal::kGo}) {
    EXPECT_EQ(Num("00000001750", s), 01750);
    EXPECT_EQ(Num("00000001750 ", s), 01750);
    EXPECT_EQ(Num("   1750", s), 01750);
    EXPECT_EQ(Num("", s), 0);  // all NULs
    EXPECT_FALSE(Num("0000000178", s).has_value());
  }
  // The two differ only where a writer padded oddly: GNU stops at the first
  // space or NUL after the digits, Go trims both ends and wants digits only.
  EXPECT_EQ(Num("12 34", TarOctal::kGnu), 012);
  EXPECT_FALSE(Num("12 34", TarOctal::kGo).has_value());
  EXPECT_EQ(Num(std::string_view("\0\0" "17", 4), TarOctal::kGo), 017);
  EXPECT_EQ(Num(std::string_view("\0\0" "17", 4), TarOctal::kGnu), 0);
}

TEST(TarHeader, Base256FieldsBothSigns) {
  std::string big(12, '\0');
  big[0] = static_cast<char>(0x80);
  big[11] = 0x01;
  big[10] = 0x02;  // 0x0201
  EXPECT_EQ(Num(big, TarOctal::kGnu), 0x201);
  EXPECT_EQ(Num(big, TarOctal::kGo), 0x201);
  std::string neg(12, static_cast<char>(0xff));  // -1
  EXPECT_EQ(Num(neg, TarOctal::kGnu), -1);
  std::string huge(12, '\0');
  huge[0] = static_cast<char>(0x80);
  huge[3] = static_cast<char>(0x80);  // beyond 63 bits
  EXPECT_FALSE(Num(huge, TarOctal::kGnu).has_value());
}

TEST(TarHeader, ChecksumAcceptsUnsignedAndSignedSums) {
  std::string b = Block(tar::kName, "\xe9t\xe9");  // bytes above 0x7f: the sums differ
  auto with_sum = [&](bool is_signed) {
    std::string c = b;
    int64_t sum = 0;
    for (size_t i = 0; i < kTarBlock; i++) {
      bool in = i >= tar::kChksum.off && i < tar::kChksum.off + tar::kChksum.len;
      char ch = in ? ' ' : c[i];
      sum += is_signed ? static_cast<signed char>(ch) : static_cast<unsigned char>(ch);
    }
    std::snprintf(c.data() + tar::kChksum.off, 8, "%06o", static_cast<unsigned>(sum & 0777777));
    return c;
  };
  EXPECT_TRUE(TarChecksumOk(with_sum(false).data()));
  EXPECT_TRUE(TarChecksumOk(with_sum(true).data()));
  std::string bad = with_sum(false);
  bad[0] = 'x';
  EXPECT_FALSE(TarChecksumOk(bad.data()));
}

TEST(TarHeader, PaxTimesAndDecimals) {
  int64_t s = 0;
  uint32_t ns = 0;
  ASSERT_TRUE(ParsePaxTime("1700000000.123456789123", &s, &ns));
  EXPECT_EQ(s, 1700000000);
  EXPECT_EQ(ns, 123456789u);
  ASSERT_TRUE(ParsePaxTime("-1.5", &s, &ns));
  EXPECT_EQ(s, -2);
  EXPECT_EQ(ns, 500000000u);
  ASSERT_TRUE(ParsePaxTime("+7", &s, &ns));
  EXPECT_EQ(s, 7);
  EXPECT_FALSE(ParsePaxTime("1.x", &s, &ns));
  EXPECT_FALSE(ParsePaxTime("", &s, &ns));
  EXPECT_EQ(ParseTarDecimal("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(ParseTarDecimal("18446744073709551616").has_value());
  EXPECT_FALSE(ParseTarDecimal("-1").has_value());
}

TEST(TarHeader, PaxRecordsInOrderWithTrailingNuls) {
  std::string data = std::string("15 path=a/b/cd\n") + "8 uid=0\n" + std::string(7, '\0');
  PaxRecords r;
  ASSERT_TRUE(ParsePaxRecords(data, &r));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], (std::pair<std::string, std::string>("path", "a/b/cd")));
  EXPECT_EQ(r[1], (std::pair<std::string, std::string>("uid", "0")));
  for (const char* bad : {"16 path=a/b/cd\n", "15 path=a/b/cdX", "9 =abcde\n", "x path=a\n"}) {
    PaxRecords out;
    EXPECT_FALSE(ParsePaxRecords(bad, &out)) << bad;
  }
}

}  // namespace
}  // namespace cfs
