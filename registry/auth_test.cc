#include "registry/auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "base/io.h"

namespace cfs::registry {
namespace {

using nlohmann::json;

// A fresh directory under $TMPDIR (or /tmp), removed afterwards.
class AuthFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/cfs-auth-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) (void)RemoveTree(dir_);
  }

  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  static void Write(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(f) << path;
    f << data;
  }
  static std::string Read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  static json ReadJson(const std::string& path) { return json::parse(Read(path)); }
  static bool Exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }
  static mode_t Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  std::string dir_;
};

std::optional<Credentials> MustLookup(const std::string& file, const std::string& reg) {
  auto r = LookupCredentials(file, reg);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::nullopt;
}

TEST_F(AuthFileTest, StoreThenLookupRoundTrip) {
  std::string f = Path("config.json");
  Credentials c{"alice", "s3cret", ""};
  ASSERT_TRUE(StoreCredentials(f, "127.0.0.1:5000", c).ok());

  auto got = MustLookup(f, "127.0.0.1:5000");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->username, "alice");
  EXPECT_EQ(got->password, "s3cret");
  EXPECT_EQ(got->identity_token, "");

  // The on-disk form is docker's: auths.<host>.auth = base64("user:pass").
  json j = ReadJson(f);
  EXPECT_EQ(j["auths"]["127.0.0.1:5000"]["auth"], Base64Encode("alice:s3cret"));
  EXPECT_FALSE(j["auths"]["127.0.0.1:5000"].contains("identitytoken"));

  // Another registry has nothing.
  EXPECT_FALSE(MustLookup(f, "quay.io").has_value());
}

TEST_F(AuthFileTest, PasswordMayContainColonsAndUnicode) {
  std::string f = Path("config.json");
  Credentials c{"bob", "pa:ss:w\xc3\xb6rd", ""};
  ASSERT_TRUE(StoreCredentials(f, "quay.io", c).ok());
  auto got = MustLookup(f, "quay.io");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->username, "bob");
  EXPECT_EQ(got->password, "pa:ss:w\xc3\xb6rd");
}

TEST_F(AuthFileTest, IdentityTokenRoundTrip) {
  std::string f = Path("config.json");
  Credentials c{"<token>", "", "refresh-abc"};
  ASSERT_TRUE(StoreCredentials(f, "ghcr.io", c).ok());
  auto got = MustLookup(f, "ghcr.io");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->username, "<token>");
  EXPECT_EQ(got->identity_token, "refresh-abc");
  EXPECT_EQ(ReadJson(f)["auths"]["ghcr.io"]["identitytoken"], "refresh-abc");
}

TEST_F(AuthFileTest, StoreReplacesExistingEntry) {
  std::string f = Path("config.json");
  ASSERT_TRUE(StoreCredentials(f, "quay.io", {"u1", "p1", ""}).ok());
  ASSERT_TRUE(StoreCredentials(f, "quay.io", {"u2", "p2", ""}).ok());
  auto got = MustLookup(f, "quay.io");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->username, "u2");
  EXPECT_EQ(got->password, "p2");
  EXPECT_EQ(ReadJson(f)["auths"].size(), 1u);
}

TEST_F(AuthFileTest, FileIsMode0600AndParentCreated0700) {
  std::string f = Path("a/b/config.json");
  ASSERT_FALSE(Exists(Path("a")));
  ASSERT_TRUE(StoreCredentials(f, "quay.io", {"u", "p", ""}).ok());
  ASSERT_TRUE(Exists(f));
  EXPECT_EQ(Mode(f), 0600u);
  EXPECT_EQ(Mode(Path("a/b")), 0700u);
  // No temporary files left next to it.
  auto names = ListDir(Path("a/b"), "");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u);
}

TEST_F(AuthFileTest, RewriteTightensLooseMode) {
  std::string f = Path("config.json");
  Write(f, "{}");
  ASSERT_EQ(::chmod(f.c_str(), 0644), 0);
  ASSERT_TRUE(StoreCredentials(f, "quay.io", {"u", "p", ""}).ok());
  EXPECT_EQ(Mode(f), 0600u);
}

TEST_F(AuthFileTest, StoreKeepsOtherKeysAndEntries) {
  std::string f = Path("config.json");
  Write(f, R"({
    "credsStore": "desktop",
    "credHelpers": {"gcr.io": "gcloud"},
    "psFormat": "table {{.ID}}",
    "auths": {
      "quay.io": {"auth": ")" +
               Base64Encode("q:w") + R"("},
      "ghcr.io": {"auth": ")" +
               Base64Encode("g:h") + R"(", "email": "x@y"}
    }
  })");
  ASSERT_TRUE(StoreCredentials(f, "127.0.0.1:5000", {"alice", "pw", ""}).ok());

  json j = ReadJson(f);
  EXPECT_EQ(j["credsStore"], "desktop");
  EXPECT_EQ(j["credHelpers"]["gcr.io"], "gcloud");
  EXPECT_EQ(j["psFormat"], "table {{.ID}}");
  EXPECT_EQ(j["auths"]["ghcr.io"]["email"], "x@y");
  EXPECT_EQ(j["auths"].size(), 3u);

  auto q = MustLookup(f, "quay.io");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->username, "q");
  EXPECT_EQ(q->password, "w");
  auto n = MustLookup(f, "127.0.0.1:5000");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->username, "alice");
}

TEST_F(AuthFileTest, DockerHubStoredUnderIndexV1Key) {
  std::string f = Path("config.json");
  ASSERT_TRUE(StoreCredentials(f, "docker.io", {"hubuser", "hubpw", ""}).ok());
  json j = ReadJson(f);
  ASSERT_TRUE(j["auths"].contains("https://index.docker.io/v1/")) << j.dump();
  EXPECT_FALSE(j["auths"].contains("docker.io"));
  EXPECT_EQ(j["auths"].size(), 1u);

  auto got = MustLookup(f, "docker.io");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->username, "hubuser");
  EXPECT_EQ(got->password, "hubpw");
}

TEST_F(AuthFileTest, StoreReplacesAllAliasesOfARegistry) {
  std::string f = Path("config.json");
  Write(f, R"({"auths": {
    "docker.io": {"auth": ")" +
               Base64Encode("old1:x") + R"("},
    "index.docker.io": {"auth": ")" +
               Base64Encode("old2:x") + R"("},
    "https://index.docker.io/v1/": {"auth": ")" +
               Base64Encode("old3:x") + R"("},
    "quay.io": {"auth": ")" +
               Base64Encode("q:w") + R"("}
  }})");
  ASSERT_TRUE(StoreCredentials(f, "docker.io", {"new", "pw", ""}).ok());
  json j = ReadJson(f);
  EXPECT_EQ(j["auths"].size(), 2u) << j.dump();
  EXPECT_TRUE(j["auths"].contains("quay.io"));
  auto got = MustLookup(f, "docker.io");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->username, "new");
}

TEST_F(AuthFileTest, LookupMatchesNormalizedKeys) {
  std::string f = Path("config.json");
  Write(f, R"({"auths": {
    "http://host:5000/v2/": {"auth": ")" +
               Base64Encode("h:1") + R"("},
    "https://index.docker.io/v1/": {"auth": ")" +
               Base64Encode("d:2") + R"("},
    "registry-1.docker.io": {"identitytoken": "ignored-if-first-found"}
  }})");
  auto h = MustLookup(f, "host:5000");
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->username, "h");
  EXPECT_EQ(h->password, "1");
  auto d = MustLookup(f, "docker.io");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->username, "d");
  EXPECT_FALSE(MustLookup(f, "host").has_value());
  EXPECT_FALSE(MustLookup(f, "host:5001").has_value());
}

TEST_F(AuthFileTest, LookupSkipsEmptyEntries) {
  std::string f = Path("config.json");
  // Docker writes {} entries when a credsStore holds the secret.
  Write(f, R"({"auths": {"quay.io": {}, "ghcr.io": {"auth": ""}}, "credsStore": "pass"})");
  EXPECT_FALSE(MustLookup(f, "quay.io").has_value());
  EXPECT_FALSE(MustLookup(f, "ghcr.io").has_value());
}

TEST_F(AuthFileTest, RemoveCredentials) {
  std::string f = Path("config.json");
  ASSERT_TRUE(StoreCredentials(f, "docker.io", {"u", "p", ""}).ok());
  ASSERT_TRUE(StoreCredentials(f, "quay.io", {"q", "w", ""}).ok());
  json before = ReadJson(f);
  before["credsStore"] = "x";
  Write(f, before.dump());

  auto r = RemoveCredentials(f, "docker.io");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_FALSE(MustLookup(f, "docker.io").has_value());
  auto q = MustLookup(f, "quay.io");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->username, "q");
  json j = ReadJson(f);
  EXPECT_EQ(j["credsStore"], "x");
  EXPECT_FALSE(j["auths"].contains("https://index.docker.io/v1/"));
  EXPECT_EQ(Mode(f), 0600u);

  auto again = RemoveCredentials(f, "docker.io");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(AuthFileTest, RemoveDropsEveryAlias) {
  std::string f = Path("config.json");
  Write(f, R"({"auths": {
    "docker.io": {"auth": ")" +
               Base64Encode("a:b") + R"("},
    "https://index.docker.io/v1/": {"auth": ")" +
               Base64Encode("c:d") + R"("},
    "quay.io": {"auth": ")" +
               Base64Encode("q:w") + R"("}
  }})");
  auto r = RemoveCredentials(f, "docker.io");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(*r);
  json j = ReadJson(f);
  EXPECT_EQ(j["auths"].size(), 1u) << j.dump();
  EXPECT_TRUE(j["auths"].contains("quay.io"));
}

TEST_F(AuthFileTest, RemoveFromMissingFileIsFalseAndCreatesNothing) {
  std::string f = Path("none/config.json");
  auto r = RemoveCredentials(f, "quay.io");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(*r);
  EXPECT_FALSE(Exists(f));
  EXPECT_FALSE(Exists(Path("none")));
}

TEST_F(AuthFileTest, MissingOrEmptyFileIsNoCredentials) {
  auto r = LookupCredentials(Path("missing.json"), "quay.io");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->has_value());
  auto d = LookupCredentials(Path("no/such/dir/config.json"), "docker.io");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->has_value());

  std::string empty = Path("empty.json");
  Write(empty, " \n\t");
  auto e = LookupCredentials(empty, "quay.io");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_FALSE(e->has_value());

  std::string noauths = Path("noauths.json");
  Write(noauths, R"({"credsStore": "desktop"})");
  auto n = LookupCredentials(noauths, "quay.io");
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->has_value());
}

TEST_F(AuthFileTest, MalformedJsonNamesTheFile) {
  std::string f = Path("config.json");
  const std::string bad = R"({"auths": {"quay.io": )";
  Write(f, bad);

  auto r = LookupCredentials(f, "quay.io");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(f), std::string::npos) << r.status().message();

  // Store and Remove refuse too, and leave the file as it was.
  Status s = StoreCredentials(f, "quay.io", {"u", "p", ""});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find(f), std::string::npos) << s.message();
  auto rm = RemoveCredentials(f, "quay.io");
  ASSERT_FALSE(rm.ok());
  EXPECT_NE(rm.status().message().find(f), std::string::npos);
  EXPECT_EQ(Read(f), bad);
}

TEST_F(AuthFileTest, WrongJsonShapesAreInvalid) {
  for (const char* body : {"[]", "\"str\"", "42", R"({"auths": []})", R"({"auths": "x"})"}) {
    std::string f = Path("config.json");
    Write(f, body);
    auto r = LookupCredentials(f, "quay.io");
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << body;
    EXPECT_NE(r.status().message().find(f), std::string::npos) << r.status().message();
    EXPECT_FALSE(StoreCredentials(f, "quay.io", {"u", "p", ""}).ok()) << body;
    EXPECT_EQ(Read(f), body);
  }
}

TEST_F(AuthFileTest, BadBase64IsAnError) {
  std::string f = Path("config.json");
  Write(f, R"({"auths": {"quay.io": {"auth": "!!!not base64!!!"}}})");
  auto r = LookupCredentials(f, "quay.io");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(f), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("base64"), std::string::npos) << r.status().message();
  // Other registries in the same file still resolve (the bad entry is not theirs).
  auto other = LookupCredentials(f, "ghcr.io");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

// A truncated/corrupted "auth" value must be reported, not decoded into a
// password with made-up trailing bytes.
TEST_F(AuthFileTest, CorruptedBase64LengthIsAnError) {
  std::string f = Path("config.json");
  std::string good = Base64Encode("user:pass");
  ASSERT_EQ(good, "dXNlcjpwYXNz");
  Write(f, R"({"auths": {"quay.io": {"auth": ")" + good + "x" + R"("}}})");
  auto r = LookupCredentials(f, "quay.io");
  EXPECT_FALSE(r.ok()) << "decoded to password "
                       << testing::PrintToString(r.ok() && r->has_value() ? (*r)->password
                                                                          : std::string());
}

TEST_F(AuthFileTest, AuthWithoutColonIsAnError) {
  std::string f = Path("config.json");
  Write(f, R"({"auths": {"quay.io": {"auth": ")" + Base64Encode("nocolon") + R"("}}})");
  auto r = LookupCredentials(f, "quay.io");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find(f), std::string::npos);
  EXPECT_NE(r.status().message().find("user:password"), std::string::npos) << r.status().message();
}

// Sets or unsets environment variables for one scope, restoring them after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = std::getenv(name);
    if (old) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

TEST(DefaultAuthFile, RegistryAuthFileWins) {
  ScopedEnv a("REGISTRY_AUTH_FILE", "/x/auth.json");
  ScopedEnv d("DOCKER_CONFIG", "/dockercfg");
  ScopedEnv h("HOME", "/home/u");
  EXPECT_EQ(DefaultAuthFile(), "/x/auth.json");
}

TEST(DefaultAuthFile, DockerConfigNext) {
  ScopedEnv a("REGISTRY_AUTH_FILE", nullptr);
  ScopedEnv d("DOCKER_CONFIG", "/dockercfg");
  ScopedEnv h("HOME", "/home/u");
  EXPECT_EQ(DefaultAuthFile(), "/dockercfg/config.json");
}

TEST(DefaultAuthFile, HomeLast) {
  ScopedEnv a("REGISTRY_AUTH_FILE", nullptr);
  ScopedEnv d("DOCKER_CONFIG", nullptr);
  ScopedEnv h("HOME", "/home/u");
  EXPECT_EQ(DefaultAuthFile(), "/home/u/.docker/config.json");
}

TEST(DefaultAuthFile, EmptyVariablesAreIgnored) {
  ScopedEnv a("REGISTRY_AUTH_FILE", "");
  ScopedEnv d("DOCKER_CONFIG", "");
  ScopedEnv h("HOME", "/home/v");
  EXPECT_EQ(DefaultAuthFile(), "/home/v/.docker/config.json");
}

TEST(DefaultAuthFile, EnvironmentIsRestored) {
  const char* before = std::getenv("REGISTRY_AUTH_FILE");
  std::optional<std::string> saved = before ? std::optional<std::string>(before) : std::nullopt;
  {
    ScopedEnv a("REGISTRY_AUTH_FILE", "/tmp/scoped.json");
    EXPECT_EQ(DefaultAuthFile(), "/tmp/scoped.json");
  }
  const char* after = std::getenv("REGISTRY_AUTH_FILE");
  EXPECT_EQ(after != nullptr, saved.has_value());
  if (after && saved) {
    EXPECT_EQ(std::string(after), *saved);
  }
}

TEST(ParseChallenge, BearerWithQuotedParams) {
  auto c = ParseChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params.size(), 3u);
  EXPECT_EQ(c->Param("realm"), "https://auth.example/token");
  EXPECT_EQ(c->Param("service"), "registry.example");
  EXPECT_EQ(c->Param("scope"), "repository:a/b:pull,push");
  EXPECT_EQ(c->Param("error"), "");
}

TEST(ParseChallenge, BasicRealmWithSpace) {
  auto c = ParseChallenge(R"(Basic realm="Registry Realm")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "basic");
  EXPECT_EQ(c->params.size(), 1u);
  EXPECT_EQ(c->Param("realm"), "Registry Realm");
}

TEST(ParseChallenge, SchemeOnly) {
  auto c = ParseChallenge("Basic");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "basic");
  EXPECT_TRUE(c->params.empty());
}

TEST(ParseChallenge, UnquotedValues) {
  auto c = ParseChallenge("Bearer realm=https://a.example/token,service=reg.example");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->Param("realm"), "https://a.example/token");
  EXPECT_EQ(c->Param("service"), "reg.example");
}

TEST(ParseChallenge, EscapedQuotesAndBackslashes) {
  auto c = ParseChallenge(R"(Basic realm="say \"hi\" \\ ok",charset="UTF-8")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->Param("realm"), R"(say "hi" \ ok)");
  EXPECT_EQ(c->Param("charset"), "UTF-8");
}

TEST(ParseChallenge, MixedCaseSchemeAndParamNames) {
  auto c = ParseChallenge(R"(bEaReR Realm="https://x/Token", SERVICE="Svc")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->Param("realm"), "https://x/Token");  // values keep their case
  EXPECT_EQ(c->Param("service"), "Svc");
  EXPECT_EQ(c->params.count("Realm"), 0u);
}

TEST(ParseChallenge, WhitespaceAroundSeparators) {
  auto c = ParseChallenge("  Bearer\trealm = \"r\" ,  service=\"s\"  ");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->Param("realm"), "r");
  EXPECT_EQ(c->Param("service"), "s");
}

TEST(ParseChallenge, FirstOfSeveralChallenges) {
  auto c = ParseChallenge(R"(Bearer realm="r1",service="s1", Basic realm="r2")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->Param("realm"), "r1");
  EXPECT_EQ(c->Param("service"), "s1");
  EXPECT_EQ(c->params.size(), 2u);
}

TEST(ParseChallenge, BearerErrorParams) {
  auto c = ParseChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull",error="insufficient_scope")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->Param("error"), "insufficient_scope");
  EXPECT_EQ(c->Param("scope"), "repository:library/nginx:pull");
}

TEST(ParseChallenge, EmptyInputIsNullopt) {
  EXPECT_FALSE(ParseChallenge("").has_value());
  EXPECT_FALSE(ParseChallenge("   ").has_value());
  EXPECT_FALSE(ParseChallenge("\t").has_value());
}

TEST(ParseChallenge, UnterminatedQuoteIsNullopt) {
  EXPECT_FALSE(ParseChallenge(R"(Bearer realm="https://x/token)").has_value());
  EXPECT_FALSE(ParseChallenge(R"(Bearer realm="a",service="b\")").has_value());
}

// A header whose first word is not an auth-scheme token (RFC 7235: token =
// 1*tchar; no '=', '"', ',') is unparsable, not a challenge with a strange
// scheme.
TEST(ParseChallenge, GarbageIsNullopt) {
  for (const char* h : {R"(realm="x")", "=", "\"Bearer\" realm=x", ",,,", "=Bearer realm=x",
                        "Bearer,realm=\"x\""}) {
    auto c = ParseChallenge(h);
    EXPECT_FALSE(c.has_value()) << "header [" << h << "] parsed with scheme [" << c->scheme << "]";
  }
}

TEST(Base64, KnownVectors) {
  // RFC 4648 section 10.
  const std::pair<const char*, const char*> v[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [raw, b64] : v) {
    EXPECT_EQ(Base64Encode(raw), b64) << raw;
    auto d = Base64Decode(b64);
    ASSERT_TRUE(d.ok()) << b64;
    EXPECT_EQ(*d, raw) << b64;
  }
}

TEST(Base64, RoundTripLengths0To5AndBinary) {
  for (size_t n = 0; n <= 5; n++) {
    for (int fill : {0, int{'a'}, 0xff}) {
      std::string raw(n, static_cast<char>(fill));
      for (size_t i = 0; i < n; i++) raw[i] = static_cast<char>(raw[i] + i);
      std::string enc = Base64Encode(raw);
      EXPECT_EQ(enc.size(), 4 * ((n + 2) / 3)) << n;
      auto dec = Base64Decode(enc);
      ASSERT_TRUE(dec.ok()) << n;
      EXPECT_EQ(*dec, raw) << "n=" << n << " fill=" << fill;
    }
  }
  std::string all;
  for (int i = 0; i < 256; i++) all += static_cast<char>(i);
  auto dec = Base64Decode(Base64Encode(all));
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, all);
}

TEST(Base64, UnpaddedInput) {
  auto a = Base64Decode("Zg");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, "f");
  auto b = Base64Decode("Zm8");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, "fo");
  auto c = Base64Decode("Zm9vYmE");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, "fooba");
  for (size_t n = 0; n <= 5; n++) {
    std::string raw = std::string("xyz\x01\x80").substr(0, n);
    std::string enc = Base64Encode(raw);
    while (!enc.empty() && enc.back() == '=') enc.pop_back();
    auto d = Base64Decode(enc);
    ASSERT_TRUE(d.ok()) << enc;
    EXPECT_EQ(*d, raw) << enc;
  }
}

TEST(Base64, IgnoresWhitespace) {
  auto d = Base64Decode(" Zm9v\nYmFy\r\n");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, "foobar");
}

TEST(Base64, InvalidCharactersAreErrors) {
  for (const char* s : {"!!!!", "Zm9v!", "Zm9v YmF*", "Zm9v\x01"}) {
    auto d = Base64Decode(s);
    EXPECT_FALSE(d.ok()) << s << " decoded to " << d->size() << " bytes";
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), Status::Code::kInvalidArgument);
    }
  }
}

// A single leftover character (length % 4 == 1) and padding that is not at
// the end cannot be valid base64; they must not decode to made-up bytes.
TEST(Base64, ImpossibleLengthsAndMisplacedPaddingAreErrors) {
  for (const char* s : {"Z", "Zm9vY", "=", "====", "Zg==Zg==", "Z==="}) {
    auto d = Base64Decode(s);
    EXPECT_FALSE(d.ok()) << "[" << s << "] decoded to "
                         << testing::PrintToString(d.ok() ? *d : std::string());
  }
}

}  // namespace
}  // namespace cfs::registry
