#include "registry/registries_conf.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "base/io.h"

namespace cfs::registry {
namespace {

const std::string kDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

RegistriesConf Conf(const std::string& text) {
  RegistriesConf c;
  Status s = c.Merge(text, "r.conf");
  EXPECT_TRUE(s.ok()) << s.ToString();
  return c;
}

Reference Ref(const std::string& s) {
  auto r = Reference::Parse(s);
  EXPECT_TRUE(r.ok()) << s;
  return r.ok() ? *r : Reference{};
}

// "remote [mirror] [insecure]" per source, for table comparisons.
std::vector<std::string> Sources(const RegistriesConf& c, const std::string& ref) {
  auto s = c.PullSources(Ref(ref));
  EXPECT_TRUE(s.ok()) << ref << ": " << s.status().ToString();
  std::vector<std::string> out;
  if (!s.ok()) return out;
  for (const auto& p : *s)
    out.push_back(p.remote.ToString() + (p.mirror ? " mirror" : "") + (p.insecure ? " insecure" : ""));
  return out;
}

TEST(RegistriesConf, LongestPrefixWins) {
  auto c = Conf(R"(
[[registry]]
prefix = "example.com"
location = "a.local"
[[registry]]
prefix = "example.com/team"
location = "b.local/t"
[[registry]]
prefix = "example.com/team/app:1"
location = "c.local/pinned"
)");
  struct Case { std::string ref, want; } cases[] = {
      {"example.com/x:2", "a.local/x:2"},
      {"example.com/team/y", "b.local/t/y:latest"},
      {"example.com/team/app:1", "c.local/pinned"},  // the tag was part of the prefix
      {"example.com/team/app:2", "b.local/t/app:2"},
      {"example.com/teamwork/z:1", "a.local/teamwork/z:1"},  // "team" is not a path prefix of "teamwork"
      {"other.org/z:1", "other.org/z:1"},
  };
  for (const auto& k : cases) {
    auto s = Sources(c, k.ref);
    ASSERT_EQ(s.size(), 1u) << k.ref;
    // c.local/pinned has no tag of its own: Parse gives it "latest".
    EXPECT_EQ(s[0], k.want == "c.local/pinned" ? "c.local/pinned:latest" : k.want) << k.ref;
  }
  EXPECT_EQ(c.Find(Ref("example.com/team/q"))->prefix, "example.com/team");
  EXPECT_EQ(c.Find(Ref("nowhere.io/q")), nullptr);
}

TEST(RegistriesConf, DockerHubLibraryNamespace) {
  auto c = Conf(R"(
[[registry]]
prefix = "docker.io/library"
location = "127.0.0.1:5000/hub"
)");
  EXPECT_EQ(Sources(c, "nginx:1.25"), std::vector<std::string>{"127.0.0.1:5000/hub/nginx:1.25"});
  EXPECT_EQ(Sources(c, "docker.io/team/app:1"), std::vector<std::string>{"docker.io/team/app:1"});
}

TEST(RegistriesConf, MirrorsInOrderThenPrimary) {
  auto c = Conf(R"(
[[registry]]
location = "docker.io"
[[registry.mirror]]
location = "m1.local:5000"
insecure = true
[[registry.mirror]]
location = "m2.local/hub/"
)");
  EXPECT_EQ(Sources(c, "docker.io/library/nginx:1.25"),
            (std::vector<std::string>{"m1.local:5000/library/nginx:1.25 mirror insecure",
                                      "m2.local/hub/library/nginx:1.25 mirror",
                                      "docker.io/library/nginx:1.25"}));
  auto s = c.PullSources(Ref("nginx"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)[0].Describe(), "mirror m1.local:5000");
  EXPECT_EQ((*s)[2].Describe(), "docker.io");
}

TEST(RegistriesConf, PullFromMirror) {
  auto c = Conf(R"(
[[registry]]
location = "quay.io"
[[registry.mirror]]
location = "digests.local"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tags.local"
pull-from-mirror = "tag-only"
[[registry.mirror]]
location = "all.local"
pull-from-mirror = "all"
)");
  EXPECT_EQ(Sources(c, "quay.io/a/b:1"),
            (std::vector<std::string>{"tags.local/a/b:1 mirror", "all.local/a/b:1 mirror", "quay.io/a/b:1"}));
  EXPECT_EQ(Sources(c, "quay.io/a/b@" + kDigest),
            (std::vector<std::string>{"digests.local/a/b@" + kDigest + " mirror",
                                      "all.local/a/b@" + kDigest + " mirror", "quay.io/a/b@" + kDigest}));
  // A tag and a digest: a digest pull.
  EXPECT_EQ(Sources(c, "quay.io/a/b:1@" + kDigest).front(), "digests.local/a/b:1@" + kDigest + " mirror");
}

TEST(RegistriesConf, MirrorByDigestOnly) {
  auto c = Conf(R"(
[[registry]]
location = "quay.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m.local"
)");
  EXPECT_EQ(Sources(c, "quay.io/a:1"), std::vector<std::string>{"quay.io/a:1"});
  EXPECT_EQ(Sources(c, "quay.io/a@" + kDigest).size(), 2u);
}

TEST(RegistriesConf, BlockedIsRefusedByName) {
  auto c = Conf(R"(
[[registry]]
location = "evil.example"
blocked = true
[[registry.mirror]]
location = "m.local"
)");
  auto s = c.PullSources(Ref("evil.example/x:1"));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().code() == Status::Code::kPermissionDenied);
  EXPECT_NE(s.status().message().find("evil.example/x:1: blocked by r.conf"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("prefix \"evil.example\""), std::string::npos);
  EXPECT_TRUE(c.PullSources(Ref("good.example/x:1")).ok());
}

TEST(RegistriesConf, WildcardPrefix) {
  auto c = Conf(R"(
[[registry]]
prefix = "*.example.com"
insecure = true
[[registry.mirror]]
location = "m.local"
[[registry]]
prefix = "*.corp.example.com"
blocked = true
)");
  EXPECT_EQ(Sources(c, "a.example.com/x:1"),
            (std::vector<std::string>{"m.local/x:1 mirror", "a.example.com/x:1 insecure"}));
  EXPECT_EQ(Sources(c, "a.b.example.com:5000/x:1").back(), "a.b.example.com:5000/x:1 insecure");
  // The longer wildcard wins: blocked.
  EXPECT_FALSE(c.PullSources(Ref("h.corp.example.com/x")).ok());
  // Not a subdomain, nor the domain in a path.
  EXPECT_EQ(c.Find(Ref("example.com/x")), nullptr);
  EXPECT_EQ(c.Find(Ref("notexample.com/x")), nullptr);
  EXPECT_EQ(c.Find(Ref("quay.io/a.example.com/x")), nullptr);
}

TEST(RegistriesConf, DropInReplacesPrefixAndSettings) {
  RegistriesConf c;
  ASSERT_TRUE(c.Merge(R"(
unqualified-search-registries = ["a.io", "b.io"]
short-name-mode = "enforcing"
[[registry]]
location = "quay.io"
insecure = true
[[registry]]
location = "ghcr.io"
[aliases]
"app" = "a.io/team/app"
"tool" = "b.io/tool"
)", "main.conf").ok());
  ASSERT_TRUE(c.Merge(R"(
[[registry]]
location = "quay.io"
[[registry.mirror]]
location = "m.local"
[aliases]
"app" = "c.io/app"
"tool" = ""
)", "10-drop.conf").ok());
  EXPECT_EQ(Sources(c, "quay.io/x:1"), (std::vector<std::string>{"m.local/x:1 mirror", "quay.io/x:1"}));
  EXPECT_NE(c.Find(Ref("ghcr.io/y")), nullptr);  // kept
  EXPECT_EQ(c.search_registries(), (std::vector<std::string>{"a.io", "b.io"}));  // not set: kept
  EXPECT_EQ(c.short_name_mode(), ShortNameMode::kEnforcing);
  auto app = c.Resolve("app:2");
  ASSERT_TRUE(app.ok());
  EXPECT_EQ((*app)[0].ToString(), "c.io/app:2");
  // "tool" lost its alias: enforcing with two search registries refuses.
  auto tool = c.Resolve("tool");
  ASSERT_FALSE(tool.ok());
  EXPECT_NE(tool.status().message().find("a.io/tool:latest, b.io/tool:latest"), std::string::npos)
      << tool.status().message();
  ASSERT_TRUE(c.Merge("unqualified-search-registries = []\nshort-name-mode = \"permissive\"\n", "20.conf").ok());
  auto none = c.Resolve("tool");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no unqualified-search-registries are set in 20.conf"), std::string::npos)
      << none.status().message();
}

TEST(RegistriesConf, ShortNames) {
  auto c = Conf(R"(
unqualified-search-registries = ["quay.io", "docker.io"]
[aliases]
"nginx" = "docker.io/library/nginx"
"team/app" = "localhost:5000/team/app"
)");
  struct Case { std::string in; std::vector<std::string> want; } cases[] = {
      {"nginx", {"docker.io/library/nginx:latest"}},
      {"nginx:1.25", {"docker.io/library/nginx:1.25"}},
      {"docker://nginx@" + kDigest, {"docker.io/library/nginx@" + kDigest}},
      {"team/app:3", {"localhost:5000/team/app:3"}},
      {"busybox", {"quay.io/busybox:latest", "docker.io/library/busybox:latest"}},  // permissive: all
      {"quay.io/x", {"quay.io/x:latest"}},
      {"localhost/x", {"localhost/x:latest"}},
      {"host:5000/x:1", {"host:5000/x:1"}},
  };
  for (const auto& k : cases) {
    auto r = c.Resolve(k.in);
    ASSERT_TRUE(r.ok()) << k.in << ": " << r.status().ToString();
    std::vector<std::string> got;
    for (const auto& x : *r) got.push_back(x.ToString());
    EXPECT_EQ(got, k.want) << k.in;
  }
  EXPECT_TRUE(IsShortName("team/app:1"));
  EXPECT_FALSE(IsShortName("docker://docker.io/x"));
}

TEST(RegistriesConf, WithoutAnyFileShortNamesAreDockerHub) {
  RegistriesConf c;
  auto r = c.Resolve("team/app:1");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].ToString(), "docker.io/team/app:1");
}

TEST(RegistriesConf, AliasCacheWins) {
  auto c = Conf("[aliases]\n\"app\" = \"a.io/app\"\n");
  ASSERT_TRUE(c.MergeAliasCache("[aliases]\n\"app\" = \"cache.io/app\"\n", "cache.conf").ok());
  EXPECT_EQ((*c.Resolve("app"))[0].ToString(), "cache.io/app:latest");
  ASSERT_TRUE(c.Merge("[aliases]\n\"app\" = \"later.io/app\"\n", "later.conf").ok());
  // A later drop-in merges into the configuration, the cache is applied by
  // LoadDefault last; here Merge after the cache simply overrides.
  EXPECT_EQ((*c.Resolve("app"))[0].ToString(), "later.io/app:latest");
}

TEST(RegistriesConf, ErrorsNameFileAndLine) {
  struct Case { std::string text, want; } cases[] = {
      {"[[registry]\nlocation = \"x\"\n", "r.conf:1: "},
      {"a = 1\nb = = 2\n", "r.conf:2: "},
      {"\n[[registry]]\nprefix = \"x.io\"\n", "r.conf:2: [[registry]] \"x.io\" without a location"},
      {"[[registry]]\ninsecure = true\n", "without prefix nor location"},
      {"[[registry]]\nlocation = \"https://x.io\"\n", "r.conf:2: location \"https://x.io\": URL schemes"},
      {"[[registry]]\nprefix = \"*.x.io/a\"\n", "wildcard prefix \"*.x.io/a\""},
      {"[[registry]]\nprefix = \"a.*.io\"\nlocation = \"b\"\n", "a wildcard is allowed only"},
      {"[[registry]]\nlocation = \"x.io\"\ninsecure = \"yes\"\n", "r.conf:3: insecure must be true or false"},
      {"[[registry]]\nlocation = \"x.io\"\npull-from-mirror = \"all\"\n", "r.conf:3: pull-from-mirror belongs"},
      {"[[registry]]\nlocation = \"x.io\"\n[[registry.mirror]]\nlocation = \"m\"\npull-from-mirror = \"some\"\n",
       "r.conf:3: pull-from-mirror \"some\""},
      {"[[registry]]\nlocation = \"x.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m\"\n"
       "pull-from-mirror = \"tag-only\"\n",
       "one or the other"},
      {"[[registry]]\nlocation = \"x.io\"\n[[registry.mirror]]\ninsecure = true\n", "r.conf:3: mirror of \"x.io\" without"},
      {"short-name-mode = \"strict\"\n", "r.conf:1: short-name-mode \"strict\""},
      {"unqualified-search-registries = [\"ok.io\", \"bad host\"]\n", "r.conf:1: unqualified-search-registries"},
      {"[aliases]\n\"quay.io/x\" = \"quay.io/x\"\n", "r.conf:2: alias \"quay.io/x\": not a short name"},
      {"[aliases]\n\"x\" = \"x:1\"\n", "r.conf:2: alias \"x\" = \"x:1\""},
      {"[aliases]\n\"x\" = \"quay.io/x:1\"\n", "without tag or digest"},
      {"[registries.search]\nregistries = [\"a.io\"]\n", "r.conf:1: the version 1 format"},
  };
  for (const auto& k : cases) {
    RegistriesConf c;
    Status s = c.Merge(k.text, "r.conf");
    ASSERT_FALSE(s.ok()) << k.text;
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << k.text;
    EXPECT_NE(s.message().find(k.want), std::string::npos) << k.text << " -> " << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << "not one line: " << s.message();
    EXPECT_FALSE(c.any_file());  // nothing of a refused file is kept
  }
}

// The files read, from the environment: a private HOME and
// $CONTAINERS_REGISTRIES_CONF.
class RegistriesConfFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/regconf-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (const char* v : {"HOME", "CONTAINERS_REGISTRIES_CONF", "XDG_CACHE_HOME"}) {
      const char* old = std::getenv(v);
      saved_.push_back({v, old ? std::optional<std::string>(old) : std::nullopt});
    }
    ::setenv("HOME", dir_.c_str(), 1);
    ::setenv("XDG_CACHE_HOME", (dir_ + "/cache").c_str(), 1);
    ::unsetenv("CONTAINERS_REGISTRIES_CONF");
  }
  void TearDown() override {
    for (const auto& [k, v] : saved_) v ? (void)::setenv(k.c_str(), v->c_str(), 1) : (void)::unsetenv(k.c_str());
    (void)RemoveTree(dir_);
  }
  std::string dir_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

TEST_F(RegistriesConfFilesTest, EnvironmentFileAlone) {
  ASSERT_TRUE(MakeDirs(dir_ + "/.config/containers/registries.conf.d").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/.config/containers/registries.conf.d/x.conf",
                              "unqualified-search-registries = [\"user.io\"]\n").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/only.conf", "unqualified-search-registries = [\"env.io\"]\n").ok());
  ::setenv("CONTAINERS_REGISTRIES_CONF", (dir_ + "/only.conf").c_str(), 1);
  auto c = RegistriesConf::LoadDefault();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->files(), std::vector<std::string>{dir_ + "/only.conf"});
  EXPECT_EQ(c->search_registries(), std::vector<std::string>{"env.io"});
  ::setenv("CONTAINERS_REGISTRIES_CONF", (dir_ + "/missing.conf").c_str(), 1);
  auto m = RegistriesConf::LoadDefault();
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("missing.conf"), std::string::npos);
}

TEST_F(RegistriesConfFilesTest, UserFileThenItsDropInsInNameOrder) {
  const std::string d = dir_ + "/.config/containers";
  ASSERT_TRUE(MakeDirs(d + "/registries.conf.d").ok());
  ASSERT_TRUE(WriteFileAtomic(d + "/registries.conf", "unqualified-search-registries = [\"main.io\"]\n").ok());
  ASSERT_TRUE(WriteFileAtomic(d + "/registries.conf.d/20-b.conf", "unqualified-search-registries = [\"b.io\"]\n").ok());
  ASSERT_TRUE(WriteFileAtomic(d + "/registries.conf.d/10-a.conf", "unqualified-search-registries = [\"a.io\"]\n").ok());
  ASSERT_TRUE(WriteFileAtomic(d + "/registries.conf.d/30-c.txt", "not toml = = \n").ok());  // not .conf
  auto c = RegistriesConf::LoadDefault();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->files(), (std::vector<std::string>{d + "/registries.conf", d + "/registries.conf.d/10-a.conf",
                                                  d + "/registries.conf.d/20-b.conf"}));
  EXPECT_EQ(c->search_registries(), std::vector<std::string>{"b.io"});
  ASSERT_TRUE(WriteFileAtomic(d + "/registries.conf.d/40-bad.conf", "\n\nx = [\n").ok());
  auto bad = RegistriesConf::LoadDefault();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(d + "/registries.conf.d/40-bad.conf:3: "), std::string::npos)
      << bad.status().message();
}

}  // namespace
}  // namespace cfs::registry
