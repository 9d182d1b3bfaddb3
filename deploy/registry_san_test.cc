#include "deploy/registry_san.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

TEST(RegistrySan, DnsNames) {
  for (const char* ok : {"hub.example.com", "a", "x-1.y", "*.reg.example", "A.B"})
    EXPECT_TRUE(CheckSanDnsName(ok).ok()) << ok;
  for (const char* bad : {"", "*.", "a..b", "-a.b", "a-.b", "a_b.c", "a b", "a.*.b", "*", "a.",
                          "hub.example.com:5000"})
    EXPECT_FALSE(CheckSanDnsName(bad).ok()) << bad;
  EXPECT_FALSE(CheckSanDnsName(std::string(64, 'a')).ok());
  EXPECT_TRUE(CheckSanDnsName(std::string(63, 'a')).ok());
  std::string long_name;
  for (int i = 0; i < 64; i++) long_name += "abc.";
  EXPECT_FALSE(CheckSanDnsName(long_name + "x").ok());
  EXPECT_EQ(CheckSanDnsName("a_b").message(),
            "\"a_b\" is not a DNS name (labels of letters, digits and '-', 1-63 bytes, '*.' only "
            "first)");
}

TEST(RegistrySan, Ips) {
  for (const char* ok : {"10.0.0.1", "::1", "fd00:0::9", "255.255.255.255"})
    EXPECT_TRUE(CheckSanIp(ok).ok()) << ok;
  for (const char* bad : {"", "10.0.0", "10.0.0.256", "10.0.0.0/24", "host.example", " 10.0.0.1"})
    EXPECT_FALSE(CheckSanIp(bad).ok()) << bad;
  EXPECT_EQ(CanonicalIp("fd00:0::9"), "fd00::9");
  EXPECT_EQ(CanonicalIp("sea.hub"), "sea.hub");
}

TEST(RegistrySan, CertNamesInOrderOnce) {
  RegistryEndpoint r;
  r.domain = "hub.example";
  EXPECT_EQ(RegistryCertNames(r, {"10.0.0.2"}), (std::vector<std::string>{"hub.example", "10.0.0.2"}));
  r.san_dns = {"reg.example", "hub.example"};
  r.san_ips = {"192.0.2.7", "10.0.0.3", "fd00:0::1"};
  EXPECT_EQ(RegistryCertNames(r, {"10.0.0.2", "10.0.0.3"}),
            (std::vector<std::string>{"hub.example", "10.0.0.2", "10.0.0.3", "reg.example",
                                      "192.0.2.7", "fd00::1"}));
  // An address as the domain is named once.
  r = {};
  r.domain = "10.0.0.2";
  EXPECT_EQ(RegistryCertNames(r, {"10.0.0.2"}), (std::vector<std::string>{"10.0.0.2"}));
}

}  // namespace
}  // namespace cfs::deploy
