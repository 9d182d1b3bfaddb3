// The inventory of a small synthetic image and its SPDX and CycloneDX
// documents.
#include "sbom/sbom.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "layer/testing/layer_testing.h"
#include "sbom/purl.h"

namespace cfs::sbom {
namespace {

using nlohmann::json;
using testing::Layer;
using testing::MemoryChunks;

// Gives the last entry of toc the bytes `data`, cut into chunks of `chunk` bytes.
void SetData(LayerToc& toc, MemoryChunks& mem, const std::string& data, size_t chunk = 1 << 20) {
  TocEntry& e = toc.entries.back();
  e.size = data.size();
  e.first_chunk = static_cast<uint32_t>(toc.chunks.size());
  for (size_t at = 0; at < data.size(); at += chunk)
    toc.chunks.push_back(mem.Put(data.substr(at, chunk)));
  e.num_chunks = static_cast<uint32_t>(toc.chunks.size()) - e.first_chunk;
}

const char kStatus[] =
    "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n"
    "Source: zlib\n\n"
    "Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n"
    "Description: shell\n multi-line\n";
const char kLinkRepo[] =
    "registry/docker/registry/v2/repositories/library/pause/_manifests/tags/3.9/current/link";

class SbomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto base = std::make_shared<LayerToc>(
        Layer().Dir("etc").File("etc/os-release").File("etc/gone").raw());
    SetData(*base, mem_, "old");
    auto top = std::make_shared<LayerToc>(Layer()
                                              .File("etc/os-release")
                                              .Whiteout("etc/gone")
                                              .Dir("var/lib/dpkg")
                                              .File("var/lib/dpkg/status")
                                              .File("big.bin")
                                              .File("empty")
                                              .Hardlink("big.link", "big.bin")
                                              .File(kLinkRepo)
                                              .raw());
    // Fill data in tar order: os-release, status, big.bin, empty, link.
    auto set = [&](const std::string& name, const std::string& data, size_t chunk = 1 << 20) {
      for (size_t i = 0; i < top->entries.size(); i++)
        if (top->entries[i].name == name) {
          std::swap(top->entries[i], top->entries.back());
          SetData(*top, mem_, data, chunk);
          std::swap(top->entries[i], top->entries.back());
        }
    };
    set("etc/os-release", "ID=debian\n");
    set("var/lib/dpkg/status", kStatus);
    big_ = std::string(10000, 'x') + "tail";
    set("big.bin", big_, 4096);
    set(kLinkRepo, pause_.ToString() + "\n");
    auto stack = LayerStack::Build({base, top});
    ASSERT_TRUE(stack.ok()) << stack.status().message();
    stack_.emplace(std::move(*stack));
  }

  SbomDocument Doc() {
    auto inv = CollectInventory(*stack_, mem_);
    EXPECT_TRUE(inv.ok()) << inv.status().message();
    SbomDocument d;
    d.image = {"demo/app:1", Digest::Of("the manifest"), "amd64", "linux"};
    d.inventory = std::move(*inv);
    d.tool_version = "0.1.0";
    d.created = 1700000000;
    return d;
  }

  std::string Write(const SbomDocument& d, SbomFormat f) {
    std::string out;
    StringSink sink(&out);
    EXPECT_TRUE(WriteSbom(d, f, sink).ok());
    return out;
  }

  MemoryChunks mem_;
  std::optional<LayerStack> stack_;
  std::string big_;
  Digest pause_ = Digest::Of("pause manifest");
};

TEST_F(SbomTest, InventoryOfTheMergedView) {
  SbomDocument d = Doc();
  const Inventory& inv = d.inventory;
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

TEST_F(SbomTest, SpdxDocument) {
  SbomDocument d = Doc();
  json j = json::parse(Write(d, SbomFormat::kSpdxJson));
  EXPECT_EQ(j["spdxVersion"], "SPDX-2.3");
  EXPECT_EQ(j["dataLicense"], "CC0-1.0");
  EXPECT_EQ(j["SPDXID"], "SPDXRef-DOCUMENT");
  EXPECT_EQ(j["creationInfo"]["created"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j["creationInfo"]["creators"][0], "Tool: cimg-0.1.0");
  EXPECT_EQ(j["documentNamespace"], "urn:uuid:" + ImageUuid(d.image.manifest));
  ASSERT_EQ(j["packages"].size(), 4u);  // image, 2 debs, 1 registry image
  EXPECT_EQ(j["packages"][0]["versionInfo"], d.image.manifest.ToString());
  EXPECT_EQ(j["packages"][1]["externalRefs"][0]["referenceLocator"],
            "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64");
  EXPECT_EQ(j["packages"][3]["externalRefs"][0]["referenceLocator"],
            "pkg:oci/pause@sha256%3A" + pause_.Hex() + "?tag=3.9");
  ASSERT_EQ(j["files"].size(), 6u);
  EXPECT_EQ(j["files"][0]["fileName"], "./big.bin");
  EXPECT_EQ(j["files"][0]["checksums"][0]["algorithm"], "SHA256");
  EXPECT_EQ(j["files"][0]["checksums"][0]["checksumValue"], Digest::Of(big_).Hex());
  // One DESCRIBES, a CONTAINS for every package and file; every id defined.
  std::set<std::string> ids = {"SPDXRef-DOCUMENT"};
  for (const auto& p : j["packages"]) ids.insert(p["SPDXID"].get<std::string>());
  for (const auto& f : j["files"]) ids.insert(f["SPDXID"].get<std::string>());
  EXPECT_EQ(ids.size(), 1u + 4u + 6u);
  ASSERT_EQ(j["relationships"].size(), 1u + 3u + 6u);
  EXPECT_EQ(j["relationships"][0]["relationshipType"], "DESCRIBES");
  for (const auto& r : j["relationships"]) {
    EXPECT_TRUE(ids.count(r["spdxElementId"].get<std::string>()));
    EXPECT_TRUE(ids.count(r["relatedSpdxElement"].get<std::string>()));
  }
}

TEST_F(SbomTest, CycloneDxDocument) {
  SbomDocument d = Doc();
  json j = json::parse(Write(d, SbomFormat::kCycloneDxJson));
  EXPECT_EQ(j["bomFormat"], "CycloneDX");
  EXPECT_EQ(j["specVersion"], "1.5");
  EXPECT_EQ(j["serialNumber"], "urn:uuid:" + ImageUuid(d.image.manifest));
  EXPECT_EQ(j["metadata"]["component"]["type"], "container");
  EXPECT_EQ(j["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
  ASSERT_EQ(j["components"].size(), 2u + 1u + 6u);
  EXPECT_EQ(j["components"][0]["purl"], "pkg:deb/debian/bash@5.2.15-2%2Bb2?arch=amd64");
  EXPECT_EQ(j["components"][1]["purl"], "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64");
  EXPECT_EQ(j["components"][2]["hashes"][0]["content"], pause_.Hex());
  EXPECT_EQ(j["components"][3]["name"], "big.bin");
  EXPECT_EQ(j["components"][3]["hashes"][0]["alg"], "SHA-256");
}

TEST_F(SbomTest, DeterministicApartFromTheTime) {
  SbomDocument a = Doc(), b = Doc();
  EXPECT_EQ(Write(a, SbomFormat::kSpdxJson), Write(b, SbomFormat::kSpdxJson));
  EXPECT_EQ(Write(a, SbomFormat::kCycloneDxJson), Write(b, SbomFormat::kCycloneDxJson));
}

TEST(Sbom, Helpers) {
  std::string repo, tag;
  SplitImageName("127.0.0.1:5000/team/app:1", &repo, &tag);
  EXPECT_EQ(repo, "127.0.0.1:5000/team/app");
  EXPECT_EQ(tag, "1");
  SplitImageName("127.0.0.1:5000/team/app", &repo, &tag);
  EXPECT_EQ(tag, "latest");
  SplitImageName("docker://a/b@sha256:00", &repo, &tag);
  EXPECT_EQ(repo, "a/b");
  EXPECT_EQ(tag, "");
  EXPECT_EQ(Rfc3339Utc(0), "1970-01-01T00:00:00Z");
  std::string u = ImageUuid(Digest::Of("x"));
  EXPECT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '8');
  EXPECT_NE(u, ImageUuid(Digest::Of("y")));
  EXPECT_FALSE(ParseSbomFormat("spdx").ok());
  EXPECT_EQ(*SbomFormatOfMediaType(SbomMediaType(SbomFormat::kCycloneDxJson)),
            SbomFormat::kCycloneDxJson);
}

TEST(Sbom, CreationTimeFromSourceDateEpoch) {
  ::setenv("SOURCE_DATE_EPOCH", "1234", 1);
  EXPECT_EQ(SbomCreationTime(), 1234);
  ::setenv("SOURCE_DATE_EPOCH", "12x", 1);
  EXPECT_GT(SbomCreationTime(), 1700000000);
  ::unsetenv("SOURCE_DATE_EPOCH");
}

TEST_F(SbomTest, BadTagLinkNamesThePath) {
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

TEST(Sbom, StatusDirEntriesAndMalformedStatus) {
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
