// Delta bundles (Store::SaveDelta / LoadDelta) between two real stores: the
// images keep their digests, only what the base lacks travels, volumes load
// in any order, and a bundle that is incomplete, damaged or meant for another
// store is refused with nothing left behind.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <fstream>
#include <random>

#include "base/io.h"
#include "store/store.h"
#include "store/testing/temp_store.h"

namespace cfs {
namespace {

using nlohmann::json;

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

void PutFile(const std::string& path, const std::string& data) {
  ASSERT_EQ(::system(("mkdir -p \"$(dirname '" + path + "')\"").c_str()), 0);
  std::ofstream(path, std::ios::binary) << data;
}

uint64_t FileSize(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// Two stores, a_ (the sender) and b_ (the receiver).
class DeltaTest : public testing::TempStoreTest {
 protected:
  DeltaTest() : TempStoreTest(/*store_dir=*/"") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempStoreTest::SetUp());
    a_ = OpenStore("a");
    b_ = OpenStore("b");
    // OLD: a base layer and a 4 MiB binary; NEW: the same base, the binary
    // with 1 MiB changed in its middle.
    std::string bin = Random(4 << 20, 7);
    Digest base = Layer("base", {{"opt/base.bin", Random(2 << 20, 3)}});
    Digest old_bin = Layer("bin1", {{"usr/bin/kubelet", bin}});
    bin.replace(3 << 19, 1 << 20, Random(1 << 20, 9));
    Digest new_bin = Layer("bin2", {{"usr/bin/kubelet", bin}});
    Image("app:v1", {base, old_bin});
    Image("app:v2", {base, new_bin});
    // The receiving store holds OLD, by way of an ordinary archive.
    ASSERT_TRUE(a_->Save({"app:v1"}, Path("v1.tar"), PushOptions{}).ok());
    auto r = b_->Load(Path("v1.tar"), PullOptions{});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  Digest Layer(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [rel, data] : files) PutFile(Path(dir + "/" + rel), data);
    auto l = a_->ImportDirLayer(Path(dir), nullptr);
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    return l.ok() ? l->diff_id : Digest{};
  }

  void Image(const std::string& name, const std::vector<Digest>& layers) {
    json ids = json::array();
    for (const auto& d : layers) ids.push_back(d.ToString());
    json cfg = {{"architecture", "amd64"}, {"os", "linux"},
                {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}}};
    auto r = a_->CreateImage(name, cfg.dump(), "test");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  DeltaSaveReport MustSave(uint64_t split = 0, const std::string& file = "delta.tar") {
    DeltaSaveOptions o;
    o.since = "app:v1";
    o.split_size = split;
    auto r = a_->SaveDelta({"app:v2"}, Path(file), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : DeltaSaveReport{};
  }

  // b_ holds no app:v2 and its store is clean.
  void ExpectUntouched() {
    EXPECT_FALSE(b_->Inspect("app:v2").ok());
    auto f = b_->Fsck();
    ASSERT_TRUE(f.ok());
    EXPECT_TRUE(f->problems.empty());
  }

  std::unique_ptr<Store> a_, b_;
};

TEST_F(DeltaTest, RoundTripKeepsEveryDigestAndSendsOnlyWhatTheBaseLacks) {
  DeltaSaveReport rep = MustSave();
  EXPECT_EQ(rep.layers_sent, 1u);
  EXPECT_EQ(rep.layers_in_base, 1u);
  EXPECT_GT(rep.chunks_in_base, 0u);
  // 1 MiB changed in a 4 MiB file of random bytes: the chunks around the
  // change travel (at most a chunk more on each side), not the file, and
  // not the base layer.
  EXPECT_LT(rep.bytes, (1u << 20) + 2 * (256u << 10) + (64u << 10)) << "bundle of " << rep.bytes;
  EXPECT_GT(rep.bytes, 1u << 20);
  ASSERT_EQ(rep.files.size(), 1u);
  EXPECT_EQ(FileSize(rep.files[0]), rep.bytes);

  auto loaded = b_->LoadDelta(rep.files, PullOptions{});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].name, "app:v2");
  EXPECT_EQ((*loaded)[0].layers_reused, 1u);

  auto want = a_->Inspect("app:v2");
  auto got = b_->Inspect("app:v2");
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_EQ(got->summary.manifest_digest, want->summary.manifest_digest);
  EXPECT_EQ(got->summary.image_id, want->summary.image_id);
  EXPECT_EQ(got->manifest, want->manifest);
  EXPECT_EQ(got->config, want->config);
  ASSERT_EQ(got->layers.size(), 2u);
  for (size_t i = 0; i < 2; i++) EXPECT_EQ(got->layers[i].diff_id, want->layers[i].diff_id);
  // The same image out of both stores: identical layouts, byte for byte.
  ASSERT_TRUE(a_->Push("app:v2", "oci:" + Path("out-a"), PushOptions{}).ok());
  ASSERT_TRUE(b_->Push("app:v2", "oci:" + Path("out-b"), PushOptions{}).ok());
  EXPECT_EQ(::system(("diff -r " + Path("out-a") + " " + Path("out-b")).c_str()), 0);
  auto f = b_->Fsck();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->problems.empty()) << f->problems[0];
}

TEST_F(DeltaTest, AStoreWithoutTheBaseRefusesItByName) {
  DeltaSaveReport rep = MustSave();
  auto c = OpenStore("c");
  auto r = c->LoadDelta(rep.files, PullOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("app:v1"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("lacks"), std::string::npos) << r.status().message();
  auto list = c->ListImages();
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->empty());
}

TEST_F(DeltaTest, SplitVolumesStayUnderTheSizeAndLoadInAnyOrder) {
  DeltaSaveReport rep = MustSave(1 << 20, "vol.tar");
  ASSERT_GE(rep.files.size(), 2u);
  uint64_t sum = 0;
  for (size_t i = 0; i < rep.files.size(); i++) {
    char suffix[8];
    std::snprintf(suffix, sizeof suffix, ".%03zu", i + 1);
    EXPECT_EQ(rep.files[i], Path("vol.tar") + suffix);
    EXPECT_LE(FileSize(rep.files[i]), 1u << 20) << rep.files[i];
    sum += FileSize(rep.files[i]);
  }
  EXPECT_EQ(sum, rep.bytes);

  std::vector<std::string> reversed(rep.files.rbegin(), rep.files.rend());
  std::vector<std::string> missing(rep.files.begin(), rep.files.end() - 1);
  auto r = b_->LoadDelta(missing, PullOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("volume " + std::to_string(rep.files.size()) + " is missing"),
            std::string::npos)
      << r.status().message();
  std::vector<std::string> twice = rep.files;
  twice.push_back(rep.files[0]);
  r = b_->LoadDelta(twice, PullOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("given twice"), std::string::npos) << r.status().message();
  ExpectUntouched();

  r = b_->LoadDelta(reversed, PullOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto got = b_->Inspect("app:v2");
  auto want = a_->Inspect("app:v2");
  ASSERT_TRUE(got.ok() && want.ok());
  EXPECT_EQ(got->summary.manifest_digest, want->summary.manifest_digest);
}

TEST_F(DeltaTest, AVolumeOfAnotherBundleIsRefused) {
  DeltaSaveReport one = MustSave(1 << 20, "one.tar");
  // Another bundle: against v2 itself (nothing to send but the metadata).
  DeltaSaveOptions o;
  o.since = "app:v2";
  o.split_size = 1 << 20;
  auto other = a_->SaveDelta({"app:v1"}, Path("other.tar"), o);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  std::vector<std::string> mixed = {one.files[0], other->files[0]};
  auto r = b_->LoadDelta(mixed, PullOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("another delta bundle"), std::string::npos)
      << r.status().message();
  ExpectUntouched();
}

TEST_F(DeltaTest, DamagedOrTruncatedBundlesAreRefusedWithNothingIndexed) {
  DeltaSaveReport rep = MustSave();
  std::string bytes;
  {
    std::ifstream in(rep.files[0], std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 200000u);
  // A flipped byte in the chunk data (past the metadata, before the end).
  std::string flipped = bytes;
  flipped[bytes.size() - 100000] ^= 0x40;
  PutFile(Path("flipped.tar"), flipped);
  auto r = b_->LoadDelta({Path("flipped.tar")}, PullOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();
  ExpectUntouched();
  // Cut short: the end marker is gone, or the tar itself is.
  for (size_t keep : {bytes.size() - 2048, bytes.size() / 2}) {
    PutFile(Path("cut.tar"), bytes.substr(0, keep));
    r = b_->LoadDelta({Path("cut.tar")}, PullOptions{});
    ASSERT_FALSE(r.ok()) << "kept " << keep;
    EXPECT_NE(r.status().message().find("cut.tar"), std::string::npos) << r.status().message();
    ExpectUntouched();
  }
}

TEST_F(DeltaTest, OptionsAreChecked) {
  DeltaSaveOptions o;
  o.since = "app:v1";
  o.split_size = 1000;
  auto r = a_->SaveDelta({"app:v2"}, Path("x.tar"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("--split-size"), std::string::npos);
  o.split_size = 0;
  o.since = "nope:1";
  r = a_->SaveDelta({"app:v2"}, Path("x.tar"), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nope"), std::string::npos);
  EXPECT_FALSE(Store::IsDeltaBundle(Path("v1.tar")));
  DeltaSaveReport rep = MustSave();
  EXPECT_TRUE(Store::IsDeltaBundle(rep.files[0]));
  EXPECT_EQ(FileSize(Path("x.tar")), 0u) << "a refused save leaves no file";
}

}  // namespace
}  // namespace cfs
