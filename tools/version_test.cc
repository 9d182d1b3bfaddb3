#include "tools/version.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <regex>

namespace cimg {
namespace {

TEST(VersionTest, CurrentNamesVersionCommitAndLibraries) {
  VersionInfo v = CurrentVersion({{"yaml-cpp", "0.7.0", false}});
  EXPECT_TRUE(std::regex_match(v.version, std::regex(R"(\d+\.\d+\.\d+)"))) << v.version;
  EXPECT_TRUE(v.commit == "unknown" || std::regex_match(v.commit, std::regex("[0-9a-f]{12}")))
      << v.commit;
  std::vector<std::string> names;
  for (const auto& l : v.libraries) {
    names.push_back(l.name);
    EXPECT_TRUE(std::regex_search(l.version, std::regex(R"(^\d+\.\d+)"))) << l.name << " " << l.version;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"libfuse3", "RocksDB", "zstd", "libarchive", "libcurl",
                                             "OpenSSL", "yaml-cpp"}));
  // The runtime's, which on this system is the one built against.
  EXPECT_EQ(v.libraries[2].version, ZSTD_VERSION_STRING);
}

TEST(VersionTest, TextLineAndJson) {
  VersionInfo v{"1.2.3", "0123456789ab", "Release", {{"zstd", "1.5.4"}, {"yaml-cpp", "0.7.0", false}}};
  EXPECT_EQ(VersionLine("cimg", v), "cimg version 1.2.3 (commit 0123456789ab)");
  EXPECT_EQ(VersionText(v),
            "Version:     1.2.3\nGit Commit:  0123456789ab\nBuild Type:  Release\nLibraries:\n"
            "  zstd         1.5.4\n  yaml-cpp     0.7.0 (build)\n");
  EXPECT_EQ(VersionJson(v).dump(),
            R"j({"BuildType":"Release","GitCommit":"0123456789ab","Libraries":{"yaml-cpp":"0.7.0 (build)","zstd":"1.5.4"},"Version":"1.2.3"})j");
}

}  // namespace
}  // namespace cimg
