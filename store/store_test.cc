// Store conformance: ingest -> read -> dedup -> delete -> gc -> corruption
// -> crash garbage -> concurrent writers, through the public API.
#include "store/store.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "base/io.h"
#include "chunkstore/chunk_store.h"
#include "chunkstore/pack.h"  // white-box: the pack format
#include "store/testing/temp_store.h"

namespace cfs {
namespace {

using nlohmann::json;

std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << cmd;
  return out;
}

void Put(const std::string& path, const std::string& data) {
  Sh("mkdir -p \"$(dirname '" + path + "')\"");
  std::ofstream(path, std::ios::binary) << data;
}

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Writes an OCI layout at dir with one image "t" whose single layer is the
// uncompressed tar of tree. Returns the layer tar bytes.
std::string MakeLayout(const std::string& tree, const std::string& dir) {
  Sh("mkdir -p " + dir + "/blobs/sha256");
  std::string tar = Sh("tar -C " + tree + " --sort=name --owner=0 --group=0 --mtime=@0 -cf - .");
  auto put = [&](const std::string& b) {
    Digest d = Digest::Of(b);
    std::ofstream(dir + "/blobs/sha256/" + d.Hex(), std::ios::binary) << b;
    return d;
  };
  Digest ld = put(tar);
  std::string cfg = json({{"architecture", "amd64"},
                          {"os", "linux"},
                          {"rootfs", {{"type", "layers"}, {"diff_ids", {ld.ToString()}}}}})
                        .dump();
  Digest cd = put(cfg);
  std::string man =
      json({{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", cd.ToString()},
              {"size", cfg.size()}}},
            {"layers",
             {{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
               {"digest", ld.ToString()},
               {"size", tar.size()}}}}})
          .dump();
  Digest md = put(man);
  std::ofstream(dir + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  std::ofstream(dir + "/index.json")
      << json({{"schemaVersion", 2},
               {"manifests",
                {{{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                  {"digest", md.ToString()},
                  {"size", man.size()},
                  {"annotations", {{"org.opencontainers.image.ref.name", "t"}}}}}}})
             .dump();
  return tar;
}

class StoreTest : public testing::TempStoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempStoreTest::SetUp());
    Put(tmp_.path() + "/a/etc/hello", "hello\n");
    Put(tmp_.path() + "/a/bin/big", Random(3 << 20, 1));
    Put(tmp_.path() + "/a/bin/other", Random(700 << 10, 2));
    tar_a_ = MakeLayout(tmp_.path() + "/a", tmp_.path() + "/oci-a");
  }
  PullResult MustPull(Store& s, const std::string& dir, const std::string& as) {
    PullOptions o;
    o.as_name = as;
    auto r = s.Pull("oci:" + dir + ":t", o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : PullResult{};
  }
  std::string ExportTar(Store& s, const Digest& diff_id) {
    auto toc = s.GetLayerToc(diff_id);
    auto split = s.GetTarSplit(diff_id);
    auto src = s.OpenChunkSource();
    EXPECT_TRUE(toc.ok() && split.ok() && src.ok());
    std::string out;
    StringSink sink(&out);
    Status st = WriteTar(*toc, *split, **src, sink);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
  uint64_t PackBytes() {
    return std::stoull(Sh("du -sb " + tmp_.path() + "/root/packs | cut -f1"));
  }

  std::string tar_a_;
};

TEST_F(StoreTest, IngestAndReadBackByteForByte) {
  auto r = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  ASSERT_EQ(r.image.layers.size(), 1u);
  EXPECT_EQ(r.image.layers[0].diff_id, Digest::Of(tar_a_));
  EXPECT_EQ(ExportTar(*store_, r.image.layers[0].diff_id), tar_a_);
  auto f = store_->Fsck();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->problems.empty());
  EXPECT_EQ(f->chunks_checked, r.image.chunks_total);
}

TEST_F(StoreTest, SharedContentIsStoredOnce) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  uint64_t before = PackBytes();
  // b: the same files plus one small new file, as one new layer.
  Sh("cp -a " + tmp_.path() + "/a " + tmp_.path() + "/b");
  Put(tmp_.path() + "/b/etc/new", "new file\n");
  MakeLayout(tmp_.path() + "/b", tmp_.path() + "/oci-b");
  auto b = MustPull(*store_, tmp_.path() + "/oci-b", "b:1");
  EXPECT_GT(b.image.chunks_total, 10u);
  EXPECT_LE(b.image.chunks_new, 2u);  // the new file (and nothing else)
  EXPECT_LT(PackBytes() - before, 64u << 10);
  // Pulling the same image again reads no layer at all.
  auto again = MustPull(*store_, tmp_.path() + "/oci-a", "a:2");
  EXPECT_EQ(again.layers_reused, 1u);
  EXPECT_EQ(again.image.chunks_new, 0u);
}

TEST_F(StoreTest, RemoveThenGcReclaimsAndKeepsOthers) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  Put(tmp_.path() + "/c/data", Random(2 << 20, 9));
  MakeLayout(tmp_.path() + "/c", tmp_.path() + "/oci-c");
  auto c = MustPull(*store_, tmp_.path() + "/oci-c", "c:1");
  ASSERT_TRUE(store_->Remove("c:1").ok());
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->layers_removed, 1u);
  EXPECT_GE(g->chunks_removed, c.image.chunks_total);
  EXPECT_GT(g->bytes_reclaimed, 1u << 20);
  EXPECT_TRUE(store_->GetLayerToc(c.image.layers[0].diff_id).status().IsNotFound());
  EXPECT_EQ(ExportTar(*store_, a.image.layers[0].diff_id), tar_a_);
  auto f = store_->Fsck();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->problems.empty()) << f->problems[0];
  EXPECT_EQ(f->garbage_records, 0u);
}

TEST_F(StoreTest, LeaseKeepsLayersThroughGc) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  Digest id = a.image.layers[0].diff_id;
  {
    auto lease = store_->TakeLease({id});
    ASSERT_TRUE(lease.ok());
    ASSERT_TRUE(store_->Remove("a:1").ok());
    ASSERT_TRUE(store_->Gc().ok());
    EXPECT_EQ(ExportTar(*store_, id), tar_a_);  // still whole
  }
  ASSERT_TRUE(store_->Gc().ok());
  EXPECT_TRUE(store_->GetLayerToc(id).status().IsNotFound());
}

TEST_F(StoreTest, CorruptChunkIsNeverServed) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  std::string pack = Sh("ls " + tmp_.path() + "/root/packs/*.pack | head -1");
  pack.pop_back();
  // Flip a byte inside the first record's frame.
  std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
  char hdr[kRecordHeaderSize];
  f.seekg(kPackHeaderSize);
  f.read(hdr, sizeof hdr);
  Digest victim = Digest::FromRaw(std::string_view(hdr + 16, 32));
  f.seekg(kPackHeaderSize + kRecordHeaderSize + 20);
  char c;
  f.read(&c, 1);
  c ^= 0x40;
  f.seekp(kPackHeaderSize + kRecordHeaderSize + 20);
  f.write(&c, 1);
  f.close();
  auto fs = store_->Fsck();
  ASSERT_TRUE(fs.ok());
  ASSERT_FALSE(fs->problems.empty());
  bool named = false;
  for (const auto& p : fs->problems) named |= p.find(victim.ToString()) != std::string::npos;
  EXPECT_TRUE(named);
  auto toc = store_->GetLayerToc(a.image.layers[0].diff_id);
  auto src = store_->OpenChunkSource();
  ASSERT_TRUE(toc.ok() && src.ok());
  for (const auto& ch : toc->chunks)
    if (ch.digest == victim) {
      auto r = (*src)->ReadChunk(ch);
      EXPECT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
    }
  std::string out;
  StringSink sink(&out);
  EXPECT_FALSE(WriteTar(*toc, *store_->GetTarSplit(a.image.layers[0].diff_id), **src, sink).ok());
}

// Packs are read through shared mappings: a pack cut short under a reader
// (cimg never does this; a user or a failing disk might) must fail those
// reads with an error, not kill the process with SIGBUS.
TEST_F(StoreTest, PackTruncatedUnderAReaderFailsReadsNotTheProcess) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  auto toc = store_->GetLayerToc(a.image.layers[0].diff_id);
  auto src = store_->OpenChunkSource();
  ASSERT_TRUE(toc.ok() && src.ok());
  ASSERT_GT(toc->chunks.size(), 8u);
  for (const auto& ch : toc->chunks) {
    std::string out(ch.size, '\0');
    ASSERT_TRUE((*src)->ReadChunkInto(ch, out.data()).ok());  // every pack mapped now
  }
  std::string pack = Sh("ls " + tmp_.path() + "/root/packs/*.pack | head -1");
  pack.pop_back();
  ASSERT_EQ(::truncate(pack.c_str(), 4096), 0);
  Sh("sync; echo 1 > /proc/sys/vm/drop_caches || true");
  size_t failed = 0, faulted = 0;
  for (const auto& ch : toc->chunks) {
    std::string out(ch.size, '\0');
    Status st = (*src)->ReadChunkInto(ch, out.data());
    if (!st.ok()) {
      ++failed;
      EXPECT_NE(st.message().find(ch.digest.ToString()), std::string::npos) << st.ToString();
      faulted += st.message().find("truncated while mapped") != std::string::npos;
    }
  }
  EXPECT_GT(failed, toc->chunks.size() / 2);
  EXPECT_GT(faulted, 0u);  // the old mapping's pages are gone: SIGBUS, caught
  // A reader opened afterwards sees the short file at once.
  auto src2 = store_->OpenChunkSource();
  ASSERT_TRUE(src2.ok());
  auto r = (*src2)->ReadChunk(toc->chunks.back());
  EXPECT_FALSE(r.ok());
}

TEST_F(StoreTest, UncommittedPackRecordsAreGarbageNotErrors) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  {
    // What a crashed import leaves: records in a pack, never indexed.
    PackWriter w(tmp_.path() + "/root/packs");
    std::string data = "orphan";
    ASSERT_TRUE(w.Append(Digest::Of(data), "not-a-frame", 6).ok());
    ASSERT_TRUE(w.Sync().ok());
  }
  auto f = store_->Fsck();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->problems.empty());
  EXPECT_EQ(f->garbage_records, 1u);
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->packs_removed, 1u);
  f = store_->Fsck();
  EXPECT_EQ(f->garbage_records, 0u);
  EXPECT_EQ(ExportTar(*store_, a.image.layers[0].diff_id), tar_a_);
}

// gc refuses, deleting nothing, when a pack header fails its check (one
// byte of the pack id flipped: before, gc unlinked the whole pack); repair
// rewrites the header from the file name.
TEST_F(StoreTest, GcRefusesADamagedPackHeaderAndRepairRestoresIt) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  std::string pack = Sh("ls " + tmp_.path() + "/root/packs/*.pack | head -1");
  pack.pop_back();
  std::string before = Sh("sha256sum " + pack);
  Sh("printf '\\377' | dd of=" + pack + " bs=1 seek=9 conv=notrunc status=none");
  auto g = store_->Gc();
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("gc refused, nothing deleted"), std::string::npos)
      << g.status().message();
  EXPECT_NE(Sh("sha256sum " + pack), before);  // still damaged, still there
  auto f = store_->Fsck();
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->problems.empty());
  auto r = store_->Repair();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Sh("sha256sum " + pack), before);
  ASSERT_TRUE(store_->Gc().ok());
  EXPECT_EQ(ExportTar(*store_, a.image.layers[0].diff_id), tar_a_);
}

// A record's length inflated: the walk stops there. Before, gc took that
// for a torn tail and cut every intact record after it.
TEST_F(StoreTest, GcNeverCutsPastADamagedRecord) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  std::string pack = Sh("ls " + tmp_.path() + "/root/packs/*.pack | head -1");
  pack.pop_back();
  std::fstream f(pack, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t off = kPackHeaderSize;
  char hdr[kRecordHeaderSize];
  for (int i = 0; i < 5; i++) {  // the sixth record
    f.seekg(static_cast<std::streamoff>(off));
    f.read(hdr, sizeof hdr);
    uint32_t clen;
    std::memcpy(&clen, hdr + 4, 4);
    off += kRecordHeaderSize + clen;
  }
  f.seekg(static_cast<std::streamoff>(off + 4));
  uint32_t clen;
  f.read(reinterpret_cast<char*>(&clen), 4);
  uint32_t inflated = clen + 100000000;
  f.seekp(static_cast<std::streamoff>(off + 4));
  f.write(reinterpret_cast<const char*>(&inflated), 4);
  f.close();
  uint64_t size = std::stoull(Sh("stat -c %s " + pack));
  auto g = store_->Gc();
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("damaged record"), std::string::npos) << g.status().message();
  EXPECT_EQ(std::stoull(Sh("stat -c %s " + pack)), size);
  auto r = store_->Repair();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->chunks_relinked, 1u);
  ASSERT_TRUE(store_->Gc().ok());
  auto fs = store_->Fsck();
  ASSERT_TRUE(fs.ok());
  EXPECT_TRUE(fs->problems.empty()) << fs->problems[0];
  EXPECT_EQ(ExportTar(*store_, a.image.layers[0].diff_id), tar_a_);
}

// Opening never creates an index over existing packs.
TEST_F(StoreTest, AStoreWhoseIndexVanishedIsRefused) {
  MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  store_.reset();
  std::string root = tmp_.path() + "/root";
  Sh("mv " + root + "/index/CURRENT " + root + "/CURRENT.saved");
  StoreOptions o;
  o.root = root;
  auto s = Store::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("index"), std::string::npos) << s.status().message();
  EXPECT_FALSE(PathExists(root + "/index/CURRENT"));
  ASSERT_TRUE(Index::RestoreCurrent(root).ok());
  store_ = OpenStore("root");
  auto f = store_->Fsck();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->problems.empty());
  EXPECT_EQ(store_->ListImages()->size(), 1u);
}

TEST_F(StoreTest, ConcurrentWritersShareOneRoot) {
  std::vector<std::string> dirs;
  for (int i = 0; i < 4; i++) {
    std::string t = tmp_.path() + "/t" + std::to_string(i);
    Put(t + "/shared", Random(1 << 20, 77));
    Put(t + "/own", Random(1 << 20, 100 + i));
    MakeLayout(t, tmp_.path() + "/oci-t" + std::to_string(i));
    dirs.push_back(tmp_.path() + "/oci-t" + std::to_string(i));
  }
  std::vector<std::thread> threads;
  std::vector<Status> results(4);
  for (int i = 0; i < 4; i++)
    threads.emplace_back([&, i] {
      auto s = OpenStore("root");  // each its own Store, as separate processes would
      PullOptions o;
      o.as_name = "t:" + std::to_string(i);
      auto r = s->Pull("oci:" + dirs[i] + ":t", o);
      results[i] = r.status();
    });
  for (auto& t : threads) t.join();
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.ToString();
  auto list = store_->ListImages();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 4u);
  auto f = store_->Fsck();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->problems.empty());
}

TEST_F(StoreTest, NamesResolveByTagDigestAndIdPrefix) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "repo/a");
  EXPECT_EQ(a.name, "repo/a:latest");
  ASSERT_TRUE(store_->Tag("repo/a", "other:v2").ok());
  auto by_id = store_->Inspect(a.image.summary.image_id.Hex().substr(0, 8));
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->summary.names.size(), 2u);
  EXPECT_TRUE(store_->Inspect(a.image.summary.manifest_digest.ToString()).ok());
  EXPECT_TRUE(store_->Inspect("nope:1").status().IsNotFound());
  EXPECT_FALSE(NormalizeImageName("Bad/Name").ok());
  EXPECT_FALSE(store_->Tag("repo/a", "x y").ok());
  auto removed = store_->Remove("other:v2");
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(store_->Inspect("repo/a").ok());
}

TEST_F(StoreTest, RemoveByIdNamesTheTagsUnlessForced) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "repo/a:1");
  ASSERT_TRUE(store_->Tag("repo/a:1", "other:v2").ok());
  const std::string id = a.image.summary.image_id.Hex().substr(0, 12);
  auto refused = store_->Remove(id);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("2 names (other:v2, repo/a:1); use -f"), std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(store_->Inspect("other:v2").ok());  // nothing removed
  auto removed = store_->Remove(id, /*force=*/true);
  ASSERT_TRUE(removed.ok()) << removed.status().message();
  EXPECT_EQ(*removed, (std::vector<std::string>{"other:v2", "repo/a:1"}));
  EXPECT_TRUE(store_->Inspect(id).status().IsNotFound());
}

TEST_F(StoreTest, PushReportsTheManifestDigestWritten) {
  MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  Digest written;
  PushOptions o;
  o.compression = Compression::kGzip;
  ASSERT_TRUE(store_->Push("a:1", "oci:" + tmp_.path() + "/out:t", o, &written).ok());
  std::ifstream f(tmp_.path() + "/out/index.json");
  auto index = nlohmann::json::parse(f);
  EXPECT_EQ(written.ToString(), index["manifests"][0]["digest"].get<std::string>());
}

}  // namespace
}  // namespace cfs

namespace cfs {
namespace {

// store/referrers.cc: an artifact lives in the image's record: gc keeps it
// with the image, a re-pull of the same manifest keeps it, one per type,
// and gc drops it with the image.
TEST_F(StoreTest, ArtifactsLiveAndDieWithTheirImage) {
  auto a = MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  auto r = store_->AttachArtifact("a:1", "application/spdx+json", "{\"spdx\":1}", "2026-01-01T00:00:00Z");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto r2 = store_->AttachArtifact("a:1", "application/spdx+json", "{\"spdx\":2}");
  ASSERT_TRUE(r2.ok());
  ASSERT_TRUE(store_->AttachArtifact("a:1", "application/vnd.cyclonedx+json", "{\"cdx\":1}").ok());
  auto man = store_->ReadBlob(r2->manifest);
  ASSERT_TRUE(man.ok());
  json m = json::parse(*man);
  EXPECT_EQ(m["artifactType"], "application/spdx+json");
  EXPECT_EQ(m["subject"]["digest"], a.image.summary.manifest_digest.ToString());
  EXPECT_EQ(m["subject"]["size"], a.image.manifest.size());
  EXPECT_EQ(m["config"]["mediaType"], kEmptyConfigMediaType);
  EXPECT_EQ(m["layers"][0]["digest"], Digest::Of("{\"spdx\":2}").ToString());
  MustPull(*store_, tmp_.path() + "/oci-a", "a:1");  // stored again: the artifacts stay
  auto d = store_->Inspect("a:1");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->referrers.size(), 2u);  // the second spdx replaced the first
  EXPECT_EQ(d->referrers[0].artifact_type, "application/spdx+json");
  EXPECT_EQ(d->referrers[0].blob, Digest::Of("{\"spdx\":2}"));
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->blobs_removed, 2u);  // the replaced artifact's manifest and blob
  EXPECT_EQ(*store_->ReadBlob(r2->blob), "{\"spdx\":2}");
  auto f = store_->Fsck();  // checks the artifacts' records too
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->problems.empty()) << f->problems[0];
  ASSERT_TRUE(store_->Remove("a:1").ok());
  g = store_->Gc();
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->blobs_removed, 2u + 2u * 2u + 1u);  // manifest, config, 2 artifacts, the empty config
  EXPECT_TRUE(store_->ReadBlob(r2->blob).status().IsNotFound());
}

// An image's artifacts travel with it through oci:, oci-archive: and save as
// untagged index.json entries with an artifactType and a subject (the
// manifest written), and come back with a pull or load into another store.
TEST_F(StoreTest, ArtifactsTravelThroughOciLayouts) {
  MustPull(*store_, tmp_.path() + "/oci-a", "a:1");
  ASSERT_TRUE(store_->AttachArtifact("a:1", "application/spdx+json", "{\"spdx\":1}").ok());
  Digest written;
  const std::string out = tmp_.path() + "/out";
  ASSERT_TRUE(store_->Push("a:1", "oci:" + out + ":t", {}, &written).ok());
  ASSERT_TRUE(store_->Push("a:1", "oci:" + out + ":t", {}, &written).ok());  // listed once still
  std::ifstream f(out + "/index.json");
  auto index = nlohmann::json::parse(f);
  ASSERT_EQ(index["manifests"].size(), 2u) << index.dump();
  const json& art = index["manifests"][1];
  EXPECT_EQ(art["artifactType"], "application/spdx+json");
  EXPECT_FALSE(art.contains("annotations"));  // no tag: not an image to pick
  std::ifstream mf(out + "/blobs/sha256/" + art["digest"].get<std::string>().substr(7));
  auto m = nlohmann::json::parse(mf);
  EXPECT_EQ(m["subject"]["digest"], written.ToString());
  ASSERT_TRUE(store_->Push("a:1", "oci-archive:" + tmp_.path() + "/out.tar:t", {}, nullptr).ok());
  ASSERT_TRUE(store_->Save({"a:1"}, tmp_.path() + "/saved.tar", {}).ok());

  StoreOptions o;
  o.root = tmp_.path() + "/root2";
  auto other = Store::Open(o);
  ASSERT_TRUE(other.ok());
  PullOptions po;
  po.as_name = "b:1";
  ASSERT_TRUE((*other)->Pull("oci:" + out, po).ok());  // the only image: the referrer is none
  po.as_name = "c:1";
  ASSERT_TRUE((*other)->Pull("oci-archive:" + tmp_.path() + "/out.tar", po).ok());
  auto loaded = (*other)->Load(tmp_.path() + "/saved.tar", {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->size(), 1u);
  for (const char* name : {"b:1", "c:1", "a:1"}) {
    auto d = (*other)->Inspect(name);
    ASSERT_TRUE(d.ok()) << name << ": " << d.status().ToString();
    ASSERT_EQ(d->referrers.size(), 1u) << name;
    EXPECT_EQ(d->referrers[0].artifact_type, "application/spdx+json");
    EXPECT_EQ(*(*other)->ReadBlob(d->referrers[0].blob), "{\"spdx\":1}");
    auto am = json::parse(*(*other)->ReadBlob(d->referrers[0].manifest));
    EXPECT_EQ(am["subject"]["digest"], d->summary.manifest_digest.ToString()) << name;
  }
  auto fsck = (*other)->Fsck();
  ASSERT_TRUE(fsck.ok());
  EXPECT_TRUE(fsck->problems.empty()) << fsck->problems[0];
}

}  // namespace
}  // namespace cfs
