// Every ImageSourceReader passes the same cases: oci: layouts (written by
// OciLayoutWriter), oci-archive: and docker-archive: files (packed by
// WriteTarOfDir), and the registry source over the in-memory fake registry.
#include <gtest/gtest.h>

#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

#include "registry/image_io.h"
#include "tests/conformance/conformance_util.h"

namespace cfs::conformance {
namespace {

using nlohmann::json;
using registry::testing::FakeTransport;

constexpr char kManifestType[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kIndexType[] = "application/vnd.oci.image.index.v1+json";

// One platform's image: its layer tar, config and manifest, as bytes.
struct PlatformImage {
  std::string arch, layer, config, manifest;
};

// A two-platform image (linux/amd64, linux/arm64) behind an index, written
// to every kind of source.
struct ImageWorld {
  TempDir tmp;
  std::vector<PlatformImage> images;
  std::string index;
  std::shared_ptr<FakeTransport> fake = std::make_shared<FakeTransport>();

  std::string Layout() const { return tmp.path() + "/layout"; }
  std::string DockerDir() const { return tmp.path() + "/docker"; }
  Status Build();
  Status WriteLayout();
  Status WriteDockerDir();
  void FillRegistry();
};

Status ImageWorld::Build() {
  ASSIGN_OR_RETURN(tmp, TempDir::Create("/tmp", "image-conformance-"));
  uint32_t seed = 1;
  json manifests = json::array();
  for (const char* arch : {"amd64", "arm64"}) {
    PlatformImage p;
    p.arch = arch;
    ASSIGN_OR_RETURN(p.layer, LayerTar(tmp.path(), {{"etc/arch", std::string(arch) + "\n"},
                                                    {"bin/data", RandomBytes(200 << 10, seed++)}}));
    p.config = json({{"architecture", arch},
                     {"os", "linux"},
                     {"rootfs", {{"type", "layers"}, {"diff_ids", {Digest::Of(p.layer).ToString()}}}}})
                   .dump();
    p.manifest = json({{"schemaVersion", 2},
                       {"mediaType", kManifestType},
                       {"config",
                        {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                         {"digest", Digest::Of(p.config).ToString()},
                         {"size", p.config.size()}}},
                       {"layers",
                        {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                          {"digest", Digest::Of(p.layer).ToString()},
                          {"size", p.layer.size()}}}}})
                     .dump();
    manifests.push_back({{"mediaType", kManifestType},
                         {"digest", Digest::Of(p.manifest).ToString()},
                         {"size", p.manifest.size()},
                         {"platform", {{"os", "linux"}, {"architecture", arch}}}});
    images.push_back(std::move(p));
  }
  index = json({{"schemaVersion", 2}, {"mediaType", kIndexType}, {"manifests", manifests}}).dump();
  RETURN_IF_ERROR(WriteLayout());
  RETURN_IF_ERROR(WriteDockerDir());
  FillRegistry();
  return Status::Ok();
}

Status ImageWorld::WriteLayout() {
  ASSIGN_OR_RETURN(auto w, OciLayoutWriter::Create(Layout()));
  for (const auto& p : images)
    for (const std::string* b : {&p.layer, &p.config, &p.manifest})
      RETURN_IF_ERROR(w->PutBlob(Digest::Of(*b), *b));
  RETURN_IF_ERROR(w->PutBlob(Digest::Of(index), index));
  Descriptor d;
  d.media_type = kIndexType;
  d.digest = Digest::Of(index);
  d.size = index.size();
  w->AddManifest(d, "t");
  return w->Finish();
}

// docker save's layout for the amd64 image (one platform per archive).
Status ImageWorld::WriteDockerDir() {
  const PlatformImage& p = images[0];
  const std::string cfg = Digest::Of(p.config).Hex() + ".json";
  const std::string layer = Digest::Of(p.layer).Hex() + "/layer.tar";
  json m = json::array(
      {{{"Config", cfg}, {"RepoTags", {"fake.test/lib/app:t"}}, {"Layers", {layer}}}});
  return WriteTree(DockerDir(), {{cfg, p.config}, {layer, p.layer}, {"manifest.json", m.dump()}});
}

void ImageWorld::FillRegistry() {
  for (const auto& p : images) {
    fake->PutBlob("lib/app", p.layer);
    fake->PutBlob("lib/app", p.config);
    fake->PutManifest("lib/app", "", kManifestType, p.manifest);
  }
  fake->PutManifest("lib/app", "t", kIndexType, index);
}

// The same number of bytes, none of them right.
std::string Garbled(const std::string& s) {
  std::string out = s;
  for (auto& c : out) c = static_cast<char>(~c);
  return out;
}

// One implementation under test.
struct SourceKind {
  std::string name;
  std::function<Result<std::unique_ptr<ImageSourceReader>>(ImageWorld&)> open;
  // Replaces the amd64 layer's bytes (same size) in what open() reads.
  std::function<Status(ImageWorld&)> garble_layer;
  bool multi_platform = true;  // holds an index (docker-archive: one image)
  // Fails a blob whose bytes do not match its digest itself (Corruption);
  // false: streams what it holds and the caller verifies, as
  // ImageSourceReader::OpenBlob documents for local layouts.
  bool verifies_blobs = true;
};

void PrintTo(const SourceKind& k, std::ostream* os) { *os << k.name; }

Status GarbleLayoutBlob(ImageWorld& w) {
  const std::string& layer = w.images[0].layer;
  return WriteFileAtomic(w.Layout() + "/blobs/sha256/" + Digest::Of(layer).Hex(), Garbled(layer));
}

Result<std::unique_ptr<ImageSourceReader>> OpenLocal(ImageWorld& w, const std::string& ref) {
  return OpenImageSource(ref, w.tmp.path());
}

std::vector<SourceKind> Kinds() {
  return {
      {"OciLayout", [](ImageWorld& w) { return OpenLocal(w, "oci:" + w.Layout() + ":t"); },
       GarbleLayoutBlob, true, false},
      {"OciArchive",
       [](ImageWorld& w) -> Result<std::unique_ptr<ImageSourceReader>> {
         RETURN_IF_ERROR(WriteTarOfDir(w.Layout(), w.tmp.path() + "/oci.tar"));
         return OpenLocal(w, "oci-archive:" + w.tmp.path() + "/oci.tar:t");
       },
       GarbleLayoutBlob, true, false},
      {"DockerArchive",
       [](ImageWorld& w) -> Result<std::unique_ptr<ImageSourceReader>> {
         RETURN_IF_ERROR(WriteTarOfDir(w.DockerDir(), w.tmp.path() + "/docker.tar"));
         return OpenLocal(w, "docker-archive:" + w.tmp.path() + "/docker.tar");
       },
       [](ImageWorld& w) {
         const std::string& layer = w.images[0].layer;
         return WriteTree(w.DockerDir(),
                          {{Digest::Of(layer).Hex() + "/layer.tar", Garbled(layer)}});
       },
       false, true},
      {"Registry",
       [](ImageWorld& w) -> Result<std::unique_ptr<ImageSourceReader>> {
         auto client = FakeClient(w.fake);
         if (!client) return Status::Unavailable("no client for the fake registry");
         ASSIGN_OR_RETURN(auto ref, registry::Reference::Parse("fake.test/lib/app:t"));
         return registry::OpenRegistrySource(client, ref, w.tmp.path());
       },
       [](ImageWorld& w) {
         const std::string& layer = w.images[0].layer;
         w.fake->PutRawBlob("lib/app", Digest::Of(layer), Garbled(layer));
         return Status::Ok();
       },
       true, true},
  };
}

Platform Linux(const std::string& arch) {
  Platform p;
  p.os = "linux";
  p.arch = arch;
  return p;
}

class ImageSourceConformance : public ::testing::TestWithParam<SourceKind> {
 protected:
  void SetUp() override {
    Status s = w_.Build();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::unique_ptr<ImageSourceReader> Open() {
    auto r = GetParam().open(w_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  // Resolves p's image and checks it is that image.
  std::optional<SourceImage> MustResolve(ImageSourceReader& src, const PlatformImage& p) {
    auto img = src.Resolve(Linux(p.arch));
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    if (!img.ok()) return std::nullopt;
    EXPECT_EQ(img->config, p.config);
    EXPECT_EQ(img->config_digest, Digest::Of(p.config));
    EXPECT_EQ(img->diff_ids, std::vector<Digest>{Digest::Of(p.layer)});
    EXPECT_EQ(img->layers.size(), 1u);
    if (img->layers.size() != 1) return std::nullopt;
    EXPECT_EQ(img->layers[0].digest, Digest::Of(p.layer));
    EXPECT_EQ(img->layers[0].size, p.layer.size());
    if (GetParam().multi_platform) {
      EXPECT_EQ(img->manifest, p.manifest);
    }
    return std::move(*img);
  }
  ImageWorld w_;
};

TEST_P(ImageSourceConformance, ResolvePicksTheRequestedPlatform) {
  auto src = Open();
  ASSERT_TRUE(src);
  MustResolve(*src, w_.images[0]);
  if (GetParam().multi_platform) MustResolve(*src, w_.images[1]);
}

TEST_P(ImageSourceConformance, ResolveRefusesAMissingPlatformByName) {
  auto src = Open();
  ASSERT_TRUE(src);
  auto img = src->Resolve(Linux("s390x"));
  if (!GetParam().multi_platform) {
    // A single-platform source has nothing to choose: the image is taken
    // and its config says what it is (a pull checks an explicit --platform).
    ASSERT_TRUE(img.ok()) << img.status().ToString();
    EXPECT_EQ(json::parse(img->config).value("architecture", ""), "amd64");
    return;
  }
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(img.status().code(), Status::Code::kNotFound) << img.status().ToString();
  EXPECT_NE(img.status().message().find("linux/s390x"), std::string::npos)
      << img.status().ToString();
  EXPECT_EQ(img.status().message().find('\n'), std::string::npos) << img.status().ToString();
}

TEST_P(ImageSourceConformance, AnImageWithoutReferrersHasNone) {
  auto src = Open();
  ASSERT_TRUE(src);
  auto img = src->Resolve(Linux("amd64"));
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  auto refs = src->Referrers(img->manifest_digest);
  ASSERT_TRUE(refs.ok()) << refs.status().ToString();
  EXPECT_TRUE(refs->empty());
}

TEST_P(ImageSourceConformance, OpenBlobStreamsExactlyTheBlob) {
  auto src = Open();
  ASSERT_TRUE(src);
  auto img = MustResolve(*src, w_.images[0]);
  ASSERT_TRUE(img);
  Descriptor cfg;
  cfg.digest = img->config_digest;
  cfg.size = img->config.size();
  cfg.media_type = img->config_media_type;
  for (const auto& [d, want] : {std::pair{img->layers[0], &w_.images[0].layer},
                                std::pair{cfg, &w_.images[0].config}}) {
    auto blob = src->OpenBlob(d);
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    auto got = Drain(**blob);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == *want) << d.digest.ToString();
  }
}

TEST_P(ImageSourceConformance, UnknownBlobIsNotFound) {
  auto src = Open();
  ASSERT_TRUE(src);
  ASSERT_TRUE(MustResolve(*src, w_.images[0]));
  Descriptor d;
  d.digest = Digest::Of("no such blob");
  d.size = 12;
  auto blob = src->OpenBlob(d);
  EXPECT_EQ(blob.status().code(), Status::Code::kNotFound) << blob.status().ToString();
}

TEST_P(ImageSourceConformance, BlobWhoseBytesDoNotMatchItsDigestFails) {
  Status g = GetParam().garble_layer(w_);
  ASSERT_TRUE(g.ok()) << g.ToString();
  auto src = Open();
  ASSERT_TRUE(src);
  const std::string& layer = w_.images[0].layer;
  // Resolve, the open or the stream fails; or (a source whose caller
  // verifies) it streams exactly what it holds, which fails that check.
  Status failed;
  std::string got;
  auto img = src->Resolve(Linux("amd64"));
  if (!img.ok()) {
    failed = img.status();
  } else if (auto blob = src->OpenBlob(img->layers.at(0)); !blob.ok()) {
    failed = blob.status();
  } else if (auto bytes = Drain(**blob); !bytes.ok()) {
    failed = bytes.status();
  } else {
    got = std::move(*bytes);
  }
  if (GetParam().verifies_blobs) {
    EXPECT_EQ(failed.code(), Status::Code::kCorruption) << failed.ToString();
    EXPECT_NE(failed.message().find(Digest::Of(layer).ToString()), std::string::npos)
        << failed.ToString();
  } else {
    ASSERT_TRUE(failed.ok()) << failed.ToString();
    EXPECT_TRUE(got == Garbled(layer));
    EXPECT_NE(Digest::Of(got), Digest::Of(layer));
  }
}

TEST_P(ImageSourceConformance, RangesReturnTheExactBytes) {
  auto src = Open();
  ASSERT_TRUE(src);
  auto img = MustResolve(*src, w_.images[0]);
  ASSERT_TRUE(img);
  const Descriptor& d = img->layers[0];
  const std::string& layer = w_.images[0].layer;
  if (!src->CanReadRanges()) {
    EXPECT_EQ(src->ReadBlobRange(d, 0, 10).status().code(), Status::Code::kUnsupported);
    return;
  }
  const std::vector<BlobRange> ranges = {
      {0, 1}, {100, 5000}, {512, 512}, {layer.size() - 10, 10}, {70000, 65536}};
  for (const auto& r : ranges) {
    auto got = src->ReadBlobRange(d, r.offset, r.length);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == layer.substr(r.offset, r.length)) << r.offset << "+" << r.length;
  }
  std::mutex mu;
  std::vector<std::string> got(ranges.size());
  Status s = src->ReadBlobRanges(d, ranges, [&](size_t i, std::string bytes) {
    std::lock_guard<std::mutex> l(mu);
    got[i] = std::move(bytes);
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (size_t i = 0; i < ranges.size(); i++)
    EXPECT_TRUE(got[i] == layer.substr(ranges[i].offset, ranges[i].length)) << i;
}

TEST_P(ImageSourceConformance, RangePastTheEndFails) {
  auto src = Open();
  ASSERT_TRUE(src);
  auto img = MustResolve(*src, w_.images[0]);
  ASSERT_TRUE(img);
  const Descriptor& d = img->layers[0];
  for (auto [off, len] : {std::pair<uint64_t, uint64_t>{d.size - 5, 10}, {d.size + 100, 10}}) {
    auto got = src->ReadBlobRange(d, off, len);
    EXPECT_FALSE(got.ok()) << off << "+" << len << " gave " << (got.ok() ? got->size() : 0)
                           << " bytes";
  }
}

INSTANTIATE_TEST_SUITE_P(All, ImageSourceConformance, ::testing::ValuesIn(Kinds()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace cfs::conformance
