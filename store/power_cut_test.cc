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
#include "layer/layer_writer.h"
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

using StoreOp = std::function<Status(Store&)>;

struct Operation {
  std::string name;
  std::string prepared;  // the store the operation starts from ("": none)
  // Opens the store at root through env and works on it; may fail after the cut.
  std::function<Status(const std::string& root, Env* env)> run;
  std::function<void(Store&)> check;  // after a clean re-run
};

// An operation on an open store (opening an existing store syncs nothing).
std::function<Status(const std::string&, Env*)> OnStore(StoreOp op) {
  return [op](const std::string& root, Env* env) -> Status {
    ASSIGN_OR_RETURN(auto s, Store::Open(Options(root, env)));
    return op(*s);
  };
}

// Where the stores live: tmpfs when there is one (the Env decides what
// survives a cut, so real fsyncs only cost time), else /tmp.
std::string ScratchParent() { return PathExists("/dev/shm") ? "/dev/shm" : "/tmp"; }

class PowerCutTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = TempDir::Create(ScratchParent(), "power-cut-test-");
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

  // A fresh copy of op.prepared at the returned root.
  static std::string FreshCopy(const Operation& op) {
    std::string root = dir_->path() + "/run";
    fs::remove_all(root);
    if (!op.prepared.empty())
      fs::copy(dir_->path() + "/" + op.prepared, root, fs::copy_options::recursive);
    return root;
  }

  // Sync points of op, from a run with no cut.
  static uint64_t CountSyncs(const Operation& op) {
    std::string root = FreshCopy(op);
    FaultInjectionEnv env;
    Status st = op.run(root, &env);
    EXPECT_TRUE(st.ok()) << op.name << ": " << st.ToString();
    return env.syncs();
  }

  // One power cut at the k-th sync of op, then (a), (b) and (c). Returns
  // false when op ended before its k-th sync (no cut happened).
  static bool CutAt(const Operation& op, uint64_t k) {
    const std::string when = op.name + ", power cut at sync " + std::to_string(k);
    std::string root = FreshCopy(op);
    bool cut = false;
    {
      FaultInjectionEnv env;
      env.SetCutAt(k);
      (void)op.run(root, &env);  // fails (or ends) at the cut; the store is closed after
      cut = env.power_cut();
      Status dropped = env.DropUnsynced();
      EXPECT_TRUE(dropped.ok()) << when << ": " << dropped.ToString();
    }
    auto s = MustOpen(root);
    if (!s) return cut;
    ExpectFsckClean(*s, when + ", after the reboot");
    auto gc = s->Gc();
    EXPECT_TRUE(gc.ok()) << when << ": gc: " << gc.status().ToString();
    ExpectFsckClean(*s, when + ", after gc");
    Status again = op.run(root, Env::Default());
    EXPECT_TRUE(again.ok()) << when << ": re-run: " << again.ToString();
    if (again.ok()) op.check(*s);
    return cut;
  }

  // Every k from 1 until a run ends before its k-th sync, and at least to
  // the count of the counting run: RocksDB's background work (a compaction
  // finishing before or after a session closes) may add a sync or two.
  static void RunEveryCut(const Operation& op) {
    uint64_t n = CountSyncs(op);
    ASSERT_GT(n, 0u) << op.name;
    std::printf("power cut: %s has %llu sync points\n", op.name.c_str(),
                static_cast<unsigned long long>(n));
    std::fflush(stdout);
    for (uint64_t k = 1;; k++) {
      bool cut = CutAt(op, k);
      if (HasFailure() || (!cut && k > n)) return;
      ASSERT_LT(k, 4 * n) << op.name << ": the sync points do not end";
    }
  }

  static TempDir* dir_;
};

TempDir* PowerCutTest::dir_ = nullptr;

TEST_F(PowerCutTest, CreateStore) {
  RunEveryCut({"store creation", "",
               [](const std::string& root, Env* env) {
                 return Store::Open(Options(root, env)).status();
               },
               [](Store& s) {
                 EXPECT_TRUE(PathExists(s.root() + "/store.json"));
                 ExpectFsckClean(s, "created store");
               }});
}

TEST_F(PowerCutTest, Pull) {
  RunEveryCut({"pull", "empty", OnStore(PullA), [](Store& s) { ExpectImageReads(s, "a:1"); }});
}

TEST_F(PowerCutTest, BuildCommit) {
  const std::string tree = dir_->path() + "/tree-b";
  RunEveryCut({"build commit", "with-a",
               OnStore([tree](Store& s) { return BuildImage(s, tree, "b:1"); }),
               [](Store& s) {
                 ExpectImageReads(s, "b:1");
                 ExpectImageReads(s, "a:1");
               }});
}

TEST_F(PowerCutTest, Tag) {
  RunEveryCut({"tag", "with-a", OnStore([](Store& s) { return s.Tag("a:1", "a:2"); }),
               [](Store& s) {
                 auto a1 = s.Inspect("a:1");
                 auto a2 = s.Inspect("a:2");
                 ASSERT_TRUE(a1.ok() && a2.ok());
                 EXPECT_EQ(a1->summary.manifest_digest, a2->summary.manifest_digest);
               }});
}

TEST_F(PowerCutTest, Gc) {
  {  // gc really deletes here: b's own chunks, its layer and blobs
    const std::string probe = dir_->path() + "/gc-probe";
    fs::copy(dir_->path() + "/b-removed", probe, fs::copy_options::recursive);
    auto s = MustOpen(probe);
    ASSERT_TRUE(s);
    auto gc = s->Gc();
    ASSERT_TRUE(gc.ok()) << gc.status().ToString();
    EXPECT_GT(gc->chunks_removed, 0u);
    EXPECT_EQ(gc->layers_removed, 1u);
    EXPECT_GT(gc->blobs_removed, 0u);
  }
  RunEveryCut({"gc", "b-removed", OnStore([](Store& s) { return s.Gc().status(); }),
               [](Store& s) {
                 ExpectFsckClean(s, "gc re-run");
                 EXPECT_FALSE(s.Inspect("b:1").ok());
                 ExpectImageReads(s, "a:1");
               }});
}

}  // namespace
}  // namespace cfs
