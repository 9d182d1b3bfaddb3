#include "sbom/dpkg_status.h"

#include <gtest/gtest.h>

namespace cfs::sbom {
namespace {

TEST(DpkgStatus, InstalledPackagesWithMultiLineFields) {
  const std::string text =
      "Package: libc6\n"
      "Status: install ok installed\n"
      "Architecture: amd64\n"
      "Source: glibc\n"
      "Version: 2.36-9+deb12u4\n"
      "Description: GNU C Library\n"
      " Contains the standard libraries.\n"
      " .\n"
      " More text.\n"
      "\n"
      "package: tzdata\n"            // field names are case-insensitive
      "STATUS: hold ok installed\n"  // held is installed too
      "Version: 2024a-0+deb12u1\n"
      "Architecture: all\n"
      "\n"
      "Package: removed\n"
      "Status: deinstall ok config-files\n"
      "Version: 1.0\n"
      " \t \n"  // a line of blanks ends a paragraph
      "Package: bash\n"
      "Status: install ok installed\n"
      "Source: bash (5.2.15-2)\n"
      "Version: 5.2.15-2+b2\n"
      "Architecture: amd64\n";
  auto r = ParseDpkgStatus(text, "status");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0], (DebPackage{"libc6", "2.36-9+deb12u4", "amd64", "glibc", ""}));
  EXPECT_EQ((*r)[1], (DebPackage{"tzdata", "2024a-0+deb12u1", "all", "", ""}));
  EXPECT_EQ((*r)[2], (DebPackage{"bash", "5.2.15-2+b2", "amd64", "", "5.2.15-2"}));
}

TEST(DpkgStatus, NotInstalledSkipped) {
  auto r = ParseDpkgStatus("Package: a\nStatus: install ok half-installed\nVersion: 1\n", "s");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = ParseDpkgStatus("Package: a\nVersion: 1\n", "s");  // no Status at all
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(DpkgStatus, StatusDEntriesNeedNoStatus) {
  auto r = ParseDpkgStatus("Package: base-files\nVersion: 12.4\nArchitecture: amd64\n",
                           "status.d/base", false);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].name, "base-files");
}

TEST(DpkgStatus, CommentsAndCrlf) {
  auto r = ParseDpkgStatus(
      "# comment\r\nPackage: a\r\nStatus: install ok installed\r\nVersion: 1\r\n", "s");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].version, "1");
}

TEST(DpkgStatus, MalformedLinesNameFileAndLine) {
  auto r = ParseDpkgStatus("Package: a\nVersion: 1\ngarbage line\n", "var/lib/dpkg/status");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("var/lib/dpkg/status:3: not a field", 0), 0u)
      << r.status().message();

  r = ParseDpkgStatus("\n continued\nPackage: a\n", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "f:2: continuation line outside a field");

  r = ParseDpkgStatus("Package: a\nVersion: 1\nversion: 2\n", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "f:3: field \"version\" given twice");

  r = ParseDpkgStatus("Package: a\nStatus: install ok installed\n\n\nVersion: 1\n", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "f:1: package a has no Version field");
  r = ParseDpkgStatus("Package: a\nStatus: install ok installed\nVersion: 1\n\nVersion: 2\n", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "f:5: paragraph without a Package field");

  r = ParseDpkgStatus(": value\n", "f");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind("f:1: not a field", 0), 0u);
}

TEST(DpkgStatus, EmptyFile) {
  auto r = ParseDpkgStatus("", "f");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace cfs::sbom
