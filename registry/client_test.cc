// The registry client over a registry in memory with injected faults
// (testing/fake_transport.h): resumption, deadlines, token renewal, retries.
// No test waits on a clock: stalls end at once with the timeout outcome.
#include "registry/client.h"

#include <gtest/gtest.h>

#include <random>

#include "registry/http.h"
#include "registry/testing/fake_transport.h"

namespace cfs::registry {
namespace {

using testing::Fault;
using testing::FakeTransport;

constexpr char kRepo[] = "lib/app";

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() : fake_(std::make_shared<FakeTransport>()) {
    opts_.transport = fake_;
    opts_.creds = Credentials{};  // no auth file
    opts_.backoff_ms = 1;
  }
  std::unique_ptr<Client> Connect() {
    auto c = Client::Create("fake.test", opts_);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  // GetManifest "v1" through a new client succeeds with m on its second GET.
  std::unique_ptr<Client> ExpectManifestOnSecondTry(const std::string& m) {
    auto c = Connect();
    if (!c) return nullptr;
    auto r = c->GetManifest(kRepo, "v1");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(r->bytes, m);
    }
    EXPECT_EQ(fake_->Seen("GET /v2/lib/app/manifests/v1"), 2);
    return c;
  }
  // FetchBlob through a new client: the status, the bytes into *got.
  Status Fetch(const Descriptor& d, std::string* got) {
    auto c = Connect();
    if (!c) return Status::Unavailable("no client");
    StringSink sink(got);
    return c->FetchBlob(kRepo, d, sink);
  }
  Descriptor PutBlob(size_t n, uint32_t seed) {
    std::string bytes = RandomBytes(n, seed);
    Descriptor d;
    d.digest = fake_->PutBlob(kRepo, bytes);
    d.size = bytes.size();
    return d;
  }
  std::string PutManifest(const std::string& tag) {
    std::string m = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json",)"
                    R"("digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000",)"
                    R"("size":2},"layers":[]})";
    fake_->PutManifest(kRepo, tag, "application/vnd.oci.image.manifest.v1+json", m);
    return m;
  }
  std::shared_ptr<FakeTransport> fake_;
  ClientOptions opts_;
};

TEST_F(ClientTest, BlobPullResumesWithRangeAfterCuts) {
  Descriptor d = PutBlob(300000, 1);
  fake_->AddFault(Fault::Cut("/blobs/", 70000));
  fake_->AddFault(Fault::Cut("/blobs/", 50000));
  std::string got;
  Status s = Fetch(d, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, *fake_->Blob(kRepo, d.digest));
  // Resumed where each cut left off, not from the start.
  EXPECT_EQ(fake_->Seen("Range: bytes=70000-"), 1);
  EXPECT_EQ(fake_->Seen("Range: bytes=120000-"), 1);
  EXPECT_EQ(fake_->Seen("GET /v2/lib/app/blobs/"), 3);
}

TEST_F(ClientTest, ResumeAnsweredInFullIsTrimmed) {
  // A registry that ignores Range answers the resumed request with a full
  // 200: the bytes already received are dropped, not appended twice.
  Descriptor d = PutBlob(100000, 2);
  fake_->IgnoreRange(true);
  fake_->AddFault(Fault::Cut("/blobs/", 40000));
  std::string got;
  Status s = Fetch(d, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Digest::Of(got), d.digest);
}

TEST_F(ClientTest, StallEndsAtTheDeadlineWithOneLineNamingRegistryAndBlob) {
  Descriptor d = PutBlob(5000, 3);
  fake_->AddFault(Fault::Stall("/blobs/"));
  opts_.retries = 2;
  auto c = Connect();
  ASSERT_TRUE(c);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(1);
  auto r = c->GetBlobRange(kRepo, d.digest, 10, 100, deadline);
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("fake.test/lib/app"), std::string::npos) << msg;
  EXPECT_NE(msg.find(d.digest.ToString()), std::string::npos) << msg;
  EXPECT_NE(msg.find("deadline"), std::string::npos) << msg;
  // Every try carried the caller's deadline, and the tries were bounded.
  auto stalled = fake_->stalled_deadlines();
  ASSERT_FALSE(stalled.empty());
  ASSERT_LE(stalled.size(), 3u);
  for (auto t : stalled) EXPECT_EQ(t, deadline);
}

TEST_F(ClientTest, CancelEndsAStalledCallAsAborted) {
  Descriptor d = PutBlob(5000, 4);
  fake_->AddFault(Fault::Stall("/blobs/"));
  auto c = Connect();
  ASSERT_TRUE(c);
  c->Cancel();
  auto r = c->GetBlobRange(kRepo, d.digest, 0, 100);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kAborted) << r.status().ToString();
}

TEST_F(ClientTest, ExpiredTokenIsRenewedOnceAndTheRequestSucceeds) {
  fake_->RequireBearer(true);
  fake_->ExpireTokensAfter(1);
  std::string m = PutManifest("v1");
  auto c = Connect();
  ASSERT_TRUE(c);
  auto first = c->GetManifest(kRepo, "v1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(fake_->tokens_issued(), 1);
  // The cached token has been used up: 401, a new token, the same request.
  auto second = c->GetManifest(kRepo, "v1");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->bytes, m);
  EXPECT_EQ(fake_->tokens_issued(), 2);
  EXPECT_EQ(fake_->Seen("GET /v2/lib/app/manifests/v1"), 3);
}

TEST_F(ClientTest, TokenThatKeepsFailingIsPermissionDenied) {
  fake_->RequireBearer(true);
  fake_->RejectAllTokens(true);
  PutManifest("v1");
  auto c = Connect();
  ASSERT_TRUE(c);
  auto r = c->GetManifest(kRepo, "v1");
  ASSERT_FALSE(r.ok());
  const std::string msg = r.status().message();
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_NE(msg.find("fake.test"), std::string::npos) << msg;
  EXPECT_NE(msg.find("authentication required"), std::string::npos) << msg;
  EXPECT_EQ(fake_->tokens_issued(), 2);  // renewed once, then given up
}

TEST_F(ClientTest, TooManyRequestsIsRetried) {
  std::string m = PutManifest("v1");
  fake_->AddFault(Fault::Answer("/manifests/", 429, 1, "1"));
  auto c = ExpectManifestOnSecondTry(m);
  ASSERT_TRUE(c);
  EXPECT_GE(c->stats().retries, 1u);
}

TEST_F(ClientTest, CutDuringManifestReadIsRetried) {
  std::string m = PutManifest("v1");
  fake_->AddFault(Fault::Cut("/manifests/", 20));
  EXPECT_TRUE(ExpectManifestOnSecondTry(m));
}

TEST_F(ClientTest, RetriesEndWithAnErrorNotAHang) {
  PutManifest("v1");
  fake_->AddFault(Fault::Answer("/manifests/", 503, -1));
  opts_.retries = 3;
  auto c = Connect();
  ASSERT_TRUE(c);
  auto r = c->GetManifest(kRepo, "v1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("HTTP 503"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(fake_->Seen("GET /v2/lib/app/manifests/v1"), 4);  // 1 + retries
}

TEST_F(ClientTest, RetryWindowEndsTheRetries) {
  // A window already over allows no second try, however many retries.
  PutManifest("v1");
  opts_.retries = 1000;
  opts_.retry_window_s = 0;
  auto c = Connect();
  ASSERT_TRUE(c);
  fake_->AddFault(Fault::Stall("/manifests/"));
  auto r = c->GetManifest(kRepo, "v1");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ(fake_->Seen("GET /v2/lib/app/manifests/v1"), 1);
}

TEST_F(ClientTest, BlobWhoseBytesDoNotMatchItsDigestIsCorruption) {
  std::string bytes = RandomBytes(1000, 5);
  Descriptor d;
  d.digest = Digest::Of("what the manifest promised");
  d.size = bytes.size();
  fake_->PutRawBlob(kRepo, d.digest, bytes);
  std::string got;
  Status s = Fetch(d, &got);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(d.digest.ToString()), std::string::npos) << s.ToString();
}

TEST_F(ClientTest, UploadThenPullRoundTrips) {
  auto c = Connect();
  ASSERT_TRUE(c);
  auto tmp = TempDir::Create("/tmp", "cfs-client-test");
  ASSERT_TRUE(tmp.ok());
  std::string bytes = RandomBytes(123457, 6);
  std::string path = tmp->path() + "/blob";
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  Descriptor d;
  d.digest = Digest::Of(bytes);
  d.size = bytes.size();
  Fault put = Fault::Answer("/uploads/", 502);
  put.method = "PUT";
  fake_->AddFault(put);
  Status s = c->UploadBlob(kRepo, d, path);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(fake_->Blob(kRepo, d.digest), bytes);
  auto head = c->HeadBlob(kRepo, d.digest);
  ASSERT_TRUE(head.ok() && *head) << head.status().ToString();
  EXPECT_EQ(**head, bytes.size());
}

TEST(HttpTest, UrlEscapeRoundTrips) {
  const std::string s = "sha256:ab/c d?e=f&g%";
  EXPECT_EQ(http::UrlEscape(s), "sha256%3Aab%2Fc%20d%3Fe%3Df%26g%25");
  EXPECT_EQ(http::UrlUnescape(http::UrlEscape(s)), s);
}

}  // namespace
}  // namespace cfs::registry
