#include "registry/reference.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace cfs::registry {
namespace {

// sha256("")
const std::string kHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kDigest = "sha256:" + kHex;

Reference MustParse(const std::string& s) {
  auto r = Reference::Parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  return r.ok() ? *r : Reference{};
}

// Expects s to be rejected as Invalid, with a message that quotes the input
// and contains `why`.
void ExpectInvalid(const std::string& s, const std::string& why) {
  auto r = Reference::Parse(s);
  ASSERT_FALSE(r.ok()) << "accepted \"" << s << "\" as " << r->ToString();
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << s;
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("invalid image reference"), std::string::npos) << m;
  EXPECT_NE(m.find("\"" + s + "\""), std::string::npos) << "message does not quote input: " << m;
  EXPECT_NE(m.find(why), std::string::npos) << "message lacks \"" << why << "\": " << m;
}

TEST(ReferenceParse, DockerHubOfficialShortName) {
  Reference r = MustParse("nginx");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "library/nginx");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_FALSE(r.digest.has_value());
  EXPECT_EQ(r.ToString(), "docker.io/library/nginx:latest");
}

TEST(ReferenceParse, DockerHubShortNameWithTag) {
  Reference r = MustParse("nginx:1.25-alpine");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "library/nginx");
  EXPECT_EQ(r.tag, "1.25-alpine");
  EXPECT_EQ(r.ToString(), "docker.io/library/nginx:1.25-alpine");
}

TEST(ReferenceParse, DockerHubUserRepo) {
  Reference r = MustParse("user/app:1");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "user/app");
  EXPECT_EQ(r.tag, "1");
  EXPECT_EQ(r.ToString(), "docker.io/user/app:1");
}

TEST(ReferenceParse, DockerHubAliasesNormalizeToDockerIo) {
  Reference a = MustParse("index.docker.io/x/y");
  EXPECT_EQ(a.registry, "docker.io");
  EXPECT_EQ(a.repository, "x/y");
  EXPECT_EQ(a.tag, "latest");
  EXPECT_EQ(a.ToString(), "docker.io/x/y:latest");

  Reference b = MustParse("registry-1.docker.io/busybox");
  EXPECT_EQ(b.registry, "docker.io");
  EXPECT_EQ(b.repository, "library/busybox");

  Reference c = MustParse("docker.io/nginx");
  EXPECT_EQ(c.registry, "docker.io");
  EXPECT_EQ(c.repository, "library/nginx");

  Reference d = MustParse("docker.io/library/nginx:latest");
  EXPECT_EQ(d.ToString(), "docker.io/library/nginx:latest");
}

TEST(ReferenceParse, HostWithPort) {
  Reference r = MustParse("127.0.0.1:5000/team/app:2");
  EXPECT_EQ(r.registry, "127.0.0.1:5000");
  EXPECT_EQ(r.repository, "team/app");
  EXPECT_EQ(r.tag, "2");
  EXPECT_EQ(r.ToString(), "127.0.0.1:5000/team/app:2");
  EXPECT_EQ(r.ApiHost(), "127.0.0.1:5000");

  // No tag after a host:port: the port colon is not a tag separator.
  Reference p = MustParse("localhost:5000/a/b");
  EXPECT_EQ(p.registry, "localhost:5000");
  EXPECT_EQ(p.repository, "a/b");
  EXPECT_EQ(p.tag, "latest");
}

TEST(ReferenceParse, LocalhostIsAHost) {
  Reference r = MustParse("localhost/a");
  EXPECT_EQ(r.registry, "localhost");
  EXPECT_EQ(r.repository, "a");  // no library/ outside docker.io
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.ToString(), "localhost/a:latest");
}

TEST(ReferenceParse, OtherRegistryKeepsSingleComponentRepo) {
  Reference r = MustParse("quay.io/podman:v4");
  EXPECT_EQ(r.registry, "quay.io");
  EXPECT_EQ(r.repository, "podman");
  EXPECT_EQ(r.tag, "v4");
  EXPECT_EQ(r.ApiHost(), "quay.io");
}

TEST(ReferenceParse, FirstComponentWithoutDotOrColonIsARepoPath) {
  Reference r = MustParse("team/sub/app");
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "team/sub/app");
}

TEST(ReferenceParse, DockerTransportPrefix) {
  Reference r = MustParse("docker://nginx");
  EXPECT_EQ(r.ToString(), "docker.io/library/nginx:latest");
  Reference h = MustParse("docker://127.0.0.1:5000/team/app:2");
  EXPECT_EQ(h.registry, "127.0.0.1:5000");
  EXPECT_EQ(h.repository, "team/app");
  EXPECT_EQ(h.tag, "2");
}

TEST(ReferenceParse, DigestOnly) {
  Reference r = MustParse("repo@" + kDigest);
  EXPECT_EQ(r.registry, "docker.io");
  EXPECT_EQ(r.repository, "library/repo");
  EXPECT_EQ(r.tag, "");  // no "latest" when a digest is given
  ASSERT_TRUE(r.digest.has_value());
  EXPECT_EQ(r.digest->Hex(), kHex);
  EXPECT_EQ(r.ToString(), "docker.io/library/repo@" + kDigest);
  EXPECT_EQ(r.ManifestRef(), kDigest);
  EXPECT_EQ(r.LocalName(), "docker.io/library/repo@" + kDigest);
}

TEST(ReferenceParse, DigestWithHostPort) {
  Reference r = MustParse("localhost:5000/a/b@" + kDigest);
  EXPECT_EQ(r.registry, "localhost:5000");
  EXPECT_EQ(r.repository, "a/b");
  EXPECT_EQ(r.tag, "");
  ASSERT_TRUE(r.digest.has_value());
  EXPECT_EQ(r.digest->ToString(), kDigest);
}

TEST(ReferenceParse, TagAndDigest) {
  Reference r = MustParse("quay.io/team/app:v1@" + kDigest);
  EXPECT_EQ(r.registry, "quay.io");
  EXPECT_EQ(r.repository, "team/app");
  EXPECT_EQ(r.tag, "v1");
  ASSERT_TRUE(r.digest.has_value());
  EXPECT_EQ(r.digest->ToString(), kDigest);
  EXPECT_EQ(r.ToString(), "quay.io/team/app:v1@" + kDigest);
  // The digest wins for what is fetched.
  EXPECT_EQ(r.ManifestRef(), kDigest);
}

TEST(ReferenceParse, ToStringRoundTrips) {
  for (const std::string& s : std::initializer_list<std::string>{
           "nginx", "user/app:1", "index.docker.io/x/y", "127.0.0.1:5000/team/app:2", "localhost/a",
           "docker://quay.io/a/b/c:v1.2_3", "repo@" + kDigest, "h.io/a:t@" + kDigest}) {
    Reference a = MustParse(s);
    Reference b = MustParse(a.ToString());
    EXPECT_EQ(a.ToString(), b.ToString()) << s;
    EXPECT_EQ(a.registry, b.registry) << s;
    EXPECT_EQ(a.repository, b.repository) << s;
    EXPECT_EQ(a.tag, b.tag) << s;
    EXPECT_EQ(a.digest, b.digest) << s;
  }
}

TEST(ReferenceParse, AcceptsSeparatorsInComponents) {
  for (const char* s : {"a.b/c_d", "a__b/c", "a-b/c--d", "a1/b2.c3", "x/y-z---w"}) {
    auto r = Reference::Parse(s);
    EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  }
}

TEST(ReferenceParse, AcceptsTagCharacters) {
  Reference r = MustParse("app:V1.2_rc-3");
  EXPECT_EQ(r.tag, "V1.2_rc-3");  // tags may be uppercase
  Reference u = MustParse("app:_x");
  EXPECT_EQ(u.tag, "_x");
  Reference max = MustParse("app:" + std::string(128, 'a'));
  EXPECT_EQ(max.tag.size(), 128u);
}

TEST(ReferenceManifestRef, TagWhenNoDigest) {
  EXPECT_EQ(MustParse("nginx").ManifestRef(), "latest");
  EXPECT_EQ(MustParse("user/app:1").ManifestRef(), "1");
}

TEST(ReferenceLocalName, TagOrDigest) {
  EXPECT_EQ(MustParse("nginx").LocalName(), "docker.io/library/nginx:latest");
  EXPECT_EQ(MustParse("127.0.0.1:5000/team/app:2").LocalName(), "127.0.0.1:5000/team/app:2");
  EXPECT_EQ(MustParse("docker://repo@" + kDigest).LocalName(), "docker.io/library/repo@" + kDigest);
  // With a tag and a digest the local name is never the "TAG@DIGEST" form.
  std::string both = MustParse("a.io/x:v1@" + kDigest).LocalName();
  EXPECT_TRUE(both == "a.io/x:v1" || both == "a.io/x@" + kDigest) << both;
}

TEST(ReferenceApiHost, DockerHubUsesRegistry1) {
  EXPECT_EQ(MustParse("nginx").ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(MustParse("index.docker.io/x/y").ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(MustParse("docker.io/user/app").ApiHost(), "registry-1.docker.io");
  EXPECT_EQ(MustParse("ghcr.io/o/r").ApiHost(), "ghcr.io");
  EXPECT_EQ(MustParse("localhost/a").ApiHost(), "localhost");
}

TEST(ReferenceParse, RejectsEmpty) {
  ExpectInvalid("", "empty");
  ExpectInvalid("docker://", "empty");
}

TEST(ReferenceParse, RejectsUppercaseRepository) {
  ExpectInvalid("Nginx", "lowercase");
  ExpectInvalid("user/App:1", "lowercase");
  ExpectInvalid("quay.io/Team/app", "lowercase");
}

TEST(ReferenceParse, RejectsBadTag) {
  ExpectInvalid(":-x", "bad tag");
  ExpectInvalid("nginx:-x", "bad tag \"-x\"");
  ExpectInvalid("nginx:.x", "bad tag");
  ExpectInvalid("nginx:", "bad tag");
  ExpectInvalid("nginx:a+b", "bad tag");
}

TEST(ReferenceParse, RejectsTooLongTag) {
  ExpectInvalid("app:" + std::string(129, 'a'), "bad tag");
}

TEST(ReferenceParse, RejectsEmptyPathComponents) {
  ExpectInvalid("a//b", "bad repository path component");
  ExpectInvalid("a/", "bad repository path component");
  ExpectInvalid("quay.io/a/", "bad repository path component");
  ExpectInvalid("/a", "bad repository path component");
}

TEST(ReferenceParse, RejectsHostWithoutRepository) {
  ExpectInvalid("localhost/", "no repository");
  ExpectInvalid("quay.io/:tag", "no repository");
}

TEST(ReferenceParse, RejectsBadSeparatorsInComponents) {
  ExpectInvalid("x/a..b", "bad repository path component");
  ExpectInvalid("a___b", "bad repository path component");
  ExpectInvalid("-a", "bad repository path component");
  ExpectInvalid("a-", "bad repository path component");
  ExpectInvalid("a.-b", "bad repository path component");
  ExpectInvalid("a b", "bad repository path component");
}

TEST(ReferenceParse, RejectsBadDigest) {
  ExpectInvalid("repo@sha256:abc", "digest");
  ExpectInvalid("repo@", "digest");
  ExpectInvalid("repo@md5:" + kHex, "digest");
  ExpectInvalid("repo@sha256:" + std::string(64, 'G'), "digest");
  ExpectInvalid("repo:1@" + kHex, "digest");  // bare hex is not a digest
}

TEST(ReferenceParse, RejectsBadRegistryHost) { ExpectInvalid("a_b.io/x", "bad registry host"); }

// The registry part must be HOST[:PORT] with HOST a dotted name of
// alphanumeric/hyphen labels (or an IP / [IPv6]) and PORT digits, as in the
// distribution reference grammar docker and podman use.
TEST(ReferenceParse, AcceptsWellFormedRegistryHosts) {
  for (const char* s :
       {"a.b/c", "my-registry.example.com:443/c", "[::1]:5000/c", "Quay.io/a/b", "10.0.0.1/c"}) {
    auto r = Reference::Parse(s);
    EXPECT_TRUE(r.ok()) << s << ": " << r.status().ToString();
  }
}

TEST(ReferenceParse, RejectsMalformedRegistryHost) {
  ExpectInvalid("a..b/c", "registry host");            // empty label
  ExpectInvalid(".io/c", "registry host");             // empty first label
  ExpectInvalid("-a.io/c", "registry host");           // label starts with '-'
  ExpectInvalid("a.io-/c", "registry host");           // label ends with '-'
  ExpectInvalid("a.io:/c", "registry host");           // empty port
  ExpectInvalid("host:abc/c", "registry host");        // non-numeric port
  ExpectInvalid("a.io:5000:6000/c", "registry host");  // two ports
}

TEST(ReferenceParse, RejectsTooLongRepository) {
  // 300 characters of repository path, well-formed components.
  std::string repo = "quay.io/";
  for (int i = 0; i < 30; i++) repo += "abcdefghi/";
  repo += "x";
  ExpectInvalid(repo, "longer than 255");
  ExpectInvalid(std::string(2000, 'a'), "too long");
}

TEST(IsRegistryReference, Transports) {
  EXPECT_FALSE(IsRegistryReference("oci:/tmp/layout"));
  EXPECT_FALSE(IsRegistryReference("oci:/tmp/layout:tag"));
  EXPECT_FALSE(IsRegistryReference("oci-archive:/tmp/img.tar"));
  EXPECT_FALSE(IsRegistryReference("docker-archive:/tmp/img.tar"));
  EXPECT_TRUE(IsRegistryReference("docker://nginx"));
  EXPECT_TRUE(IsRegistryReference("docker://127.0.0.1:5000/a:1"));
  EXPECT_TRUE(IsRegistryReference("nginx"));
  EXPECT_TRUE(IsRegistryReference("user/app:1"));
  EXPECT_TRUE(IsRegistryReference("127.0.0.1:5000/team/app:2"));
  EXPECT_TRUE(IsRegistryReference("localhost/a"));
  // A registry whose name merely starts like a transport is still a registry.
  EXPECT_TRUE(IsRegistryReference("oci.example.com/a/b"));
  EXPECT_TRUE(IsRegistryReference("ocifoo/bar"));
}

TEST(NormalizeRegistryHost, Forms) {
  EXPECT_EQ(NormalizeRegistryHost("docker.io"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("index.docker.io"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(NormalizeRegistryHost("http://host:5000/"), "host:5000");
  EXPECT_EQ(NormalizeRegistryHost("https://host:5000"), "host:5000");
  EXPECT_EQ(NormalizeRegistryHost("HOST:PORT/path"), "HOST:PORT");
  EXPECT_EQ(NormalizeRegistryHost("quay.io/team/app"), "quay.io");
  EXPECT_EQ(NormalizeRegistryHost("docker://localhost:5000/a"), "localhost:5000");
  EXPECT_EQ(NormalizeRegistryHost("127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST(NormalizeRegistryHost, AgreesWithParse) {
  for (const char* s : {"nginx", "index.docker.io/x/y", "127.0.0.1:5000/team/app:2", "localhost/a",
                        "quay.io/a/b"}) {
    Reference r = MustParse(s);
    EXPECT_EQ(NormalizeRegistryHost(r.ToString()), r.registry) << s;
  }
}

}  // namespace
}  // namespace cfs::registry
