// PullReferrers (and Client::GetReferrers) against the in-memory registry:
// the referrers API, the fallback tag, neither, and artifacts that do not
// verify or are of another shape.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "registry/referrers.h"
#include "registry/testing/fake_transport.h"

namespace cfs::registry {
namespace {

using nlohmann::json;
using testing::FakeTransport;
using testing::Fault;

constexpr const char* kRepo = "team/app";
constexpr const char* kSpdx = "application/spdx+json";
constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kOciIndex = "application/vnd.oci.image.index.v1+json";

json Desc(const std::string& media_type, const std::string& bytes) {
  return {
      {"mediaType", media_type}, {"digest", Digest::Of(bytes).ToString()}, {"size", bytes.size()}};
}

// An artifact manifest: the empty config, `blobs` as its layers, subject.
std::string Artifact(const std::vector<std::string>& blobs, const json& subject) {
  json layers = json::array();
  for (const auto& b : blobs) layers.push_back(Desc(kSpdx, b));
  json config = Desc("application/vnd.oci.empty.v1+json", "{}");
  return json{{"schemaVersion", 2}, {"mediaType", kOciManifest}, {"artifactType", kSpdx},
              {"config", config},   {"layers", layers},          {"subject", subject}}
      .dump();
}

class PullReferrersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image_bytes_ =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]})";
    image_ = fake_->PutManifest(kRepo, "1", kOciManifest, image_bytes_);
    ClientOptions o;
    o.transport = fake_;
    o.creds = Credentials{};
    o.backoff_ms = 1;
    o.retries = 1;
    auto c = Client::Create("fake.test", o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }
  json Subject() const { return Desc(kOciManifest, image_bytes_); }
  // Puts an artifact (its blobs and the empty config) in the registry.
  std::string PutArtifact(const std::vector<std::string>& blobs, const json& subject) {
    for (const auto& b : blobs) fake_->PutBlob(kRepo, b);
    fake_->PutBlob(kRepo, "{}");
    std::string m = Artifact(blobs, subject);
    fake_->PutManifest(kRepo, "", kOciManifest, m);
    return m;
  }
  // Lists manifests under the fallback tag of the image.
  void PutFallbackIndex(const std::vector<std::string>& manifests) {
    json entries = json::array();
    for (const auto& m : manifests) {
      json d = Desc(kOciManifest, m);
      d["artifactType"] = kSpdx;
      entries.push_back(d);
    }
    json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", entries}};
    fake_->PutManifest(kRepo, ReferrersTag(image_), kOciIndex, index.dump());
  }

  std::shared_ptr<FakeTransport> fake_ = std::make_shared<FakeTransport>();
  std::unique_ptr<Client> client_;
  std::string image_bytes_;
  Digest image_;
};

TEST_F(PullReferrersTest, TheReferrersApiListsThem) {
  fake_->SupportReferrers(true);
  std::string m = PutArtifact({"{\"sbom\":1}"}, Subject());
  auto index = client_->GetReferrers(kRepo, image_);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_TRUE(index->has_value());
  EXPECT_EQ(json::parse(**index)["manifests"].size(), 1u);
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].artifact_type, kSpdx);
  EXPECT_EQ((*r)[0].manifest, m);
  EXPECT_EQ((*r)[0].blob, "{\"sbom\":1}");
  EXPECT_EQ(fake_->Seen("GET /v2/team/app/referrers/" + image_.ToString()), 2);
  EXPECT_EQ(fake_->Seen("/manifests/" + ReferrersTag(image_)), 0);  // no fallback asked
}

TEST_F(PullReferrersTest, TheApiInPagesIsReadToTheLastPage) {
  fake_->SupportReferrers(true);
  fake_->PageReferrers(1);
  std::set<std::string> want;
  for (int i = 0; i < 3; i++)
    want.insert(PutArtifact({"{\"page\":" + std::to_string(i) + "}"}, Subject()));
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::set<std::string> got;
  for (const auto& x : *r) got.insert(x.manifest);
  EXPECT_EQ(got, want);
  EXPECT_EQ(fake_->Seen("GET /v2/team/app/referrers/"), 3);
  EXPECT_EQ(fake_->Seen("/manifests/" + ReferrersTag(image_)), 0);
}

TEST_F(PullReferrersTest, APageThatFailsFailsThePull) {
  fake_->SupportReferrers(true);
  fake_->PageReferrers(1);
  for (int i = 0; i < 2; i++) PutArtifact({"{\"page\":" + std::to_string(i) + "}"}, Subject());
  Fault second_page = Fault::Answer("/referrers/", 404, -1);
  second_page.skip = 1;  // the first page answers, with a Link to the second
  fake_->AddFault(second_page);
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("referrers of " + image_.ToString()), std::string::npos)
      << r.status().ToString();
}

TEST_F(PullReferrersTest, WithoutTheApiTheFallbackTagListsThem) {
  std::string m = PutArtifact({"{\"sbom\":2}"}, Subject());
  PutFallbackIndex({m, m});  // listed twice: pulled once
  auto index = client_->GetReferrers(kRepo, image_);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_FALSE(index->has_value());  // 404: no API
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].manifest, m);
  EXPECT_EQ((*r)[0].blob, "{\"sbom\":2}");
}

TEST_F(PullReferrersTest, AnApiAnsweringOtherwiseThanAnIndexFallsBackToo) {
  std::string m = PutArtifact({"{\"sbom\":3}"}, Subject());
  PutFallbackIndex({m});
  fake_->AddFault(Fault::Answer("/referrers/", 405, -1));
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].blob, "{\"sbom\":3}");
}

TEST_F(PullReferrersTest, NeitherApiNorTagMeansNone) {
  PutArtifact({"{\"sbom\":4}"}, Subject());  // there, but listed nowhere
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(fake_->Seen("/manifests/" + ReferrersTag(image_)), 1);
}

TEST_F(PullReferrersTest, AFallbackTagThatCannotBeReadIsAnError) {
  fake_->AddFault(Fault::Answer("/manifests/" + ReferrersTag(image_), 500, -1));
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(ReferrersTag(image_)), std::string::npos)
      << r.status().ToString();
}

TEST_F(PullReferrersTest, SomethingElseUnderTheFallbackTagIsAnError) {
  fake_->PutManifest(kRepo, ReferrersTag(image_), kOciManifest, image_bytes_);
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not an OCI index"), std::string::npos)
      << r.status().ToString();
}

TEST_F(PullReferrersTest, ABlobThatDoesNotMatchItsDigestIsCorruption) {
  fake_->SupportReferrers(true);
  std::string m = PutArtifact({"{\"sbom\":5}"}, Subject());
  fake_->PutRawBlob(kRepo, Digest::Of("{\"sbom\":5}"), "{\"sbom\":6}");
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find("artifact " + Digest::Of(m).ToString()), std::string::npos)
      << r.status().ToString();
}

TEST_F(PullReferrersTest, AManifestThatDoesNotMatchTheIndexIsCorruption) {
  std::string m = PutArtifact({"{\"sbom\":7}"}, Subject());
  json entry = Desc(kOciManifest, m);
  entry["artifactType"] = kSpdx;
  entry["size"] = m.size() + 1;
  json index = {{"schemaVersion", 2}, {"mediaType", kOciIndex}, {"manifests", {entry}}};
  fake_->PutManifest(kRepo, ReferrersTag(image_), kOciIndex, index.dump());
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();
}

TEST_F(PullReferrersTest, ArtifactsOfAnotherShapeAreSkipped) {
  fake_->SupportReferrers(true);
  std::string keep = PutArtifact({"{\"sbom\":8}"}, Subject());
  PutArtifact({"a", "b"}, Subject());  // two layers
  json other = Desc(kOciManifest, "another image");
  std::string m = PutArtifact({"{\"sbom\":9}"}, other);
  PutFallbackIndex({m});  // another subject, even listed under this image's tag
  auto r = PullReferrers(*client_, kRepo, image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].manifest, keep);
  // The fallback index is not read when the API answers.
  fake_->SupportReferrers(false);
  r = PullReferrers(*client_, kRepo, image_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace cfs::registry
