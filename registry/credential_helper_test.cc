#include "registry/credential_helper.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <optional>
#include <string>

#include "base/coding.h"
#include "base/io.h"
#include "registry/auth.h"

namespace cfs::registry {
namespace {

// A private directory on $PATH for helper scripts, and private HOME,
// DOCKER_CONFIG, XDG_* and REGISTRY_AUTH_FILE, all restored after.
class CredentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/credhelper-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MakeDirs(dir_ + "/bin").ok());
    const char* path = std::getenv("PATH");
    Set("PATH", dir_ + "/bin:" + (path ? path : "/usr/bin:/bin"));
    Set("HOME", dir_ + "/home");
    Set("XDG_RUNTIME_DIR", dir_ + "/run");
    Set("XDG_CONFIG_HOME", dir_ + "/config");
    Unset("DOCKER_CONFIG");
    Unset("REGISTRY_AUTH_FILE");
  }
  void TearDown() override {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it)
      it->second ? (void)::setenv(it->first.c_str(), it->second->c_str(), 1) : (void)::unsetenv(it->first.c_str());
    (void)RemoveTree(dir_);
  }
  void Save(const char* k) {
    const char* v = std::getenv(k);
    saved_.push_back({k, v ? std::optional<std::string>(v) : std::nullopt});
  }
  void Set(const char* k, const std::string& v) { Save(k), ::setenv(k, v.c_str(), 1); }
  void Unset(const char* k) { Save(k), ::unsetenv(k); }
  // docker-credential-NAME: records its argument and stdin in NAME.called,
  // then runs body.
  void Helper(const std::string& name, const std::string& body) {
    const std::string p = dir_ + "/bin/docker-credential-" + name;
    ASSERT_TRUE(WriteFileAtomic(p, "#!/bin/sh\necho \"$1 $(cat)\" >> '" + dir_ + "/" + name +
                                       ".called'\n" + body + "\n", 0755).ok());
  }
  std::string Called(const std::string& name) {
    auto s = ReadFile(dir_ + "/" + name + ".called");
    return s.ok() ? *s : "";
  }
  void File(const std::string& rel, const std::string& text) {
    const std::string p = dir_ + "/" + rel;
    ASSERT_TRUE(MakeDirs(p.substr(0, p.rfind('/'))).ok());
    ASSERT_TRUE(WriteFileAtomic(p, text, 0600).ok());
  }
  std::string dir_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(CredentialTest, HelperAnswers) {
  Helper("pass", R"(printf '{"ServerURL":"x","Username":"alice","Secret":"s3cret"}')");
  auto c = RunCredentialHelper("pass", "quay.io");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->has_value());
  EXPECT_EQ((*c)->username, "alice");
  EXPECT_EQ((*c)->password, "s3cret");
  EXPECT_EQ(Called("pass"), "get quay.io\n");
}

TEST_F(CredentialTest, TokenUsernameIsAnIdentityToken) {
  Helper("tok", R"(printf '{"Username":"<token>","Secret":"refresh-1"}')");
  auto c = RunCredentialHelper("tok", "ghcr.io");
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_EQ((*c)->identity_token, "refresh-1");
  EXPECT_TRUE((*c)->username.empty());
}

TEST_F(CredentialTest, NotFoundIsNoCredentials) {
  Helper("none", "echo 'credentials not found in native keychain'; exit 1");
  auto c = RunCredentialHelper("none", "quay.io");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_FALSE(c->has_value());
}

TEST_F(CredentialTest, FailuresAreOneLineWithoutTheSecret) {
  Helper("boom", "echo 'keychain locked'; echo second line; echo topsecret >&2; exit 3");
  auto b = RunCredentialHelper("boom", "quay.io");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(), "docker-credential-boom get quay.io: exit status 3: keychain locked");
  Helper("garbled", "echo 'Secret: topsecret'");
  auto g = RunCredentialHelper("garbled", "quay.io");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().message().find("topsecret"), std::string::npos) << g.status().message();
  auto m = RunCredentialHelper("missing", "quay.io");
  ASSERT_FALSE(m.ok());
  EXPECT_TRUE(m.status().IsNotFound());
  EXPECT_NE(m.status().message().find("docker-credential-missing is not on $PATH"), std::string::npos);
  EXPECT_FALSE(RunCredentialHelper("../x", "quay.io").ok());
}

TEST_F(CredentialTest, HelperThatNeverAnswersIsKilled) {
  Helper("hang", "exec sleep 600");
  CredentialHelperOptions o;
  o.timeout = std::chrono::milliseconds(300);
  auto c = RunCredentialHelper("hang", "quay.io", o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("no answer within"), std::string::npos) << c.status().message();
}

TEST_F(CredentialTest, DockerConfigOrder) {
  Helper("per", R"(printf '{"Username":"per","Secret":"p"}')");
  Helper("store", R"(printf '{"Username":"store","Secret":"s"}')");
  File("home/.docker/config.json",
       R"({"credHelpers":{"quay.io":"per"},"credsStore":"store",
           "auths":{"quay.io":{"auth":")" + Base64Encode("file:f") + R"("},
                    "ghcr.io":{"auth":")" + Base64Encode("gh:g") + R"("}}})");
  auto q = FindCredentials("", "quay.io");  // credHelpers before auths
  ASSERT_TRUE(q.ok() && q->has_value()) << q.status().ToString();
  EXPECT_EQ((*q)->username, "per");
  auto g = FindCredentials("", "ghcr.io");  // auths before credsStore
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->username, "gh");
  auto d = FindCredentials("", "docker.io");  // credsStore, with docker's server URL
  ASSERT_TRUE(d.ok() && d->has_value());
  EXPECT_EQ((*d)->username, "store");
  EXPECT_EQ(Called("store"), "get https://index.docker.io/v1/\n");
}

TEST_F(CredentialTest, PodmanAuthFilesWhenDockerHasNoEntry) {
  Helper("none", "echo 'credentials not found in native keychain'; exit 1");
  File("home/.docker/config.json", R"({"credsStore":"none","auths":{}})");
  File("run/containers/auth.json", R"({"auths":{"quay.io":{"auth":")" + Base64Encode("run:r") + R"("}}})");
  File("config/containers/auth.json",
       R"({"auths":{"quay.io":{"auth":")" + Base64Encode("cfg:c") + R"("},
                    "ghcr.io":{"auth":")" + Base64Encode("cfg:c") + R"("}}})");
  auto q = FindCredentials("", "quay.io");
  ASSERT_TRUE(q.ok() && q->has_value()) << q.status().ToString();
  EXPECT_EQ((*q)->username, "run");  // $XDG_RUNTIME_DIR first
  auto g = FindCredentials("", "ghcr.io");
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->username, "cfg");
  auto none = FindCredentials("", "example.org");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  EXPECT_NE(Called("none").find("get example.org"), std::string::npos);
}

TEST_F(CredentialTest, GivenAuthFileAlone) {
  File("home/.docker/config.json", R"({"auths":{"quay.io":{"auth":")" + Base64Encode("docker:d") + R"("}}})");
  File("given.json", R"({"auths":{"ghcr.io":{"auth":")" + Base64Encode("given:g") + R"("}}})");
  Set("REGISTRY_AUTH_FILE", dir_ + "/given.json");
  auto q = FindCredentials("", "quay.io");
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE(q->has_value());  // docker's file is not read
  auto g = FindCredentials("", "ghcr.io");
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->username, "given");
  File("bad.json", "{not json");
  auto b = FindCredentials(dir_ + "/bad.json", "ghcr.io");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find(dir_ + "/bad.json"), std::string::npos);
}

}  // namespace
}  // namespace cfs::registry
