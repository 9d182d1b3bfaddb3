#include "transport/oci_artifact.h"

#include <gtest/gtest.h>

#include "transport/oci_metadata.h"

namespace cfs::oci {
namespace {

using nlohmann::json;

const Digest kImage = Digest::Of("the image");

json Desc(const std::string& media_type, const std::string& bytes) {
  return {
      {"mediaType", media_type}, {"digest", Digest::Of(bytes).ToString()}, {"size", bytes.size()}};
}

json Artifact() {
  return {{"schemaVersion", 2},
          {"mediaType", kMediaTypeOciManifest},
          {"artifactType", "application/spdx+json"},
          {"config", Desc(kMediaTypeEmptyConfig, "{}")},
          {"layers", {Desc("application/spdx+json", "sbom")}},
          {"subject",
           {{"mediaType", kMediaTypeOciManifest}, {"digest", kImage.ToString()}, {"size", 9}}}};
}

TEST(ArtifactLayerTest, KeepsTheOneLayerOfAnArtifactOfTheSubject) {
  auto l = ArtifactLayer(Artifact(), kImage, "a");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_TRUE(l->has_value());
  EXPECT_EQ((*l)->digest, Digest::Of("sbom"));
  EXPECT_EQ((*l)->size, 4u);
}

TEST(ArtifactLayerTest, PassesOverOtherShapes) {
  json other_subject = Artifact();
  other_subject["subject"]["digest"] = Digest::Of("x").ToString();
  json two_layers = Artifact();
  two_layers["layers"].push_back(Desc("application/spdx+json", "more"));
  json own_config = Artifact();
  own_config["config"] = Desc("application/x-own", "{}");
  json no_subject = Artifact();
  no_subject.erase("subject");
  for (const json& m : {other_subject, two_layers, own_config, no_subject}) {
    auto l = ArtifactLayer(m, kImage, "a");
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    EXPECT_FALSE(l->has_value()) << m.dump();
  }
}

TEST(ArtifactLayerTest, AMalformedLayerIsInvalid) {
  json m = Artifact();
  m["layers"][0]["digest"] = "nonsense";
  auto l = ArtifactLayer(m, kImage, "art");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(l.status().message().rfind("art: layer", 0), 0u) << l.status().message();
}

TEST(CheckArtifactSizeTest, RefusesMoreThanTheCap) {
  Descriptor d{"application/spdx+json", Digest::Of("x"), kMaxArtifactBytes, {}, ""};
  EXPECT_TRUE(CheckArtifactSize(d, "a").ok());
  d.size++;
  EXPECT_EQ(CheckArtifactSize(d, "a").code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace cfs::oci
