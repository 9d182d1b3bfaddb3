#include "registry/sigstore.h"

#include <gtest/gtest.h>

#include "base/coding.h"
#include "registry/sigstore_key.h"

namespace cfs::registry::sigstore {
namespace {

const Digest kDigest = Digest::Of(std::string("manifest"));

// One key for the whole file: scrypt costs ~0.1 s a call.
const KeyPair& Pair() {
  static KeyPair p = *GenerateKeyPair("secret");
  return p;
}

TEST(SigstoreKey, GeneratedPairHasCosignPemTypes) {
  EXPECT_NE(Pair().private_pem.find("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"), std::string::npos);
  EXPECT_NE(Pair().public_pem.find("-----BEGIN PUBLIC KEY-----"), std::string::npos);
}

TEST(SigstoreKey, PrivateKeyRoundTripsAndSignsForItsPublicKey) {
  auto k = PrivateKey::Load(Pair().private_pem, "secret");
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->Public().Pem(), Pair().public_pem);
  auto pub = PublicKey::Parse(Pair().public_pem);
  ASSERT_TRUE(pub.ok());
  auto sig = k->Sign("hello");
  ASSERT_TRUE(sig.ok());
  EXPECT_TRUE(pub->Verify("hello", *sig));
  EXPECT_FALSE(pub->Verify("hellO", *sig));
}

TEST(SigstoreKey, WrongPassphraseIsDenied) {
  auto k = PrivateKey::Load(Pair().private_pem, "Secret");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.status().code(), Status::Code::kPermissionDenied);
}

TEST(SigstoreKey, OtherPemTypesAndScryptParamsAreRefused) {
  auto k = PrivateKey::Load(Pair().public_pem, "secret");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.status().message().find("unsupported PEM type \"PUBLIC KEY\""), std::string::npos);
  EXPECT_FALSE(EncryptWithPassphrase("x", "p", 1024).ok());
}

TEST(SigstoreKey, EncryptedBodyRoundTripsWithEachAcceptedStrength) {
  for (uint64_t n : {32768u, 65536u}) {
    auto e = EncryptWithPassphrase("plain text", "pw", n);
    ASSERT_TRUE(e.ok());
    EXPECT_NE(e->find("\"N\":" + std::to_string(n)), std::string::npos);
    EXPECT_NE(e->find("\"nacl/secretbox\""), std::string::npos);
    auto d = DecryptWithPassphrase(*e, "pw");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, "plain text");
  }
}

TEST(SigstorePayload, MarshalIsGoJsonAndRoundTrips) {
  Payload p{kDigest, "quay.io/team/app:1", "cimg 0.1", 1700000000};
  std::string m = MarshalPayload(p);
  EXPECT_EQ(m, "{\"critical\":{\"identity\":{\"docker-reference\":\"quay.io/team/app:1\"},"
               "\"image\":{\"docker-manifest-digest\":\"" + kDigest.ToString() + "\"},"
               "\"type\":\"cosign container image signature\"},"
               "\"optional\":{\"creator\":\"cimg 0.1\",\"timestamp\":1700000000}}");
  auto back = ParsePayload(m);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->manifest_digest, kDigest);
  EXPECT_EQ(back->docker_reference, "quay.io/team/app:1");
  EXPECT_EQ(back->creator, "cimg 0.1");
  EXPECT_EQ(back->timestamp, 1700000000);
}

TEST(SigstorePayload, StrictAsContainersImage) {
  const std::string d = kDigest.ToString();
  auto crit = [&](const std::string& extra) {
    return "{\"critical\":{\"identity\":{\"docker-reference\":\"a/b:1\"},\"image\":{\"docker-manifest-digest\":\"" +
           d + "\"},\"type\":\"cosign container image signature\"" + extra + "},\"optional\":null}";
  };
  EXPECT_TRUE(ParsePayload(crit("")).ok());  // cosign's "optional": null
  EXPECT_FALSE(ParsePayload(crit(",\"extra\":1")).ok());
  EXPECT_FALSE(ParsePayload("{\"critical\":{}}").ok());
  EXPECT_FALSE(ParsePayload("{\"critical\":{\"identity\":{\"docker-reference\":\"a/b:1\"},\"image\":{"
                            "\"docker-manifest-digest\":\"sha256:xyz\"},\"type\":\"cosign container image "
                            "signature\"},\"optional\":{}}").ok());
  std::string other = crit("");
  other.replace(other.find("cosign container"), 6, "atomic");
  EXPECT_FALSE(ParsePayload(other).ok());
  std::string frac = crit("");
  frac.replace(frac.find("null"), 4, "{\"timestamp\":1.5}");
  EXPECT_FALSE(ParsePayload(frac).ok());
}

TEST(SigstoreSignature, SignedThenVerifiedWithTheKeyOnly) {
  auto k = PrivateKey::Load(Pair().private_pem, "secret");
  ASSERT_TRUE(k.ok());
  auto s = Sign(*k, kDigest, "quay.io/team/app:1", "cimg test");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->media_type, "application/vnd.dev.cosign.simplesigning.v1+json");
  ASSERT_TRUE(s->annotations.count("dev.cosignproject.cosign/signature"));
  auto v = VerifySignature({k->Public()}, *s);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->manifest_digest, kDigest);

  auto other = PrivateKey::Load(GenerateKeyPair("x")->private_pem, "x");
  ASSERT_TRUE(other.ok());
  auto bad = VerifySignature({other->Public()}, *s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "cryptographic signature verification failed");
  EXPECT_TRUE(VerifySignature({other->Public(), k->Public()}, *s).ok());  // any key of the list

  Signature tampered = *s;
  tampered.payload.replace(tampered.payload.find("team"), 4, "evil");
  EXPECT_FALSE(VerifySignature({k->Public()}, tampered).ok());
  tampered = *s;
  tampered.annotations.clear();
  EXPECT_NE(VerifySignature({k->Public()}, tampered).status().message().find("missing"), std::string::npos);
}

TEST(SigstoreSignature, AttachmentTag) {
  EXPECT_EQ(AttachmentTag(kDigest), "sha256-" + kDigest.Hex() + ".sig");
}

}  // namespace
}  // namespace cfs::registry::sigstore
