#include "deploy/ip_range.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

using V = std::vector<std::string>;

TEST(IpRange, SingleAddressesPassThrough) {
  EXPECT_EQ(*ExpandIpRange("10.0.0.2"), V{"10.0.0.2"});
  EXPECT_EQ(*ExpandIpRange("fd00::1"), V{"fd00::1"});
  // Not an IP: left to the caller, as sealer leaves it to its validation.
  EXPECT_EQ(*ExpandIpRange("host"), V{"host"});
}

TEST(IpRange, BothEndsIncluded) {
  EXPECT_EQ(*ExpandIpRange("10.0.0.2-10.0.0.4"), (V{"10.0.0.2", "10.0.0.3", "10.0.0.4"}));
  EXPECT_EQ(*ExpandIpRange("10.0.0.7-10.0.0.7"), V{"10.0.0.7"});
}

TEST(IpRange, CarriesAcrossOctets) {
  EXPECT_EQ(*ExpandIpRange("10.0.0.254-10.0.1.1"),
            (V{"10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"}));
  EXPECT_EQ(*ExpandIpRange("fd00::fffe-fd00::1:0"), (V{"fd00::fffe", "fd00::ffff", "fd00::1:0"}));
  EXPECT_EQ(ExpandIpRange("255.255.255.254-255.255.255.255")->size(), 2u);
}

TEST(IpRange, ListsExpandInOrder) {
  EXPECT_EQ(*ExpandIpRanges({"10.0.0.9", "10.0.0.2-10.0.0.3"}),
            (V{"10.0.0.9", "10.0.0.2", "10.0.0.3"}));
}

TEST(IpRange, BadRangesNameTheText) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"10.0.0.9-10.0.0.2", "IP range \"10.0.0.9-10.0.0.2\": 10.0.0.9 comes after 10.0.0.2"},
      {"10.0.0.2-10.0.0.3-10.0.0.4", "give FIRST-LAST"},
      {"10.0.0.2-", "\"\" is not an IP address"},
      {"10.0.0.2-10.0.0.256", "\"10.0.0.256\" is not an IP address"},
      {"x-10.0.0.3", "\"x\" is not an IP address"},
      {"10.0.0.2-fd00::1", "not of one IP family"},
      {"fd00::1-fd00::1:1", "more than 4096 addresses"},
  };
  for (const auto& [text, want] : cases) {
    auto r = ExpandIpRange(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << text << ": " << r.status().message();
  }
}

TEST(IpRange, IsIpAddress) {
  EXPECT_TRUE(IsIpAddress("10.0.0.2"));
  EXPECT_TRUE(IsIpAddress("::1"));
  EXPECT_FALSE(IsIpAddress("10.0.0.2-10.0.0.3"));
  EXPECT_FALSE(IsIpAddress("10.0.0.02"));
}

}  // namespace
}  // namespace cfs::deploy
