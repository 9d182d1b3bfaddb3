// Power cuts at every sync point of a pull, a build commit, a tag and a gc.
//
// kill -9 never loses what is in the page cache; a power cut loses every
// write not yet synced. For each operation the test counts its sync points N
// (file syncs and directory syncs, RocksDB's included) with a counting run,
// then for every k in 1..N: a fresh copy of the prepared store is opened
// with a FaultInjectionEnv cut at the k-th sync, the operation runs (and may
// fail), the store is closed, the disk is put back into what the power cut
// left (DropUnsynced), and the store, reopened with the default Env, must
//  (a) pass fsck: every index entry points at bytes that are there and right
//      (garbage records are allowed, problems are not);
//  (b) let gc run, and pass fsck after it;
//  (c) let the operation run again to completion, with its result there.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "base/io.h"
#include "store/layer_writer.h"
#include "store/store.h"
#include "store/testing/fault_injection_env.h"

namespace cfs {
namespace {

namespace fs = std::filesystem;
using testing::FaultInjectionEnv;

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() % 16);  // compressible, like real files
  return s;
}

void Put(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string ConfigFor(const Digest& diff_id) {
  return nlohmann::json({{"architecture", "amd64"},
                         {"os", "linux"},
                         {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id.ToString()}}}}})
      .dump();
}

StoreOptions Options(const std::string& root, Env* env) {
  StoreOptions o;
  o.root = root;
  o.env = env;
  o.threads = 1;  // the same sync points on every run
  o.chunker = {2 << 10, 8 << 10, 32 << 10};  // many chunks from small files
  return o;
}

std::unique_ptr<Store> MustOpen(const std::string& root, Env* env = Env::Default()) {
  auto s = Store::Open(Options(root, env));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(*s) : nullptr;
}

// Imports dir as a layer and stores an image of it named name.
Status BuildImage(Store& s, const std::string& dir, const std::string& name) {
  std::unique_ptr<Store::Lease> lease;
  ASSIGN_OR_RETURN(LayerSummary l, s.ImportDirLayer(dir, nullptr, &lease));
  return s.CreateImage(name, ConfigFor(l.diff_id), "build:" + dir, {l}).status();
}

// The image's layers rebuild, chunk by chunk, into tars with their diffIDs.
void ExpectImageReads(Store& s, const std::string& name) {
  auto img = s.Inspect(name);
  ASSERT_TRUE(img.ok()) << name << ": " << img.status().ToString();
  auto chunks = s.OpenChunkSource();
  ASSERT_TRUE(chunks.ok()) << chunks.status().ToString();
  for (const auto& l : img->layers) {
    auto toc = s.GetLayerToc(l.diff_id);
    auto split = s.GetTarSplit(l.diff_id);
    ASSERT_TRUE(toc.ok() && split.ok()) << name << ": layer " << l.diff_id.ToString();
    CountingSink count;
    ForwardingSink hashed(&count, /*hash=*/true);
    Status st = WriteTar(*toc, *split, **chunks, hashed);
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
    EXPECT_EQ(hashed.Finish(), l.diff_id) << name;
  }
}

void ExpectFsckClean(Store& s, const std::string& when) {
  auto f = s.Fsck();
  ASSERT_TRUE(f.ok()) << when << ": " << f.status().ToString();
  for (const auto& p : f->problems) ADD_FAILURE() << when << ": fsck: " << p;
}

struct Operation {
  std::string name;
  std::string prepared;                    // the store the operation starts from
  std::function<Status(Store&)> run;       // may fail after the cut
  std::function<void(Store&)> check;       // after a clean re-run
};

class PowerCutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = TempDir::Create("/tmp", "power-cut-test-");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    dir_ = new TempDir(std::move(*t));
    const std::string d = dir_->path();
    Put(d + "/tree-a/etc/hello", "hello\n");
    Put(d + "/tree-a/bin/big", Random(96 << 10, 1));
    Put(d + "/tree-a/bin/other", Random(40 << 10, 2));
    // b shares bin/big with a (shared chunks), and has a file of its own.
    Put(d + "/tree-b/bin/big", Random(96 << 10, 1));
    Put(d + "/tree-b/opt/new", Random(48 << 10, 3));
    // The OCI layout pulled from: written by the store itself.
    {
      auto scratch = MustOpen(d + "/scratch");
      ASSERT_TRUE(scratch);
      ASSERT_TRUE(BuildImage(*scratch, d + "/tree-a", "a:1").ok());
      Status s = scratch->Push("a:1", "oci:" + d + "/oci-a:t", PushOptions());
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    Prepare();
  }
  static void TearDownTestSuite() { delete dir_; }

  // The prepared stores: empty, with a pulled, with a and b and b removed.
  static void Prepare() {
    const std::string d = dir_->path();
    ASSERT_TRUE(MustOpen(d + "/empty"));
    fs::copy(d + "/empty", d + "/with-a", fs::copy_options::recursive);
    {
      auto s = MustOpen(d + "/with-a");
      ASSERT_TRUE(PullA(*s).ok());
    }
    fs::copy(d + "/with-a", d + "/b-removed", fs::copy_options::recursive);
    auto s = MustOpen(d + "/b-removed");
    ASSERT_TRUE(BuildImage(*s, d + "/tree-b", "b:1").ok());
    ASSERT_TRUE(s->Remove("b:1").ok());
  }

  static Status PullA(Store& s) {
    PullOptions o;
    o.as_name = "a:1";
    return s.Pull("oci:" + dir_->path() + "/oci-a:t", o).status();
  }

  // A fresh copy of op.prepared at `root`.
  static std::string FreshCopy(const Operation& op) {
    std::string root = dir_->path() + "/run";
    fs::remove_all(root);
    fs::copy(dir_->path() + "/" + op.prepared, root, fs::copy_options::recursive);
    return root;
  }

  // Sync points of op, from a run with no cut.
  static uint64_t CountSyncs(const Operation& op) {
    std::string root = FreshCopy(op);
    FaultInjectionEnv env;
    auto s = MustOpen(root, &env);
    if (!s) return 0;
    uint64_t base = env.syncs();
    Status st = op.run(*s);
    EXPECT_TRUE(st.ok()) << op.name << ": " << st.ToString();
    return env.syncs() - base;
  }

  // One power cut at the k-th sync of op, then (a), (b) and (c).
  static void CutAt(const Operation& op, uint64_t k) {
    const std::string when = op.name + ", power cut at sync " + std::to_string(k);
    std::string root = FreshCopy(op);
    {
      FaultInjectionEnv env;
      {
        auto s = MustOpen(root, &env);
        ASSERT_TRUE(s) << when;
        env.SetCutAt(env.syncs() + k);
        (void)op.run(*s);  // fails, or finished before the cut went through
        EXPECT_TRUE(env.power_cut()) << when << ": the operation never reached that sync";
      }
      Status dropped = env.DropUnsynced();
      ASSERT_TRUE(dropped.ok()) << when << ": " << dropped.ToString();
    }
    auto s = MustOpen(root);
    ASSERT_TRUE(s) << when;
    ExpectFsckClean(*s, when + ", after the reboot");
    auto gc = s->Gc();
    ASSERT_TRUE(gc.ok()) << when << ": gc: " << gc.status().ToString();
    ExpectFsckClean(*s, when + ", after gc");
    Status again = op.run(*s);
    ASSERT_TRUE(again.ok()) << when << ": re-run: " << again.ToString();
    op.check(*s);
  }

  static void RunEveryCut(const Operation& op) {
    uint64_t n = CountSyncs(op);
    ASSERT_GT(n, 0u) << op.name;
    std::printf("power cut: %s has %llu sync points\n", op.name.c_str(),
                static_cast<unsigned long long>(n));
    std::fflush(stdout);
    for (uint64_t k = 1; k <= n; k++) {
      CutAt(op, k);
      if (HasFatalFailure()) return;
    }
  }

  static TempDir* dir_;
};

TempDir* PowerCutTest::dir_ = nullptr;

TEST_F(PowerCutTest, Pull) {
  RunEveryCut({"pull", "empty", PullA, [](Store& s) { ExpectImageReads(s, "a:1"); }});
}

TEST_F(PowerCutTest, BuildCommit) {
  const std::string tree = dir_->path() + "/tree-b";
  RunEveryCut({"build commit", "with-a",
               [tree](Store& s) { return BuildImage(s, tree, "b:1"); },
               [](Store& s) {
                 ExpectImageReads(s, "b:1");
                 ExpectImageReads(s, "a:1");
               }});
}

TEST_F(PowerCutTest, Tag) {
  RunEveryCut({"tag", "with-a", [](Store& s) { return s.Tag("a:1", "a:2"); },
               [](Store& s) {
                 auto a1 = s.Inspect("a:1");
                 auto a2 = s.Inspect("a:2");
                 ASSERT_TRUE(a1.ok() && a2.ok());
                 EXPECT_EQ(a1->summary.manifest_digest, a2->summary.manifest_digest);
               }});
}

TEST_F(PowerCutTest, Gc) {
  RunEveryCut({"gc", "b-removed", [](Store& s) { return s.Gc().status(); },
               [](Store& s) {
                 ExpectFsckClean(s, "gc re-run");
                 EXPECT_FALSE(s.Inspect("b:1").ok());
                 ExpectImageReads(s, "a:1");
               }});
}

}  // namespace
}  // namespace cfs
