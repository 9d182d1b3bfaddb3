#include "deploy/host_platform.h"

#include <gtest/gtest.h>

namespace cfs::deploy {
namespace {

std::vector<ImageListChild> Children() {
  return {{Digest::Of("amd64"), Platform{"linux", "amd64", ""}},
          {Digest::Of("arm64"), Platform{"linux", "arm64", ""}},
          {Digest::Of("armv7"), Platform{"linux", "arm", "v7"}}};
}

TEST(ChooseHostImagesTest, EachHostGetsItsMachinesPlatform) {
  auto r = ChooseHostImages(Children(),
                            {{"10.0.0.1", "x86_64"}, {"10.0.0.2", "aarch64"}, {"10.0.0.3", "armv7l"},
                             {"10.0.0.4", "x86_64"}},
                            "app:1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, (std::vector<size_t>{0, 1, 2, 0}));
}

TEST(ChooseHostImagesTest, AVariantMustMatch) {
  // arm/v6 is not arm/v7; arm64/v8 (aarch64) fits an arm64 child that names v8.
  std::vector<ImageListChild> c = {{Digest::Of("v6"), Platform{"linux", "arm", "v6"}},
                                   {Digest::Of("v8"), Platform{"linux", "arm64", "v8"}}};
  auto r = ChooseHostImages(c, {{"h1", "aarch64"}}, "l");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0], 1u);
  auto bad = ChooseHostImages(c, {{"h2", "armv7l"}}, "l");
  ASSERT_FALSE(bad.ok());
}

TEST(ChooseHostImagesTest, HostsNoImageFitsAreAllNamed) {
  auto r = ChooseHostImages(Children(),
                            {{"10.0.0.1", "x86_64"}, {"10.0.0.7", "s390x"}, {"10.0.0.8", "ppc64le"}},
                            "app:1");
  ASSERT_FALSE(r.ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("host 10.0.0.7 is s390x"), std::string::npos) << m;
  EXPECT_NE(m.find("host 10.0.0.8 is ppc64le"), std::string::npos) << m;
  EXPECT_EQ(m.find("10.0.0.1"), std::string::npos) << m;
  EXPECT_NE(m.find("app:1"), std::string::npos) << m;
  EXPECT_NE(m.find("linux/amd64, linux/arm64, linux/arm/v7"), std::string::npos) << m;
}

}  // namespace
}  // namespace cfs::deploy
