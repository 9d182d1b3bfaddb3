// PushReferrers against the in-memory registry (no referrers API: the
// fallback index), with a real store holding an image and its artifact; and
// the round trip: a pull of the pushed image (PullFromRegistry, through
// RegistrySource::Referrers) into another store brings the artifact back.
#include "registry/referrers.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "registry/image_list_io.h"
#include "registry/pull.h"
#include "registry/push.h"
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

// Pushes app:1 with its artifact to kRepo:2; the digest pushed.
Digest PushWithReferrers(Store& store, std::shared_ptr<Client> client, const std::string& tmp) {
  PushToRegistryOptions o;
  o.client = client;
  auto ref = Reference::Parse(std::string("fake.test/") + kRepo + ":2");
  EXPECT_TRUE(ref.ok());
  auto pushed = PushToRegistry(store, "app:1", *ref, o);
  EXPECT_TRUE(pushed.ok()) << pushed.status().ToString();
  if (!pushed.ok()) return Digest();
  auto d = store.Inspect("app:1");
  EXPECT_TRUE(d.ok());
  auto r = PushReferrers(store, *client, kRepo, *d, pushed->manifest_digest, tmp);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return pushed->manifest_digest;
}

TEST_F(ReferrersTest, AListPushCarriesItsChildrensArtifacts) {
  auto list = store_->PutImageList("app:list", {"app:1"}, "test");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  PushToRegistryOptions o;
  o.client = std::shared_ptr<Client>(std::move(client_));
  auto ref = Reference::Parse(std::string("fake.test/") + kRepo + ":list");
  ASSERT_TRUE(ref.ok());
  auto pushed = PushImageList(*store_, *list, *ref, o);
  ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  auto index = fake_->ManifestByTag(kRepo, "list");
  ASSERT_TRUE(index.has_value());
  json children = json::parse(*index)["manifests"];
  ASSERT_EQ(children.size(), 1u);
  auto child = Digest::Parse(children[0]["digest"].get<std::string>());
  ASSERT_TRUE(child.ok());
  auto referrers = fake_->ManifestByTag(kRepo, ReferrersTag(*child));
  ASSERT_TRUE(referrers.has_value()) << "no referrers index for the child";
  json listed = json::parse(*referrers)["manifests"];
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["artifactType"], kSpdx);
  EXPECT_EQ(fake_->Blob(kRepo, Digest::Of("{\"sbom\":1}")), "{\"sbom\":1}");
}

TEST_F(ReferrersTest, AListWrittenToALayoutCarriesItsChildrensArtifactsBack) {
  auto list = store_->PutImageList("app:list", {"app:1"}, "test");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  const std::string dest = "oci:" + tmp_.path() + "/lay:list";
  auto written = PushImageListToLayout(*store_, *list, dest, PushOptions{});
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  auto other = OpenStore("other");
  ASSERT_TRUE(other);
  auto back = PullAllPlatformsLocal(*other, dest, PullOptions{});
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->images.size(), 1u);
  ASSERT_EQ(back->images[0].image.referrers.size(), 1u);
  EXPECT_EQ(back->images[0].image.referrers[0].artifact_type, kSpdx);
  auto blob = other->ReadBlob(back->images[0].image.referrers[0].blob);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(*blob, "{\"sbom\":1}");
}

Result<PullResult> PullInto(Store& store, std::shared_ptr<Client> client) {
  PullFromRegistryOptions o;
  o.client = std::move(client);
  o.pull.as_name = "back:1";
  return PullFromRegistry(store, std::string("fake.test/") + kRepo + ":2", o);
}

TEST_F(ReferrersTest, APullBringsThemBackAndTheyVerify) {
  std::shared_ptr<Client> client = std::move(client_);
  const Digest pushed = PushWithReferrers(*store_, client, tmp_.path());
  auto other = OpenStore("other");
  ASSERT_TRUE(other);
  auto pulled = PullInto(*other, client);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->image.summary.manifest_digest, pushed);
  ASSERT_EQ(pulled->image.referrers.size(), 1u);
  EXPECT_EQ(pulled->image.referrers[0].artifact_type, kSpdx);
  auto blob = other->ReadBlob(pulled->image.referrers[0].blob);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(*blob, "{\"sbom\":1}");
  auto report = other->Fsck();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();

  // A registry serving other bytes for the SBOM: the pull fails, naming
  // the artifact, and stores no image.
  fake_->PutRawBlob(kRepo, Digest::Of("{\"sbom\":1}"), "{\"sbom\":2}");
  auto third = OpenStore("third");
  ASSERT_TRUE(third);
  auto bad = PullInto(*third, client);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kCorruption) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("artifact sha256:"), std::string::npos)
      << bad.status().ToString();
  EXPECT_FALSE(third->Inspect("back:1").ok());
}

}  // namespace
}  // namespace cfs::registry
