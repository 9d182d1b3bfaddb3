#include "deploy/registry_tls.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>

#include "base/io.h"

namespace cfs::deploy {
namespace {

struct CertFree {
  void operator()(X509* c) const { X509_free(c); }
};
using Cert = std::unique_ptr<X509, CertFree>;

Cert Parse(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  Cert c(PEM_read_bio_X509(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  return c;
}

// Whether `leaf` chains to `ca` for TLS server use by `host` (as a client
// would check it: the CA as the only trust anchor).
bool VerifiesFor(X509* leaf, X509* ca, const std::string& host) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM* p = X509_STORE_CTX_get0_param(ctx);
  if (host.find_first_not_of("0123456789.") == std::string::npos)
    X509_VERIFY_PARAM_set1_ip_asc(p, host.c_str());
  else
    X509_VERIFY_PARAM_set1_host(p, host.c_str(), host.size());
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

int Mode(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

double DaysLeft(X509* c) {
  int days = 0, secs = 0;
  ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(c));
  return days + secs / 86400.0;
}

TEST(RegistryTls, CaAndServerCertificate) {
  auto t = TempDir::Create("/tmp", "registry-tls-");
  ASSERT_TRUE(t.ok());
  const std::string dir = t->path() + "/c1/registry-tls";
  auto tls = EnsureRegistryTls(dir, "c1", {"hub.example", "10.0.0.2"});
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  Cert ca = Parse(tls->ca_pem), server = Parse(tls->server_pem);
  ASSERT_TRUE(ca && server);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  // SANs: the domain and master0's IP, nothing else.
  EXPECT_TRUE(VerifiesFor(server.get(), ca.get(), "hub.example"));
  EXPECT_TRUE(VerifiesFor(server.get(), ca.get(), "10.0.0.2"));
  EXPECT_FALSE(VerifiesFor(server.get(), ca.get(), "other.example"));
  EXPECT_FALSE(VerifiesFor(server.get(), ca.get(), "10.0.0.3"));
  // A CA of another cluster does not vouch for it.
  auto other = EnsureRegistryTls(t->path() + "/c2", "c2", {"hub.example", "10.0.0.2"});
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(VerifiesFor(server.get(), Parse(other->ca_pem).get(), "hub.example"));
  // Validity: from before now to about 10 years.
  time_t now = std::time(nullptr);
  EXPECT_LT(X509_cmp_time(X509_get0_notBefore(server.get()), &now), 0);
  EXPECT_NEAR(DaysLeft(server.get()), 3650, 1);
  EXPECT_NEAR(DaysLeft(ca.get()), 3650, 1);
  // Keys readable by their owner only; the directory too.
  EXPECT_EQ(Mode(dir), 0700);
  EXPECT_EQ(Mode(dir + "/ca.key"), 0600);
  EXPECT_EQ(Mode(dir + "/server.key"), 0600);
  EXPECT_EQ(Mode(dir + "/ca.crt"), 0644);
  EXPECT_NE(tls->server_key_pem.find("PRIVATE KEY"), std::string::npos);
  EXPECT_EQ(tls->ca_pem.find("PRIVATE KEY"), std::string::npos);
}

TEST(RegistryTls, ReusedAndRenewedWithTheSameCa) {
  auto t = TempDir::Create("/tmp", "registry-tls-");
  ASSERT_TRUE(t.ok());
  auto first = EnsureRegistryTls(t->path(), "c1", {"sea.hub", "10.0.0.2"});
  ASSERT_TRUE(first.ok()) << first.status().message();
  // A later deploy or scale-up: the very same files.
  auto again = EnsureRegistryTls(t->path(), "c1", {"sea.hub", "10.0.0.2"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ca_pem, first->ca_pem);
  EXPECT_EQ(again->server_pem, first->server_pem);
  EXPECT_EQ(again->server_key_pem, first->server_key_pem);
  // Another domain: a new server certificate from the same CA.
  auto moved = EnsureRegistryTls(t->path(), "c1", {"hub.other", "10.0.0.2"});
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->ca_pem, first->ca_pem);
  EXPECT_NE(moved->server_pem, first->server_pem);
  Cert ca = Parse(moved->ca_pem), server = Parse(moved->server_pem);
  EXPECT_TRUE(VerifiesFor(server.get(), ca.get(), "hub.other"));
  EXPECT_FALSE(VerifiesFor(server.get(), ca.get(), "sea.hub"));
  // An IP as the domain.
  auto ip = EnsureRegistryTls(t->path(), "c1", {"10.0.0.2"});
  ASSERT_TRUE(ip.ok()) << ip.status().message();
  EXPECT_TRUE(VerifiesFor(Parse(ip->server_pem).get(), ca.get(), "10.0.0.2"));
}

TEST(RegistryTls, ForeignKeyRefused) {
  auto t = TempDir::Create("/tmp", "registry-tls-");
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(EnsureRegistryTls(t->path() + "/a", "a", {"sea.hub", "10.0.0.2"}).ok());
  ASSERT_TRUE(EnsureRegistryTls(t->path() + "/b", "b", {"sea.hub", "10.0.0.2"}).ok());
  auto key = ReadFile(t->path() + "/b/ca.key");
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(WriteFileAtomic(t->path() + "/a/ca.key", *key, 0600).ok());
  auto r = EnsureRegistryTls(t->path() + "/a", "a", {"sea.hub", "10.0.0.2"});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("is not the key of"), std::string::npos) << r.status().message();
}

TEST(RegistryTls, SubjectAltNameSetChangesRenewTheCertificate) {
  auto t = TempDir::Create("/tmp", "registry-tls-");
  ASSERT_TRUE(t.ok());
  // ha: true with two masters and cert.subjectAltName.
  const std::vector<std::string> names = {"hub.example", "10.0.0.2", "10.0.0.3",
                                          "*.reg.example", "fd00::9"};
  auto first = EnsureRegistryTls(t->path(), "c1", names);
  ASSERT_TRUE(first.ok()) << first.status().message();
  Cert ca = Parse(first->ca_pem), server = Parse(first->server_pem);
  for (const char* host : {"hub.example", "10.0.0.2", "10.0.0.3", "a.reg.example"})
    EXPECT_TRUE(VerifiesFor(server.get(), ca.get(), host)) << host;
  EXPECT_FALSE(VerifiesFor(server.get(), ca.get(), "10.0.0.4"));
  EXPECT_EQ(X509_check_ip_asc(server.get(), "fd00:0::9", 0), 1);
  // The same names in another order: kept.
  auto same = EnsureRegistryTls(t->path(), "c1",
                                {"hub.example", "fd00::9", "10.0.0.3", "10.0.0.2", "*.reg.example"});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->server_pem, first->server_pem);
  // A master removed: a new certificate without it, from the same CA.
  auto fewer = EnsureRegistryTls(t->path(), "c1", {"hub.example", "10.0.0.2", "*.reg.example", "fd00::9"});
  ASSERT_TRUE(fewer.ok());
  EXPECT_NE(fewer->server_pem, first->server_pem);
  EXPECT_EQ(fewer->ca_pem, first->ca_pem);
  Cert smaller = Parse(fewer->server_pem);
  EXPECT_FALSE(VerifiesFor(smaller.get(), ca.get(), "10.0.0.3"));
  EXPECT_TRUE(VerifiesFor(smaller.get(), ca.get(), "10.0.0.2"));
  EXPECT_FALSE(EnsureRegistryTls(t->path(), "c1", {}).ok());
}

}  // namespace
}  // namespace cfs::deploy
