#include "deploy/cluster_image.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

ClusterImage Read(const std::string& config) {
  ImageDetails d;
  d.config = config;
  auto img = ReadClusterImage(d, "app:1");
  EXPECT_TRUE(img.ok()) << img.status().ToString();
  return img.ok() ? *img : ClusterImage();
}

TEST(ClusterImage, ReadsPlatformEnvAndLabels) {
  auto img = Read(R"({"os":"linux","architecture":"arm64","variant":"v8",
    "config":{"Env":["A=1"],"Labels":{"io.cimg.launch":"[\"app\"]"}}})");
  EXPECT_EQ(img.platform.ToString(), "linux/arm64/v8");
  EXPECT_EQ(img.env.at("A"), "1");
  EXPECT_EQ(img.launch, std::vector<std::string>{"app"});
}

TEST(ClusterImage, HostPlatformMustMatch) {
  auto amd = Read(R"({"os":"linux","architecture":"amd64"})");
  EXPECT_TRUE(CheckHostPlatform(amd, "app:1", "10.0.0.2", "x86_64").ok());
  Status st = CheckHostPlatform(amd, "app:1", "10.0.0.3", "aarch64");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.ToString();
  for (const char* want : {"10.0.0.3", "aarch64", "linux/arm64", "app:1", "linux/amd64"})
    EXPECT_NE(st.message().find(want), std::string::npos) << want << " in " << st.message();

  auto arm = Read(R"({"os":"linux","architecture":"arm64"})");  // variant v8 by default
  EXPECT_TRUE(CheckHostPlatform(arm, "app:1", "h", "aarch64").ok());
  EXPECT_FALSE(CheckHostPlatform(arm, "app:1", "h", "x86_64").ok());
  auto arm7 = Read(R"({"os":"linux","architecture":"arm","variant":"v7"})");
  EXPECT_TRUE(CheckHostPlatform(arm7, "app:1", "h", "armv7l").ok());
  EXPECT_FALSE(CheckHostPlatform(arm7, "app:1", "h", "aarch64").ok());
}

TEST(ClusterImage, NoArchitectureRunsAnywhere) {
  auto none = Read(R"({"config":{}})");
  EXPECT_TRUE(CheckHostPlatform(none, "app:1", "h", "riscv64").ok());
}

}  // namespace
}  // namespace cfs::deploy
