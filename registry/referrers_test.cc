// PushReferrers against the in-memory registry (no referrers API: the
// fallback index), with a real store holding an image and its artifact.
#include "registry/referrers.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "registry/testing/fake_transport.h"
#include "store/testing/temp_store.h"

namespace cfs::registry {
namespace {

using nlohmann::json;
using testing::FakeTransport;

constexpr const char* kRepo = "team/app";
constexpr const char* kSpdx = "application/spdx+json";

class ReferrersTest : public cfs::testing::TempStoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempStoreTest::SetUp());
    ASSERT_TRUE(MakeDirs(tmp_.path() + "/layer", 0755).ok());
    std::ofstream(tmp_.path() + "/layer/file") << "data\n";
    auto l = store_->ImportDirLayer(tmp_.path() + "/layer", nullptr);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    json config = {{"architecture", "amd64"},
                   {"os", "linux"},
                   {"rootfs", {{"type", "layers"}, {"diff_ids", {l->diff_id.ToString()}}}}};
    ASSERT_TRUE(store_->CreateImage("app:1", config.dump(), "test", {*l}).ok());
    ASSERT_TRUE(store_->AttachArtifact("app:1", kSpdx, "{\"sbom\":1}").ok());
    auto d = store_->Inspect("app:1");
    ASSERT_TRUE(d.ok());
    image_ = *d;
    // What a push put there: some manifest of the repository.
    pushed_bytes_ =
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]})";
    pushed_ =
        fake_->PutManifest(kRepo, "1", "application/vnd.oci.image.manifest.v1+json", pushed_bytes_);
    ClientOptions o;
    o.transport = fake_;
    o.creds = Credentials{};
    o.backoff_ms = 1;
    auto c = Client::Create("fake.test", o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    client_ = std::move(*c);
  }

  json FallbackIndex() {
    auto i = fake_->ManifestByTag(kRepo, ReferrersTag(pushed_));
    EXPECT_TRUE(i.has_value());
    return i ? json::parse(*i) : json();
  }

  ImageDetails image_;
  std::shared_ptr<FakeTransport> fake_ = std::make_shared<FakeTransport>();
  std::unique_ptr<Client> client_;
  std::string pushed_bytes_;
  Digest pushed_;
};

TEST_F(ReferrersTest, PushesBlobsManifestWithNewSubjectAndFallbackIndex) {
  auto r = PushReferrers(*store_, *client_, kRepo, image_, pushed_, tmp_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE((*r)[0].fallback_tag);
  EXPECT_EQ(fake_->Blob(kRepo, Digest::Of("{\"sbom\":1}")), "{\"sbom\":1}");
  EXPECT_EQ(fake_->Blob(kRepo, Digest::Of("{}")), "{}");
  json i = FallbackIndex();
  EXPECT_EQ(i["mediaType"], "application/vnd.oci.image.index.v1+json");
  ASSERT_EQ(i["manifests"].size(), 1u);
  EXPECT_EQ(i["manifests"][0]["artifactType"], kSpdx);
  EXPECT_EQ(i["manifests"][0]["digest"], (*r)[0].manifest.ToString());
  auto m = client_->GetManifest(kRepo, (*r)[0].manifest.ToString());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  json mj = json::parse(m->bytes);
  EXPECT_EQ(mj["subject"]["digest"], pushed_.ToString());  // not the stored manifest's
  EXPECT_EQ(mj["subject"]["size"], pushed_bytes_.size());
  EXPECT_EQ(mj["artifactType"], kSpdx);
}

TEST_F(ReferrersTest, MergesWithAnExistingIndexAndDoesNotRepeat) {
  json other = {{"schemaVersion", 2},
                {"mediaType", "application/vnd.oci.image.index.v1+json"},
                {"manifests",
                 {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                   {"digest", Digest::Of("other").ToString()},
                   {"size", 5},
                   {"artifactType", "application/vnd.example+json"}}}}};
  fake_->PutManifest(kRepo, ReferrersTag(pushed_), "application/vnd.oci.image.index.v1+json",
                     other.dump());
  ASSERT_TRUE(PushReferrers(*store_, *client_, kRepo, image_, pushed_, tmp_.path()).ok());
  ASSERT_TRUE(PushReferrers(*store_, *client_, kRepo, image_, pushed_, tmp_.path()).ok());
  json i = FallbackIndex();
  ASSERT_EQ(i["manifests"].size(), 2u);
  EXPECT_EQ(i["manifests"][0]["artifactType"], "application/vnd.example+json");
  EXPECT_EQ(i["manifests"][1]["artifactType"], kSpdx);
}

TEST_F(ReferrersTest, RefusesToReplaceSomethingElseUnderTheTag) {
  fake_->PutManifest(kRepo, ReferrersTag(pushed_), "application/vnd.oci.image.manifest.v1+json",
                     pushed_bytes_);
  auto r = PushReferrers(*store_, *client_, kRepo, image_, pushed_, tmp_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not an OCI index"), std::string::npos)
      << r.status().message();
}

TEST_F(ReferrersTest, ARegistryWithTheReferrersApiGetsNoFallbackTag) {
  fake_->SupportReferrers(true);
  auto r = PushReferrers(*store_, *client_, kRepo, image_, pushed_, tmp_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_FALSE((*r)[0].fallback_tag);
  EXPECT_TRUE(client_->GetManifest(kRepo, (*r)[0].manifest.ToString()).ok());
  EXPECT_FALSE(fake_->ManifestByTag(kRepo, ReferrersTag(pushed_)).has_value());
}

TEST_F(ReferrersTest, NothingAttachedNothingPushed) {
  image_.referrers.clear();
  auto r = PushReferrers(*store_, *client_, kRepo, image_, pushed_, tmp_.path());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(fake_->ManifestByTag(kRepo, ReferrersTag(pushed_)).has_value());
}

}  // namespace
}  // namespace cfs::registry
