#include "sbom/purl.h"

#include <gtest/gtest.h>

namespace cfs::sbom {
namespace {

TEST(Purl, Encode) {
  EXPECT_EQ(PurlEncode("abc-1.2_x~"), "abc-1.2_x~");
  EXPECT_EQ(PurlEncode("1:2.3+dfsg"), "1%3A2.3%2Bdfsg");
  EXPECT_EQ(PurlEncode("a b/c?d#e&f=g%"), "a%20b%2Fc%3Fd%23e%26f%3Dg%25");
  EXPECT_EQ(PurlEncode("\xc3\xa9"), "%C3%A9");
}

TEST(Purl, Deb) {
  EXPECT_EQ(DebPurl({"libc6", "2.36-9+deb12u4", "amd64", "glibc", ""}),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64");
  EXPECT_EQ(DebPurl({"vim", "2:9.0.1378-2", "", "", ""}), "pkg:deb/debian/vim@2%3A9.0.1378-2");
}

TEST(Purl, Oci) {
  Digest d = Digest::Of("manifest");
  EXPECT_EQ(OciPurl("library/Debian", d, "12"), "pkg:oci/debian@sha256%3A" + d.Hex() + "?tag=12");
  EXPECT_EQ(OciPurl("pause", d, ""), "pkg:oci/pause@sha256%3A" + d.Hex());
}

}  // namespace
}  // namespace cfs::sbom
