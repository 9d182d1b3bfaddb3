// The SPDX and CycloneDX documents of a synthetic image (sbom.cc,
// spdx_writer.cc, cyclonedx_writer.cc), and the helpers of sbom.h.
#include "sbom/sbom.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "sbom/testing/synthetic_image.h"

namespace cfs::sbom {
namespace {

using nlohmann::json;

class SbomTest : public testing::SyntheticImageTest {
 protected:
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
};

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

}  // namespace
}  // namespace cfs::sbom
