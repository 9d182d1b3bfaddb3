// CollectInventory over the merged view of a synthetic image.
#include "sbom/inventory.h"

#include <gtest/gtest.h>

#include "sbom/testing/synthetic_image.h"

namespace cfs::sbom {
namespace {

using testing::kLinkRepo;
using testing::kStatus;
using testing::Layer;
using testing::MemoryChunks;
using testing::SetData;
using InventoryTest = testing::SyntheticImageTest;

TEST_F(InventoryTest, InventoryOfTheMergedView) {
  auto r = CollectInventory(*stack_, mem_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const Inventory& inv = *r;
  std::vector<std::string> paths;
  for (const auto& f : inv.files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"big.bin", "big.link", "empty", "etc/os-release",
                                             kLinkRepo, "var/lib/dpkg/status"}));
  EXPECT_EQ(inv.files[0].sha256, Digest::Of(big_));  // read: several chunks
  EXPECT_EQ(inv.files[1].sha256, Digest::Of(big_));  // the hard link shares it
  EXPECT_EQ(inv.files[2].sha256, Digest::Of(""));
  EXPECT_EQ(inv.files[3].sha256, Digest::Of("ID=debian\n"));  // the upper layer's
  EXPECT_EQ(inv.files[5].sha256, Digest::Of(kStatus));
  EXPECT_EQ(inv.files_read, 2u);
  ASSERT_EQ(inv.packages.size(), 2u);
  EXPECT_EQ(inv.packages[0].name, "bash");
  EXPECT_EQ(inv.packages[1].name, "zlib1g");
  EXPECT_EQ(inv.packages[1].source, "zlib");
  ASSERT_EQ(inv.images.size(), 1u);
  EXPECT_EQ(inv.images[0].repository, "library/pause");
  EXPECT_EQ(inv.images[0].tag, "3.9");
  EXPECT_EQ(inv.images[0].digest, pause_);
}

TEST_F(InventoryTest, BadTagLinkNamesThePath) {
  MemoryChunks mem;
  auto l = std::make_shared<LayerToc>(Layer().File(kLinkRepo).raw());
  SetData(*l, mem, "not a digest");
  auto stack = LayerStack::Build({l});
  ASSERT_TRUE(stack.ok());
  auto inv = CollectInventory(*stack, mem);
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().message().rfind(std::string(kLinkRepo) + ": not a digest link", 0), 0u)
      << inv.status().message();
}

TEST(Inventory, StatusDirEntriesAndMalformedStatus) {
  MemoryChunks mem;
  auto l = std::make_shared<LayerToc>();
  auto add = [&](const std::string& name, const std::string& data) {
    Layer one;
    one.File(name);
    l->entries.push_back(one.raw().entries.back());
    SetData(*l, mem, data);
  };
  add("var/lib/dpkg/status.d/base-files",
      "Package: base-files\nVersion: 12.4\nArchitecture: amd64\n");
  add("var/lib/dpkg/status.d/base-files.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/x\n");
  add("var/lib/dpkg/status.d/tzdata", "Package: tzdata\nVersion: 2024a\nArchitecture: all\n");
  auto stack = LayerStack::Build({l});
  ASSERT_TRUE(stack.ok());
  auto inv = CollectInventory(*stack, mem);
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  ASSERT_EQ(inv->packages.size(), 2u);
  EXPECT_EQ(inv->packages[0].name, "base-files");
  EXPECT_EQ(inv->packages[1].name, "tzdata");

  auto bad = std::make_shared<LayerToc>();
  Layer one;
  one.File("var/lib/dpkg/status");
  bad->entries.push_back(one.raw().entries.back());
  SetData(*bad, mem, "Package: a\nStatus: install ok installed\nVersion: 1\nbroken\n");
  auto s2 = LayerStack::Build({bad});
  ASSERT_TRUE(s2.ok());
  inv = CollectInventory(*s2, mem);
  ASSERT_FALSE(inv.ok());
  EXPECT_EQ(inv.status().message().rfind("var/lib/dpkg/status:4: not a field", 0), 0u)
      << inv.status().message();
}

}  // namespace
}  // namespace cfs::sbom
