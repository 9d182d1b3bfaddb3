#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "image_source_internal.h"
#include "transport/image_source.h"

namespace cfs {
namespace {

using nlohmann::json;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kSpdx[] = "application/spdx+json";

// An artifact manifest with `blob` as its layer, subject `subject`.
std::string Artifact(const std::string& blob, const Digest& subject, bool empty_config = true) {
  json config = {
      {"mediaType", empty_config ? "application/vnd.oci.empty.v1+json" : "application/x-own"},
      {"digest", Digest::Of("{}").ToString()},
      {"size", 2}};
  return json{
      {"schemaVersion", 2},
      {"mediaType", kOciManifest},
      {"artifactType", kSpdx},
      {"config", config},
      {"layers",
       {{{"mediaType", kSpdx}, {"digest", Digest::Of(blob).ToString()}, {"size", blob.size()}}}},
      {"subject", {{"mediaType", kOciManifest}, {"digest", subject.ToString()}, {"size", 10}}}}
      .dump();
}

class LayoutReferrersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("/tmp", "layout-referrers-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::move(*t);
    auto w = OciLayoutWriter::Create(tmp_.path() + "/l");
    ASSERT_TRUE(w.ok());
    w_ = std::move(*w);
  }
  // Adds an untagged manifest entry (with artifact_type) for bytes.
  void Add(const std::string& manifest, const std::string& artifact_type) {
    Descriptor d{kOciManifest, Digest::Of(manifest), manifest.size(), {}, artifact_type};
    ASSERT_TRUE(w_->PutManifest(d, manifest, "").ok());
  }
  void Blob(const std::string& bytes) { ASSERT_TRUE(w_->PutBlob(Digest::Of(bytes), bytes).ok()); }
  TempDir tmp_;
  std::unique_ptr<OciLayoutWriter> w_;
  const Digest image_ = Digest::Of("the image");
};

TEST_F(LayoutReferrersTest, ReadsTheArtifactsOfTheSubjectOnly) {
  Blob("sbom 1");
  Blob("sbom 2");
  Blob("{}");
  Add(Artifact("sbom 1", image_), kSpdx);
  Add(Artifact("sbom 1", image_), kSpdx);                 // the same entry again: listed once
  Add(Artifact("sbom 2", Digest::Of("another")), kSpdx);  // another image's
  Add(Artifact("sbom 2", image_, /*empty_config=*/false), kSpdx);  // not an artifact cimg keeps
  Add(Artifact("sbom 2", image_), "");  // no artifactType: an image entry
  ASSERT_TRUE(w_->Finish().ok());
  auto r = oci::ReadLayoutReferrers(tmp_.path() + "/l", "oci:l", image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].artifact_type, kSpdx);
  EXPECT_EQ((*r)[0].blob, "sbom 1");
  EXPECT_EQ((*r)[0].manifest, Artifact("sbom 1", image_));
  auto none = oci::ReadLayoutReferrers(tmp_.path() + "/l", "oci:l", Digest::Of("nothing"));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(LayoutReferrersTest, AnEntryCarriesItsArtifactType) {
  Blob("sbom 1");
  Add(Artifact("sbom 1", image_), kSpdx);
  ASSERT_TRUE(w_->Finish().ok());
  auto r = ReadFile(tmp_.path() + "/l/index.json");
  ASSERT_TRUE(r.ok());
  json index = json::parse(*r);
  ASSERT_EQ(index["manifests"].size(), 1u);
  EXPECT_EQ(index["manifests"][0]["artifactType"], kSpdx);
  EXPECT_FALSE(index["manifests"][0].contains("annotations"));
}

TEST_F(LayoutReferrersTest, ADamagedArtifactBlobIsCorruption) {
  Blob("{}");
  const std::string m = Artifact("sbom 1", image_);
  Add(m, kSpdx);
  ASSERT_TRUE(w_->Finish().ok());
  // The layer blob written under its digest with other bytes of its size.
  ASSERT_TRUE(
      WriteFileAtomic(tmp_.path() + "/l/blobs/sha256/" + Digest::Of("sbom 1").Hex(), "sbom 9")
          .ok());
  auto r = oci::ReadLayoutReferrers(tmp_.path() + "/l", "oci:l", image_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("oci:l: artifact " + Digest::Of(m).ToString()),
            std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("does not match"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace cfs
