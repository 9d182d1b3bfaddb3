// Tests of the local image transports against what real tools write:
// umoci builds an OCI layout, skopeo turns it into oci-archive and
// docker-archive files, and skopeo/umoci read back what OciLayoutWriter
// writes.
#include "transport/image_source.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

namespace cfs {
namespace {

using nlohmann::json;

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciIndex[] = "application/vnd.oci.image.index.v1+json";

// Runs a shell command, output to a log file; on failure returns the log.
std::optional<std::string> Shell(const std::string& cmd, const std::string& log) {
  int rc = std::system(("(" + cmd + ") >" + log + " 2>&1").c_str());
  if (rc == 0) return std::nullopt;
  auto out = ReadFile(log);
  return "`" + cmd + "` failed (" + std::to_string(rc) + "): " + (out.ok() ? *out : "");
}

std::string Read(const std::string& path) {
  auto r = ReadFile(path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

Digest HashSource(ByteSource& src, uint64_t* size) {
  Sha256 h;
  std::string buf(1 << 16, '\0');
  *size = 0;
  for (;;) {
    auto n = src.Read(buf.data(), buf.size());
    EXPECT_TRUE(n.ok());
    if (!n.ok() || *n == 0) break;
    h.Update(buf.data(), *n);
    *size += *n;
  }
  return h.Finish();
}

// One tar member for WriteTestTar.
struct Member {
  std::string name;
  std::string content;   // regular file payload
  std::string symlink;   // non-empty: a symlink to this
  std::string hardlink;  // non-empty: a hard link to this member
};

void WriteTestTar(const std::string& path, const std::vector<Member>& members) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& m : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, m.name.c_str());
    archive_entry_set_perm(e, 0644);
    if (!m.symlink.empty()) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, m.symlink.c_str());
    } else if (!m.hardlink.empty()) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, m.hardlink.c_str());
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_size(e, static_cast<la_int64_t>(m.content.size()));
    }
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    if (m.symlink.empty() && m.hardlink.empty())
      archive_write_data(a, m.content.data(), m.content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// Lists the members of a tar (names in archive order).
std::vector<std::string> TarNames(const std::string& path) {
  std::vector<std::string> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  if (archive_read_open_filename(a, path.c_str(), 1 << 16) == ARCHIVE_OK) {
    struct archive_entry* e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) out.push_back(archive_entry_pathname(e));
  }
  archive_read_free(a);
  return out;
}

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* de = ::readdir(d))
      if (std::string(de->d_name) != "." && std::string(de->d_name) != "..") n++;
    ::closedir(d);
  }
  return n;
}

class ImageSourceTest : public ::testing::Test {
 protected:
  // Fixtures shared by all tests, built once with umoci and skopeo:
  //   layout/        OCI layout, image "t" with two layers
  //   plain.tar      skopeo oci-archive (untagged)
  //   tagged.tar     skopeo oci-archive:...:t
  //   docker.tar     skopeo docker-archive:...:name:tag
  static void SetUpTestSuite() {
    auto root = TempDir::Create("/tmp", "cfs-image-source-test-");
    ASSERT_TRUE(root.ok()) << root.status().ToString();
    root_ = new TempDir(std::move(*root));
    const std::string r = root_->path();
    const std::string log = r + "/log";
    if (std::system("command -v umoci >/dev/null && command -v skopeo >/dev/null") != 0) {
      setup_error_ = "umoci and skopeo are required";
      return;
    }
    const std::vector<std::string> steps = {
        "umoci init --layout " + r + "/layout",
        "umoci new --image " + r + "/layout:t",
        "umoci unpack --rootless --image " + r + "/layout:t " + r + "/bundle",
        "echo hello > " + r + "/bundle/rootfs/hello",
        "umoci repack --image " + r + "/layout:t " + r + "/bundle",
        "rm -rf " + r + "/bundle",
        "umoci unpack --rootless --image " + r + "/layout:t " + r + "/bundle",
        "mkdir -p " + r + "/bundle/rootfs/etc && echo second > " + r + "/bundle/rootfs/etc/second",
        "umoci repack --image " + r + "/layout:t " + r + "/bundle",
        "rm -rf " + r + "/bundle",
        "skopeo --insecure-policy copy oci:" + r + "/layout:t oci-archive:" + r + "/plain.tar",
        "skopeo --insecure-policy copy oci:" + r + "/layout:t oci-archive:" + r + "/tagged.tar:t",
        "skopeo --insecure-policy copy oci:" + r + "/layout:t docker-archive:" + r +
            "/docker.tar:name:tag",
        "skopeo inspect --raw oci:" + r + "/layout:t > " + r + "/raw-manifest",
    };
    for (const auto& s : steps) {
      if (auto err = Shell(s, log)) {
        setup_error_ = *err;
        return;
      }
    }
  }
  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    auto scratch = TempDir::Create(root_->path(), "case-");
    ASSERT_TRUE(scratch.ok());
    scratch_ = std::move(*scratch);
  }

  static std::string Root() { return root_->path(); }
  std::string Scratch() const { return scratch_.path(); }
  std::string Tmp() const { return scratch_.path() + "/tmp"; }

  // Resolves ref for the host platform; fails the test on error.
  SourceImage MustResolve(const std::string& ref, std::unique_ptr<ImageSourceReader>* keep) {
    auto r = OpenImageSource(ref, Tmp());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    auto img = (*r)->Resolve(Platform::Host());
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    *keep = std::move(*r);
    return img.ok() ? *img : SourceImage{};
  }

  Status ResolveError(const std::string& ref, const Platform& p = Platform::Host()) {
    auto r = OpenImageSource(ref, Tmp());
    if (!r.ok()) return r.status();
    auto img = (*r)->Resolve(p);
    EXPECT_FALSE(img.ok()) << ref << " resolved";
    return img.status();
  }

  // The descriptor umoci wrote for tag t.
  static json LayoutIndexEntry() {
    json index = json::parse(Read(Root() + "/layout/index.json"));
    return index["manifests"][0];
  }

  // Checks that every blob of img opens and hashes to its digest.
  void ExpectBlobsHash(ImageSourceReader& reader, const SourceImage& img) {
    for (const auto& layer : img.layers) {
      auto src = reader.OpenBlob(layer);
      ASSERT_TRUE(src.ok()) << src.status().ToString();
      uint64_t size = 0;
      EXPECT_EQ(HashSource(**src, &size), layer.digest);
      EXPECT_EQ(size, layer.size);
    }
  }

  // Writes config and a manifest over D's layers into layout dir under tag.
  Descriptor WriteImage(OciLayoutWriter& w, const std::string& config, const json& layers,
                        const std::string& tag) {
    Digest cd = Digest::Of(config);
    EXPECT_TRUE(w.PutBlob(cd, config).ok());
    json m = {{"schemaVersion", 2},
              {"mediaType", kOciManifest},
              {"config",
               {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                {"digest", cd.ToString()},
                {"size", config.size()}}},
              {"layers", layers}};
    std::string bytes = m.dump();
    Descriptor d{kOciManifest, Digest::Of(bytes), bytes.size(), {}};
    EXPECT_TRUE(w.PutBlob(d.digest, bytes).ok());
    w.AddManifest(d, tag);
    return d;
  }

  static TempDir* root_;
  static std::string setup_error_;
  TempDir scratch_;
};

TempDir* ImageSourceTest::root_ = nullptr;
std::string ImageSourceTest::setup_error_;

TEST(PlatformTest, HostParseToString) {
  Platform host = Platform::Host();
  EXPECT_EQ(host.os, "linux");
  struct utsname u;
  ASSERT_EQ(::uname(&u), 0);
  if (std::string(u.machine) == "x86_64") {
    EXPECT_EQ(host.ToString(), "linux/amd64");
  } else if (std::string(u.machine) == "aarch64") {
    EXPECT_EQ(host.ToString(), "linux/arm64/v8");
  }

  auto p = Platform::Parse("linux/arm64/v8");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->os, "linux");
  EXPECT_EQ(p->arch, "arm64");
  EXPECT_EQ(p->variant, "v8");
  EXPECT_EQ(p->ToString(), "linux/arm64/v8");
  auto q = Platform::Parse("linux/amd64");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->variant, "");
  EXPECT_EQ(q->ToString(), "linux/amd64");
  for (const char* bad : {"", "linux", "linux//v7", "a/b/c/d", "/amd64"}) {
    auto r = Platform::Parse(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
    }
  }
}

TEST_F(ImageSourceTest, OciLayoutResolvesWhatUmociWrote) {
  std::unique_ptr<ImageSourceReader> reader;
  SourceImage img = MustResolve("oci:" + Root() + "/layout:t", &reader);
  ASSERT_TRUE(reader);
  json entry = LayoutIndexEntry();
  EXPECT_EQ(img.manifest_digest.ToString(), entry["digest"]);
  EXPECT_EQ(img.manifest, Read(Root() + "/raw-manifest"));
  EXPECT_EQ(img.manifest_media_type, kOciManifest);
  EXPECT_EQ(img.ref_name, "t");

  json raw = json::parse(Read(Root() + "/raw-manifest"));
  EXPECT_EQ(img.config_digest.ToString(), raw["config"]["digest"]);
  EXPECT_EQ(img.config_media_type, raw["config"]["mediaType"]);
  ASSERT_EQ(img.layers.size(), 2u);
  ASSERT_EQ(img.diff_ids.size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(img.layers[i].digest.ToString(), raw["layers"][i]["digest"]);
    EXPECT_EQ(img.layers[i].media_type, raw["layers"][i]["mediaType"]);
  }
  json config = json::parse(img.config);
  EXPECT_EQ(img.diff_ids[0].ToString(), config["rootfs"]["diff_ids"][0]);
  EXPECT_EQ(img.diff_ids[1].ToString(), config["rootfs"]["diff_ids"][1]);
  ExpectBlobsHash(*reader, img);

  // Without a tag the only image is taken.
  std::unique_ptr<ImageSourceReader> untagged;
  EXPECT_EQ(MustResolve("oci:" + Root() + "/layout", &untagged).manifest_digest,
            img.manifest_digest);
}

TEST_F(ImageSourceTest, OciTagErrors) {
  Status s = ResolveError("oci:" + Root() + "/layout:nope");
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("nope"), std::string::npos);
  EXPECT_NE(s.message().find("tags: t"), std::string::npos) << s.ToString();

  // Two tags, none asked for: the error lists them.
  const std::string two = Scratch() + "/two";
  ASSERT_EQ(
      Shell("cp -a " + Root() + "/layout " + two + " && umoci tag --image " + two + ":t other",
            Scratch() + "/log")
          .value_or(""),
      "");
  s = ResolveError("oci:" + two);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("t, other"), std::string::npos) << s.ToString();
  std::unique_ptr<ImageSourceReader> reader;
  EXPECT_EQ(MustResolve("oci:" + two + ":other", &reader).ref_name, "other");

  s = ResolveError("oci:" + Scratch() + "/missing:t");
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
}

TEST_F(ImageSourceTest, OciCorruptMetadataIsCaught) {
  const std::string copy = Scratch() + "/corrupt";
  ASSERT_EQ(Shell("cp -a " + Root() + "/layout " + copy, Scratch() + "/log").value_or(""), "");
  json raw = json::parse(Read(Root() + "/raw-manifest"));
  std::string config_digest = raw["config"]["digest"];
  const std::string path = copy + "/blobs/sha256/" + config_digest.substr(7);
  std::string bytes = Read(path);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  Status s = ResolveError("oci:" + copy + ":t");
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(config_digest), std::string::npos) << s.ToString();

  // A manifest blob of the wrong size.
  std::string manifest_path =
      copy + "/blobs/sha256/" + LayoutIndexEntry()["digest"].get<std::string>().substr(7);
  ASSERT_TRUE(WriteFileAtomic(manifest_path, Read(manifest_path) + " ").ok());
  s = ResolveError("oci:" + copy + ":t");
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();

  // Malformed index.json.
  ASSERT_TRUE(WriteFileAtomic(copy + "/index.json", "{\"schemaVersion\":").ok());
  s = ResolveError("oci:" + copy + ":t");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("index.json: malformed JSON"), std::string::npos) << s.ToString();

  // Not a layout at all.
  ASSERT_EQ(::unlink((copy + "/oci-layout").c_str()), 0);
  s = ResolveError("oci:" + copy + ":t");
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
}

TEST_F(ImageSourceTest, OciArchiveMatchesLayoutAndCleansUp) {
  std::unique_ptr<ImageSourceReader> layout;
  SourceImage want = MustResolve("oci:" + Root() + "/layout:t", &layout);
  for (const std::string& ref :
       {"oci-archive:" + Root() + "/plain.tar", "oci-archive:" + Root() + "/tagged.tar:t"}) {
    {
      std::unique_ptr<ImageSourceReader> reader;
      SourceImage img = MustResolve(ref, &reader);
      ASSERT_TRUE(reader) << ref;
      EXPECT_EQ(img.manifest_digest, want.manifest_digest) << ref;
      EXPECT_EQ(img.config_digest, want.config_digest);
      EXPECT_EQ(img.diff_ids, want.diff_ids);
      ExpectBlobsHash(*reader, img);
      EXPECT_EQ(CountEntries(Tmp()), 1u);  // the unpacked archive
    }
    EXPECT_EQ(CountEntries(Tmp()), 0u) << "unpacked archive not removed";
  }
  Status s = ResolveError("oci-archive:" + Root() + "/tagged.tar:x");
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
}

TEST_F(ImageSourceTest, DockerArchiveSynthesizesSchema2) {
  std::unique_ptr<ImageSourceReader> layout;
  SourceImage oci = MustResolve("oci:" + Root() + "/layout:t", &layout);
  for (const char* suffix : {"", ":name:tag", ":docker.io/library/name:tag", ":@0"}) {
    std::unique_ptr<ImageSourceReader> reader;
    SourceImage img = MustResolve("docker-archive:" + Root() + "/docker.tar" + suffix, &reader);
    ASSERT_TRUE(reader) << suffix;
    EXPECT_EQ(img.ref_name, "docker.io/library/name:tag");
    EXPECT_EQ(img.manifest_media_type, "application/vnd.docker.distribution.manifest.v2+json");
    EXPECT_EQ(img.manifest_digest, Digest::Of(img.manifest));
    EXPECT_EQ(img.config_digest, Digest::Of(img.config));
    EXPECT_EQ(img.diff_ids, oci.diff_ids);
    ASSERT_EQ(img.layers.size(), 2u);
    json m = json::parse(img.manifest);
    EXPECT_EQ(m["schemaVersion"], 2);
    EXPECT_EQ(m["config"]["digest"], img.config_digest.ToString());
    EXPECT_EQ(m["config"]["mediaType"], "application/vnd.docker.container.image.v1+json");
    for (size_t i = 0; i < 2; i++) {
      // skopeo stores the layers uncompressed: digest == diff_id.
      EXPECT_EQ(img.layers[i].media_type, "application/vnd.docker.image.rootfs.diff.tar");
      EXPECT_EQ(img.layers[i].digest, img.diff_ids[i]);
      EXPECT_EQ(m["layers"][i]["digest"], img.layers[i].digest.ToString());
      EXPECT_EQ(m["layers"][i]["size"], img.layers[i].size);
    }
    ExpectBlobsHash(*reader, img);
    Descriptor config{"", img.config_digest, img.config.size(), {}};
    auto src = reader->OpenBlob(config);
    ASSERT_TRUE(src.ok()) << src.status().ToString();
  }
  Status s = ResolveError("docker-archive:" + Root() + "/docker.tar:other:tag");
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
  s = ResolveError("docker-archive:" + Root() + "/docker.tar:@1");
  EXPECT_EQ(s.code(), Status::Code::kNotFound) << s.ToString();
}

// docker save names duplicate layers by symlinks ("<id>/layer.tar ->
// ../<other>/layer.tar"); such members resolve to their target, gzip
// layers are recognized, and a changed config is caught.
TEST_F(ImageSourceTest, DockerArchiveSymlinkedAndGzipLayers) {
  std::string layer = "layer-bytes-as-tar";  // content is not unpacked here
  std::string gz = std::string("\x1f\x8b\x08\x00", 4) + "rest";
  Digest d1 = Digest::Of(layer);
  Digest d2 = Digest::Of("uncompressed-of-gz");
  json config = {
      {"architecture", "amd64"},
      {"os", "linux"},
      {"rootfs",
       {{"type", "layers"}, {"diff_ids", {d1.ToString(), d2.ToString(), d1.ToString()}}}}};
  std::string config_bytes = config.dump();
  std::string config_name = Digest::Of(config_bytes).Hex() + ".json";
  json manifest = json::array({{{"Config", config_name},
                                {"RepoTags", {"busybox:latest"}},
                                {"Layers", {"aaa/layer.tar", "bbb/layer.tar", "ccc/layer.tar"}}}});
  const std::string tar = Scratch() + "/saved.tar";
  WriteTestTar(tar, {{"aaa/layer.tar", layer, "", ""},
                     {"bbb/layer.tar", gz, "", ""},
                     {"ccc/layer.tar", "", "../aaa/layer.tar", ""},
                     {"ddd/layer.tar", "", "", "aaa/layer.tar"},
                     {config_name, config_bytes, "", ""},
                     {"manifest.json", manifest.dump(), "", ""}});
  std::unique_ptr<ImageSourceReader> reader;
  SourceImage img = MustResolve("docker-archive:" + tar + ":busybox:latest", &reader);
  ASSERT_EQ(img.layers.size(), 3u);
  EXPECT_EQ(img.ref_name, "busybox:latest");
  EXPECT_EQ(img.layers[0].digest, d1);
  EXPECT_EQ(img.layers[2].digest, d1);
  EXPECT_EQ(img.layers[1].media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
  EXPECT_EQ(img.layers[1].digest, Digest::Of(gz));
  ExpectBlobsHash(*reader, img);

  // The config no longer matches its name.
  config["os"] = "windows";
  WriteTestTar(tar, {{"aaa/layer.tar", layer, "", ""},
                     {"bbb/layer.tar", gz, "", ""},
                     {"ccc/layer.tar", "", "../aaa/layer.tar", ""},
                     {config_name, config.dump(), "", ""},
                     {"manifest.json", manifest.dump(), "", ""}});
  Status s = ResolveError("docker-archive:" + tar);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST_F(ImageSourceTest, HostileArchivesAreRefused) {
  struct Case {
    const char* what;
    std::vector<Member> members;
  };
  const std::vector<Case> cases = {
      {"dotdot", {{"oci-layout", "{}", "", ""}, {"../evil", "x", "", ""}}},
      {"nested dotdot", {{"blobs/../../evil", "x", "", ""}}},
      {"absolute", {{"/tmp/evil", "x", "", ""}}},
      {"symlink out", {{"link", "", "../../evil", ""}}},
      {"absolute symlink", {{"link", "", "/etc/passwd", ""}}},
      {"dangling symlink", {{"link", "", "nothere", ""}}},
      {"hardlink out", {{"link", "", "", "../evil"}}},
  };
  for (const auto& c : cases) {
    const std::string tar = Scratch() + "/evil.tar";
    WriteTestTar(tar, c.members);
    for (const char* transport : {"oci-archive:", "docker-archive:"}) {
      auto r = OpenImageSource(transport + tar, Tmp());
      ASSERT_FALSE(r.ok()) << c.what;
      EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument)
          << c.what << ": " << r.status().ToString();
      EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
    }
    EXPECT_FALSE(PathExists(Scratch() + "/evil")) << c.what;
    EXPECT_FALSE(PathExists(Scratch() + "/tmp/evil")) << c.what;
    EXPECT_EQ(CountEntries(Tmp()), 0u) << c.what;
  }
}

TEST_F(ImageSourceTest, TruncatedArchivesAreCorruption) {
  std::string whole = Read(Root() + "/tagged.tar");
  const std::string cut = Scratch() + "/cut.tar";
  ASSERT_TRUE(WriteFileAtomic(cut, whole.substr(0, whole.size() / 2 + 100)).ok());
  auto r = OpenImageSource("oci-archive:" + cut + ":t", Tmp());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();

  // The same through gzip.
  ASSERT_EQ(
      Shell("gzip -c " + Root() + "/docker.tar > " + Scratch() + "/d.tar.gz", Scratch() + "/log")
          .value_or(""),
      "");
  std::string gz = Read(Scratch() + "/d.tar.gz");
  ASSERT_TRUE(WriteFileAtomic(Scratch() + "/d.tar.gz", gz.substr(0, gz.size() * 2 / 3)).ok());
  r = OpenImageSource("docker-archive:" + Scratch() + "/d.tar.gz", Tmp());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();

  // The whole gzip archive is fine.
  ASSERT_TRUE(WriteFileAtomic(Scratch() + "/d.tar.gz", gz).ok());
  {
    std::unique_ptr<ImageSourceReader> reader;
    EXPECT_EQ(MustResolve("docker-archive:" + Scratch() + "/d.tar.gz", &reader).layers.size(), 2u);
  }

  // Not an archive.
  ASSERT_TRUE(WriteFileAtomic(cut, std::string(3000, 'x')).ok());
  r = OpenImageSource("oci-archive:" + cut, Tmp());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().ToString();
  EXPECT_EQ(CountEntries(Tmp()), 0u);
}

TEST_F(ImageSourceTest, UnknownTransport) {
  auto r = OpenImageSource("docker://busybox", Tmp());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "unknown transport in \"docker://busybox\": want oci:, oci-archive: or "
            "docker-archive:");
}

TEST_F(ImageSourceTest, IndexPicksPlatform) {
  std::unique_ptr<ImageSourceReader> src;
  SourceImage base = MustResolve("oci:" + Root() + "/layout:t", &src);
  json raw = json::parse(base.manifest);
  const std::string dir = Scratch() + "/multi";
  auto w = OciLayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  for (const auto& l : base.layers) {
    auto blob = src->OpenBlob(l);
    ASSERT_TRUE(blob.ok());
    auto d = (*w)->PutBlobStream(l.media_type, [&](ByteSink& out) -> Status {
      char buf[4096];
      for (;;) {
        ASSIGN_OR_RETURN(size_t n, (*blob)->Read(buf, sizeof buf));
        if (n == 0) return Status::Ok();
        RETURN_IF_ERROR(out.Write(buf, n));
      }
    });
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->digest, l.digest);
  }
  Descriptor amd = WriteImage(**w, base.config, raw["layers"], "");
  json config = json::parse(base.config);
  config["architecture"] = "arm64";
  config["variant"] = "v8";
  Descriptor arm = WriteImage(**w, config.dump(), raw["layers"], "");
  json index = {
      {"schemaVersion", 2},
      {"mediaType", kOciIndex},
      {"manifests",
       {{{"mediaType", kOciManifest},
         {"digest", amd.digest.ToString()},
         {"size", amd.size},
         {"platform", {{"os", "linux"}, {"architecture", "amd64"}}}},
        {{"mediaType", kOciManifest},
         {"digest", arm.digest.ToString()},
         {"size", arm.size},
         {"platform", {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}}}}}}};
  std::string index_bytes = index.dump();
  Descriptor idx{kOciIndex, Digest::Of(index_bytes), index_bytes.size(), {}};
  ASSERT_TRUE((*w)->PutBlob(idx.digest, index_bytes).ok());
  // Only the index is listed in index.json, not the two manifests.
  auto w2 = OciLayoutWriter::Create(dir);
  ASSERT_TRUE(w2.ok());
  (*w2)->AddManifest(idx, "multi");
  ASSERT_TRUE(!PathExists(dir + "/index.json"));
  ASSERT_TRUE((*w2)->Finish().ok());

  auto reader = OpenImageSource("oci:" + dir + ":multi", Tmp());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  struct Want {
    const char* platform;
    Digest manifest;
  };
  for (const Want& want : {Want{"linux/amd64", amd.digest}, Want{"linux/arm64/v8", arm.digest},
                           Want{"linux/arm64", arm.digest}}) {
    auto img = (*reader)->Resolve(*Platform::Parse(want.platform));
    ASSERT_TRUE(img.ok()) << want.platform << ": " << img.status().ToString();
    EXPECT_EQ(img->manifest_digest, want.manifest) << want.platform;
    EXPECT_EQ(img->ref_name, "multi");
  }
  auto miss = (*reader)->Resolve(*Platform::Parse("linux/s390x"));
  ASSERT_FALSE(miss.ok());
  EXPECT_EQ(miss.status().code(), Status::Code::kNotFound);
  EXPECT_NE(miss.status().message().find("linux/amd64, linux/arm64/v8"), std::string::npos)
      << miss.status().ToString();
  miss = (*reader)->Resolve(*Platform::Parse("linux/arm64/v7"));
  EXPECT_FALSE(miss.ok());

  // An index blob with a flipped byte is caught.
  std::string path = dir + "/blobs/sha256/" + idx.digest.Hex();
  index_bytes[10] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(path, index_bytes).ok());
  Status s = ResolveError("oci:" + dir + ":multi");
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
}

TEST_F(ImageSourceTest, ManifestChecks) {
  std::unique_ptr<ImageSourceReader> src;
  SourceImage base = MustResolve("oci:" + Root() + "/layout:t", &src);
  json raw = json::parse(base.manifest);
  const std::string dir = Scratch() + "/checks";
  auto w = OciLayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok());

  // One diff_id too few.
  json config = json::parse(base.config);
  config["rootfs"]["diff_ids"].erase(1);
  WriteImage(**w, config.dump(), raw["layers"], "short");
  // An all-zero diff_id (it would verify nothing).
  json zero = json::parse(base.config);
  zero["rootfs"]["diff_ids"][1] = "sha256:" + std::string(64, '0');
  WriteImage(**w, zero.dump(), raw["layers"], "zero");
  // A foreign layer.
  json foreign = raw["layers"];
  foreign[0]["mediaType"] = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
  WriteImage(**w, base.config, foreign, "foreign");
  // A sha512 digest.
  json sha512 = raw["layers"];
  sha512[0]["digest"] = "sha512:" + std::string(128, 'a');
  WriteImage(**w, base.config, sha512, "sha512");
  // An upper-case / traversal digest.
  json traversal = raw["layers"];
  traversal[0]["digest"] = "sha256:../../../../etc/passwd";
  WriteImage(**w, base.config, traversal, "traversal");
  ASSERT_TRUE((*w)->Finish().ok());

  Status s = ResolveError("oci:" + dir + ":short");
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("1 diff_ids for 2 layers"), std::string::npos) << s.ToString();
  s = ResolveError("oci:" + dir + ":zero");
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("diff_ids[1] is all zeros"), std::string::npos) << s.ToString();
  s = ResolveError("oci:" + dir + ":foreign");
  EXPECT_EQ(s.code(), Status::Code::kUnsupported) << s.ToString();
  s = ResolveError("oci:" + dir + ":sha512");
  EXPECT_EQ(s.code(), Status::Code::kUnsupported) << s.ToString();
  s = ResolveError("oci:" + dir + ":traversal");
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
}

// Copies the resolved image into an OCI layout at dir under tag, layers
// through PutBlob or PutBlobStream.
void CopyImage(ImageSourceReader& src, const SourceImage& img, OciLayoutWriter& w,
               const std::string& tag, bool stream) {
  ASSERT_TRUE(w.PutBlob(img.config_digest, img.config).ok());
  for (const auto& l : img.layers) {
    auto blob = src.OpenBlob(l);
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    auto copy = [&](ByteSink& out) -> Status {
      char buf[4096];
      for (;;) {
        ASSIGN_OR_RETURN(size_t n, (*blob)->Read(buf, sizeof buf));
        if (n == 0) return Status::Ok();
        RETURN_IF_ERROR(out.Write(buf, n));
      }
    };
    if (stream) {
      auto d = w.PutBlobStream(l.media_type, copy);
      ASSERT_TRUE(d.ok()) << d.status().ToString();
      EXPECT_EQ(d->digest, l.digest);
      EXPECT_EQ(d->size, l.size);
    } else {
      std::string bytes;
      StringSink sink(&bytes);
      ASSERT_TRUE(copy(sink).ok());
      ASSERT_TRUE(w.PutBlob(l.digest, bytes).ok());
    }
    EXPECT_TRUE(w.HasBlob(l.digest));
  }
  ASSERT_TRUE(w.PutBlob(img.manifest_digest, img.manifest).ok());
  w.AddManifest({img.manifest_media_type, img.manifest_digest, img.manifest.size(), {}}, tag);
}

TEST_F(ImageSourceTest, WriterOutputIsReadByTools) {
  std::unique_ptr<ImageSourceReader> src;
  SourceImage img = MustResolve("oci-archive:" + Root() + "/plain.tar", &src);
  ASSERT_TRUE(src);
  const std::string dir = Scratch() + "/out";
  auto w = OciLayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();

  EXPECT_EQ((*w)->PutBlob(Digest::Of("other"), "bytes").code(), Status::Code::kCorruption);
  EXPECT_FALSE((*w)->HasBlob(Digest::Of("other")));

  CopyImage(*src, img, **w, "copy", /*stream=*/false);
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ(CountEntries(dir + "/blobs/sha256"), 4u);  // no temporary files left

  const std::string log = Scratch() + "/log";
  EXPECT_EQ(Shell("skopeo inspect oci:" + dir + ":copy", log).value_or(""), "");
  EXPECT_EQ(Shell("umoci unpack --rootless --image " + dir + ":copy " + Scratch() + "/bundle", log)
                .value_or(""),
            "");
  EXPECT_EQ(Read(Scratch() + "/bundle/rootfs/hello"), "hello\n");
  EXPECT_EQ(Read(Scratch() + "/bundle/rootfs/etc/second"), "second\n");

  // A second writer extends the layout: "copy" is replaced, "again" added.
  auto w2 = OciLayoutWriter::Create(dir);
  ASSERT_TRUE(w2.ok());
  Descriptor m{img.manifest_media_type, img.manifest_digest, img.manifest.size(), {}};
  (*w2)->AddManifest(m, "again");
  (*w2)->AddManifest(m, "copy");
  ASSERT_TRUE((*w2)->Finish().ok());
  json index = json::parse(Read(dir + "/index.json"));
  EXPECT_EQ(index["mediaType"], kOciIndex);
  EXPECT_EQ(index["schemaVersion"], 2);
  ASSERT_EQ(index["manifests"].size(), 2u);
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "again");
  EXPECT_EQ(index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"], "copy");

  // Packed as an archive, it reads back through skopeo and ourselves.
  const std::string tar = Scratch() + "/out.tar";
  ASSERT_TRUE(WriteTarOfDir(dir, tar).ok());
  std::vector<std::string> names = TarNames(tar);
  ASSERT_FALSE(names.empty());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const auto& n : names) EXPECT_FALSE(n.starts_with("./") || n.starts_with("/")) << n;
  EXPECT_EQ(Shell("skopeo inspect oci-archive:" + tar + ":again", log).value_or(""), "");
  std::unique_ptr<ImageSourceReader> back;
  SourceImage round = MustResolve("oci-archive:" + tar + ":copy", &back);
  EXPECT_EQ(round.manifest_digest, img.manifest_digest);
  EXPECT_EQ(round.diff_ids, img.diff_ids);
  ExpectBlobsHash(*back, round);
}

// A docker-archive image (synthesized schema2 manifest) written as an OCI
// layout through PutBlobStream, kept byte for byte.
TEST_F(ImageSourceTest, WriterKeepsDockerSchema2) {
  std::unique_ptr<ImageSourceReader> src;
  SourceImage img = MustResolve("docker-archive:" + Root() + "/docker.tar", &src);
  ASSERT_TRUE(src);
  const std::string dir = Scratch() + "/docker-layout";
  auto w = OciLayoutWriter::Create(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  CopyImage(*src, img, **w, "docker.io/library/name:tag", /*stream=*/true);
  ASSERT_TRUE((*w)->Finish().ok());
  EXPECT_EQ(CountEntries(dir + "/blobs/sha256"), 4u);
  // (skopeo 1.9 lists only OCI media types from index.json, so it does not
  // see this image; a caller that wants skopeo to read it converts to OCI.)
  std::unique_ptr<ImageSourceReader> back;
  SourceImage round = MustResolve("oci:" + dir + ":docker.io/library/name:tag", &back);
  EXPECT_EQ(round.manifest_digest, img.manifest_digest);
  EXPECT_EQ(round.manifest_media_type, "application/vnd.docker.distribution.manifest.v2+json");
  EXPECT_EQ(round.ref_name, "docker.io/library/name:tag");
  ExpectBlobsHash(*back, round);
}

}  // namespace
}  // namespace cfs
