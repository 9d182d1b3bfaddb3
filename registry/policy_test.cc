#include "registry/policy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "base/coding.h"
#include "base/io.h"
#include "registry/pull.h"
#include "registry/sigstore_attachments.h"
#include "registry/sigstore_key.h"
#include "registry/testing/fake_transport.h"

namespace cfs::registry {
namespace {

using testing::FakeTransport;

Reference Ref(const std::string& s) {
  auto r = Reference::Parse(s);
  EXPECT_TRUE(r.ok()) << s;
  return r.ok() ? *r : Reference{};
}

SignaturePolicy Policy(const std::string& text) {
  auto p = SignaturePolicy::Parse(text, "policy.json");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? *p : SignaturePolicy();
}

std::string Entry(const SignaturePolicy& p, const std::string& ref) {
  return p.ForDocker(Ref(ref)).entry;
}

const char* kScopes = R"({
  "default": [{"type": "reject"}],
  "transports": {
    "docker": {
      "": [{"type": "insecureAcceptAnything"}],
      "quay.io": [{"type": "reject"}],
      "quay.io/team": [{"type": "insecureAcceptAnything"}],
      "quay.io/team/app:1": [{"type": "reject"}],
      "*.example.com": [{"type": "reject"}],
      "127.0.0.1:5000/signed": [{"type": "sigstoreSigned", "keyPath": "/nonexistent.pub"}]
    },
    "oci": {"/srv/images": [{"type": "reject"}]},
    "docker-archive": {"": [{"type": "reject"}]}
  }})";

TEST(Policy, DockerScopesLongestMatchFirst) {
  SignaturePolicy p = Policy(kScopes);
  EXPECT_EQ(Entry(p, "quay.io/team/app:1"), "policy.json transports.docker[\"quay.io/team/app:1\"]");
  EXPECT_EQ(Entry(p, "quay.io/team/app:2"), "policy.json transports.docker[\"quay.io/team\"]");
  EXPECT_EQ(Entry(p, "quay.io/other/app:1"), "policy.json transports.docker[\"quay.io\"]");
  EXPECT_EQ(Entry(p, "reg.example.com:5000/x:1"), "policy.json transports.docker[\"*.example.com\"]");
  EXPECT_EQ(Entry(p, "127.0.0.1:5000/signed:1"), "policy.json transports.docker[\"127.0.0.1:5000/signed\"]");
  EXPECT_EQ(Entry(p, "nginx"), "policy.json transports.docker[\"\"]");
  EXPECT_EQ(p.ForLocal("oci", "/srv/images/app").entry, "policy.json transports.oci[\"/srv/images\"]");
  EXPECT_EQ(p.ForLocal("oci-archive", "/srv/images/app.tar").entry, "policy.json default");
  EXPECT_EQ(p.ForLocal("docker-archive", "/a.tar").entry, "policy.json transports.docker-archive[\"\"]");
}

TEST(Policy, Namespaces) {
  EXPECT_EQ(DockerPolicyNamespaces(Ref("reg.example.com:5000/ns/app:1")),
            (std::vector<std::string>{"reg.example.com:5000/ns/app", "reg.example.com:5000/ns",
                                      "reg.example.com:5000", "*.example.com", "*.com"}));
  EXPECT_EQ(DockerPolicyIdentity(Ref("busybox")), "docker.io/library/busybox:latest");
}

TEST(Policy, MalformedFilesAreRefusedWithTheReason) {
  auto bad = [](const std::string& text) {
    auto p = SignaturePolicy::Parse(text, "p.json");
    EXPECT_FALSE(p.ok()) << text;
    return p.ok() ? std::string() : p.status().message();
  };
  EXPECT_EQ(bad("{\"transports\":{}}"), "p.json: the default policy is missing");
  EXPECT_EQ(bad("{\n\"default\": [\n"), "p.json:3: not JSON");
  EXPECT_EQ(bad("{\"default\":[]}"), "p.json: default: the list of requirements must not be empty");
  EXPECT_EQ(bad("{\"default\":[{\"type\":\"acceptAll\"}]}"),
            "p.json: default[0]: unknown policy requirement type \"acceptAll\"");
  EXPECT_EQ(bad("{\"default\":[{\"type\":\"reject\",\"x\":1}]}"), "p.json: default[0]: unknown field \"x\"");
  EXPECT_EQ(bad("{\"default\":[{\"type\":\"sigstoreSigned\"}]}"),
            "p.json: default[0]: sigstoreSigned needs one of keyPath, keyPaths, keyData, keyDatas");
  EXPECT_EQ(bad("{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPath\":\"a\",\"keyData\":\"\"}]}"),
            "p.json: default[0]: sigstoreSigned takes only one of keyPath, keyPaths, keyData, keyDatas");
  EXPECT_EQ(bad("{\"default\":[{\"type\":\"reject\"}],\"transports\":{\"oci\":{\"rel/dir\":[{\"type\":\"reject\"}]}}}"),
            "p.json: transports.oci[\"rel/dir\"]: must be an absolute path");
  EXPECT_EQ(bad("{\"default\":[{\"type\":\"sigstoreSigned\",\"keyPath\":\"k\",\"signedIdentity\":{\"type\":\"exactReference\"}}]}"),
            "p.json: default[0]: signedIdentity: \"dockerReference\" missing");
  EXPECT_EQ(bad("{\"default\":[{\"type\":\"reject\"}],\"other\":1}"), "p.json: policy: unknown field \"other\"");
}

TEST(Policy, RejectAndUnsupportedRefuseWithTheEntry) {
  SignaturePolicy p = Policy(kScopes);
  PolicyImage img{"quay.io/other/app:1", "docker", Ref("quay.io/other/app:1"), {}, nullptr};
  Status s = SignaturePolicy::Check(p.ForDocker(img.reference), img);
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(s.message(), "quay.io/other/app:1: refused by policy policy.json transports.docker[\"quay.io\"] "
                         "(reject): this scope rejects every image");
  img.reference = Ref("quay.io/team/app:2");
  EXPECT_TRUE(SignaturePolicy::Check(p.ForDocker(img.reference), img).ok());

  SignaturePolicy gpg = Policy(R"({"default":[{"type":"signedBy","keyType":"GPGKeys","keyPath":"k.gpg"}]})");
  s = SignaturePolicy::Check(gpg.ForDocker(img.reference), img);
  EXPECT_NE(s.message().find("policy.json default (signedBy): cimg does not verify signedBy"), std::string::npos)
      << s.message();
  PolicyImage local{"oci:/srv/images/app", "oci", {}, {}, nullptr};
  s = SignaturePolicy::Check(p.ForLocal("oci", "/srv/images/app"), local);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(SignaturePolicy().ForDocker(img.reference).entry, "(no policy file) default");
  EXPECT_TRUE(SignaturePolicy().ForDocker(img.reference).AcceptsAnything());
}

TEST(Policy, SignedIdentityRules) {
  using T = SignedIdentity::Type;
  SignedIdentity id;
  Reference tagged = Ref("quay.io/team/app:1");
  Reference digested = Ref("quay.io/team/app@sha256:" + std::string(64, 'a'));
  EXPECT_TRUE(IdentityMatches(id, tagged, "quay.io/team/app:1"));
  EXPECT_FALSE(IdentityMatches(id, tagged, "quay.io/team/app:2"));
  EXPECT_FALSE(IdentityMatches(id, tagged, "quay.io/team/app"));  // name only
  EXPECT_TRUE(IdentityMatches(id, digested, "quay.io/team/app:9"));
  EXPECT_FALSE(IdentityMatches(id, digested, "quay.io/team/other:9"));
  EXPECT_TRUE(IdentityMatches(id, Ref("busybox:1"), "docker.io/library/busybox:1"));
  id.type = T::kMatchRepository;
  EXPECT_TRUE(IdentityMatches(id, tagged, "quay.io/team/app:7"));
  id.type = T::kExactRepository;
  id.reference = "quay.io/release/app";
  EXPECT_TRUE(IdentityMatches(id, tagged, "quay.io/release/app:3"));
  EXPECT_FALSE(IdentityMatches(id, tagged, "quay.io/team/app:1"));
  id.type = T::kRemapIdentity;
  id.prefix = "mirror.local/team";
  id.signed_prefix = "quay.io/team";
  EXPECT_TRUE(IdentityMatches(id, Ref("mirror.local/team/app:1"), "quay.io/team/app:1"));
  EXPECT_FALSE(IdentityMatches(id, Ref("mirror.local/teamx/app:1"), "quay.io/team/app:1"));
}

// A signature whose identity names the repository without a tag (as cosign
// writes them): the default signedIdentity refuses it, matchRepository
// accepts it. The key comes as keyData (base64 of the PEM).
TEST(Policy, RepositoryIdentityUnderKeyDataAndSignedIdentity) {
  auto pair = sigstore::GenerateKeyPair("pw");
  ASSERT_TRUE(pair.ok());
  auto key = sigstore::PrivateKey::Load(pair->private_pem, "pw");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  const Digest manifest = Digest::Of(std::string("the signed manifest"));
  sigstore::Signature sig;
  sig.media_type = sigstore::kSignatureMediaType;
  sig.payload = "{\"critical\":{\"identity\":{\"docker-reference\":\"reg.example:5000/signed-sample\"},"
                "\"image\":{\"docker-manifest-digest\":\"" + manifest.ToString() + "\"},"
                "\"type\":\"cosign container image signature\"},\"optional\":null}";
  auto raw = key->Sign(sig.payload);
  ASSERT_TRUE(raw.ok());
  sig.annotations[sigstore::kSignatureAnnotation] = Base64Encode(*raw);
  PolicyImage img{"reg.example:5000/signed-sample:latest", "docker", Ref("reg.example:5000/signed-sample:latest"),
                  manifest,
                  [&] { return Result<std::vector<sigstore::Signature>>(std::vector<sigstore::Signature>{sig}); }};
  auto policy = [&](const std::string& identity) {
    return Policy("{\"default\":[{\"type\":\"sigstoreSigned\",\"keyData\":\"" + Base64Encode(pair->public_pem) +
                  "\"" + identity + "}]}");
  };
  SignaturePolicy by_repo = policy(",\"signedIdentity\":{\"type\":\"matchRepository\"}");
  Status s = SignaturePolicy::Check(by_repo.ForDocker(img.reference), img);
  EXPECT_TRUE(s.ok()) << s.ToString();
  SignaturePolicy exact = policy("");
  s = SignaturePolicy::Check(exact.ForDocker(img.reference), img);
  EXPECT_NE(s.message().find("signature for identity \"reg.example:5000/signed-sample\" is not accepted"),
            std::string::npos) << s.message();
  img.manifest_digest = Digest::Of(std::string("another manifest"));
  s = SignaturePolicy::Check(by_repo.ForDocker(img.reference), img);
  EXPECT_NE(s.message().find("does not match"), std::string::npos) << s.message();
}

// Signatures in a registry (the fake one) through CheckPullPolicy.
class SignedPullTest : public ::testing::Test {
 protected:
  SignedPullTest() : fake_(std::make_shared<FakeTransport>()) {
    opts_.transport = fake_;
    opts_.creds = Credentials{};
    opts_.backoff_ms = 1;
    dir_ = "/tmp/policy_test_" + RandomHex(6);
    EXPECT_TRUE(MakeDirs(dir_).ok());
    auto pair = sigstore::GenerateKeyPair("pw");
    key_ = *sigstore::PrivateKey::Load(pair->private_pem, "pw");
    EXPECT_TRUE(WriteFileAtomic(dir_ + "/key.pub", pair->public_pem).ok());
    manifest_ = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":)"
                R"({"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
                std::string(64, '0') + R"(","size":2},"layers":[]})";
    digest_ = fake_->PutManifest("team/app", "1", "application/vnd.oci.image.manifest.v1+json", manifest_);
  }
  ~SignedPullTest() override { (void)RemoveTree(dir_); }

  std::shared_ptr<Client> Connect() {
    auto c = Client::Create("fake.test", opts_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::shared_ptr<Client>(std::move(*c));
  }
  Status Sign(const sigstore::PrivateKey& k, const std::string& identity) {
    auto c = Connect();
    auto s = sigstore::Sign(k, digest_, identity, "test");
    if (!s.ok()) return s.status();
    return sigstore::PutSignature(*c, "team/app", digest_, *s, dir_);
  }
  Status Pull(const std::string& ref, ConnectedPull* out = nullptr) {
    SignaturePolicy p = Policy(R"({"default":[{"type":"insecureAcceptAnything"}],"transports":{"docker":)"
                               R"({"fake.test/team":[{"type":"sigstoreSigned","keyPath":")" + dir_ + R"(/key.pub"}]}}})");
    ConnectedPull c{Connect(), Ref(ref), Ref(ref), ""};
    Status s = CheckPullPolicy(p, c);
    if (out) *out = c;
    return s;
  }

  std::shared_ptr<FakeTransport> fake_;
  ClientOptions opts_;
  std::string dir_, manifest_;
  sigstore::PrivateKey key_;
  Digest digest_;
};

TEST_F(SignedPullTest, UnsignedIsRefusedNamingTheEntry) {
  Status s = Pull("fake.test/team/app:1");
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(s.message(), "fake.test/team/app:1: refused by policy policy.json transports.docker[\"fake.test/team\"] "
                         "(sigstoreSigned): A signature was required, but no signature exists");
}

TEST_F(SignedPullTest, SignedIsAcceptedAndPinnedToTheCheckedDigest) {
  ASSERT_TRUE(Sign(key_, "fake.test/team/app:1").ok());
  ConnectedPull c;
  Status s = Pull("fake.test/team/app:1", &c);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(c.remote.digest.has_value());
  EXPECT_EQ(*c.remote.digest, digest_);
  EXPECT_EQ(c.remote.ManifestRef(), digest_.ToString());
  // The attachment is where skopeo looks: an OCI manifest under sha256-HEX.sig.
  auto m = fake_->ManifestByTag("team/app", sigstore::AttachmentTag(digest_));
  ASSERT_TRUE(m.has_value());
  EXPECT_NE(m->find("application/vnd.dev.cosign.simplesigning.v1+json"), std::string::npos);
  EXPECT_NE(m->find("dev.cosignproject.cosign/signature"), std::string::npos);
}

TEST_F(SignedPullTest, SecondSignatureIsAddedAndSameOneNotTwice) {
  ASSERT_TRUE(Sign(key_, "fake.test/team/app:1").ok());
  auto c = Connect();
  auto sigs = sigstore::FetchSignatures(*c, "team/app", digest_);
  ASSERT_TRUE(sigs.ok()) << sigs.status().ToString();
  ASSERT_EQ(sigs->size(), 1u);
  ASSERT_TRUE(sigstore::PutSignature(*c, "team/app", digest_, (*sigs)[0], dir_).ok());
  EXPECT_EQ(sigstore::FetchSignatures(*c, "team/app", digest_)->size(), 1u);
  auto other = sigstore::PrivateKey::Load(sigstore::GenerateKeyPair("o")->private_pem, "o");
  ASSERT_TRUE(Sign(*other, "fake.test/team/app:1").ok());
  EXPECT_EQ(sigstore::FetchSignatures(*c, "team/app", digest_)->size(), 2u);
  EXPECT_TRUE(Pull("fake.test/team/app:1").ok());  // one accepted is enough
}

TEST_F(SignedPullTest, OtherKeyOrIdentityIsRefused) {
  auto other = sigstore::PrivateKey::Load(sigstore::GenerateKeyPair("o")->private_pem, "o");
  ASSERT_TRUE(Sign(*other, "fake.test/team/app:1").ok());
  Status s = Pull("fake.test/team/app:1");
  EXPECT_NE(s.message().find("(sigstoreSigned): cryptographic signature verification failed"), std::string::npos)
      << s.message();
  ASSERT_TRUE(Sign(key_, "fake.test/team/app:2").ok());
  s = Pull("fake.test/team/app:1");
  EXPECT_NE(s.message().find("None of the signatures were accepted"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("signature for identity \"fake.test/team/app:2\" is not accepted"), std::string::npos);
}

TEST_F(SignedPullTest, MissingKeyFileIsARefusal) {
  ASSERT_TRUE(Sign(key_, "fake.test/team/app:1").ok());
  ASSERT_EQ(::unlink((dir_ + "/key.pub").c_str()), 0);
  Status s = Pull("fake.test/team/app:1");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("key.pub"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace cfs::registry
