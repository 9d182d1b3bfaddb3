// Chunk-level patches of big files: the plan (rootfs_patch.h), the stream
// (WritePatchStream) and the host script that applies it
// (deploy/host/patch_files.sh, run here with bash over a scratch rootfs, as
// sshd would run it on a host).
#include "deploy/rootfs_patch.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <random>

#include "base/io.h"
#include "layer/testing/layer_testing.h"
#include "deploy/host_scripts.h"

namespace cfs::deploy {
namespace {

constexpr size_t kChunk = 64 << 10;

using MemChunks = testing::MemoryChunks;

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// A one-layer stack: usr/bin/ with the given files, cut into 64 KiB chunks.
LayerStack Stack(MemChunks* chunks, const std::map<std::string, std::string>& files,
                 uint32_t mode = 0755) {
  auto toc = std::make_shared<LayerToc>();
  auto add = [&](EntryType t, const std::string& name) {
    TocEntry e;
    e.type = t;
    e.name = name;
    e.mode = t == EntryType::kDirectory ? 0755 : mode;
    e.uid = 12;
    e.gid = 34;
    e.mtime_sec = 1700000000;
    e.mtime_nsec = 123456789;
    toc->entries.push_back(e);
    return &toc->entries.back();
  };
  add(EntryType::kDirectory, "usr");
  add(EntryType::kDirectory, "usr/bin");
  for (const auto& [name, data] : files) {
    TocEntry* e = add(EntryType::kRegular, "usr/bin/" + name);
    e->size = data.size();
    e->first_chunk = toc->chunks.size();
    for (size_t at = 0; at < data.size(); at += kChunk) toc->chunks.push_back(chunks->Put(data.substr(at, kChunk)));
    e->num_chunks = toc->chunks.size() - e->first_chunk;
  }
  auto s = LayerStack::Build({toc});
  EXPECT_TRUE(s.ok());
  return std::move(*s);
}

RootfsPlan Plan(const LayerStack& stack, ChunkSource& chunks) {
  auto p = PlanRootfs(stack, chunks, {}, true);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(*p);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class RootfsPatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("/tmp", "rootfs-patch-");
    ASSERT_TRUE(t.ok());
    tmp_ = std::move(*t);
    old_bin_ = Random(3 << 20, 1);
    new_bin_ = old_bin_;
    new_bin_.replace(1 << 20, 256 << 10, Random(256 << 10, 2));  // chunk aligned: 4 chunks new
    new_bin_ += Random(100000, 3);                               // and a new tail
    ASSERT_EQ(::system(("mkdir -p " + tmp_.path() + "/rootfs/usr/bin").c_str()), 0);
    std::ofstream(tmp_.path() + "/rootfs/usr/bin/kubelet", std::ios::binary) << old_bin_;
    std::ofstream(tmp_.path() + "/patch_files.sh") << host_scripts::kPatchFiles;
  }

  // Runs patch_files.sh over the scratch rootfs with the patch stream of
  // `patches` on stdin; returns what it printed.
  std::string Apply(const LayerStack& stack, ChunkSource& chunks, const RootfsPlan& plan,
                    const std::vector<FilePatch>& patches) {
    const std::string stream = tmp_.path() + "/stream";
    int fd = ::open(stream.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    Status s = WritePatchStream(stack, chunks, plan, patches, "gzip", fd);
    EXPECT_TRUE(s.ok()) << s.ToString();
    const std::string out = tmp_.path() + "/out";
    const std::string cmd = "bash " + tmp_.path() + "/patch_files.sh " + tmp_.path() + "/rootfs " +
                            tmp_.path() + "/work gzip <" + stream + " >" + out;
    EXPECT_EQ(::system(cmd.c_str()), 0) << cmd;
    return ReadAll(out);
  }

  TempDir tmp_;
  std::string old_bin_, new_bin_;
};

TEST_F(RootfsPatchTest, ChunkListsRoundTripAndSkipSmallFiles) {
  MemChunks chunks;
  LayerStack v1 = Stack(&chunks, {{"kubelet", old_bin_}, {"small", "tiny"}});
  RootfsPlan plan = Plan(v1, chunks);
  auto lists = DecodeChunkLists(EncodeChunkLists(v1, plan));
  ASSERT_TRUE(lists.ok()) << lists.status().ToString();
  ASSERT_EQ(lists->size(), 1u);
  const auto& l = lists->at("usr/bin/kubelet");
  EXPECT_EQ(l.size(), (3u << 20) / kChunk);
  EXPECT_EQ(l[0].digest, Digest::Of(old_bin_.substr(0, kChunk)));
  EXPECT_FALSE(DecodeChunkLists("usr/bin/x\tzz:1\n").ok());
  EXPECT_FALSE(DecodeChunkLists("no tab\n").ok());
  EXPECT_FALSE(DecodeChunkLists("usr/bin/x\t" + std::string(64, 'a') + ":1").ok());  // no newline
}

TEST_F(RootfsPatchTest, OnlyTheNewChunksTravelAndTheHostRebuildsTheFile) {
  MemChunks chunks;
  LayerStack v1 = Stack(&chunks, {{"kubelet", old_bin_}});
  LayerStack v2 = Stack(&chunks, {{"kubelet", new_bin_}}, 04755);
  RootfsPlan p1 = Plan(v1, chunks), p2 = Plan(v2, chunks);
  auto old_lists = DecodeChunkLists(EncodeChunkLists(v1, p1));
  ASSERT_TRUE(old_lists.ok());
  auto rec = DecodeRecord(EncodeRecord(p1));
  ASSERT_TRUE(rec.ok());
  RootfsDelta delta = ComputeDelta(p2, *rec);
  const uint64_t whole = delta.send_bytes;
  std::vector<FilePatch> patches = PlanPatches(v2, p2, *old_lists, &delta);
  ASSERT_EQ(patches.size(), 1u);
  EXPECT_EQ(p2.entries[patches[0].entry].path, "usr/bin/kubelet");
  EXPECT_EQ(patches[0].new_bytes, (256u << 10) + 100000u);
  EXPECT_EQ(delta.send_bytes + new_bin_.size(), whole);
  // old [0,1M), new 256K, old [1.25M,3M), new tail
  ASSERT_EQ(patches[0].ranges.size(), 4u);
  EXPECT_TRUE(patches[0].ranges[0].from_old);
  EXPECT_EQ(patches[0].ranges[0].length, 1u << 20);
  EXPECT_FALSE(patches[0].ranges[1].from_old);

  EXPECT_EQ(Apply(v2, chunks, p2, patches), "");
  const std::string f = tmp_.path() + "/rootfs/usr/bin/kubelet";
  EXPECT_TRUE(ReadAll(f) == new_bin_) << "the rebuilt file differs";
  struct stat st;
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(st.st_uid, 12u);
  EXPECT_EQ(st.st_gid, 34u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1700000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123456789);
  EXPECT_NE(::access((f + ".cimg-patch").c_str(), F_OK), 0);
  EXPECT_NE(::access((tmp_.path() + "/work").c_str(), F_OK), 0) << "the work dir is left";
}

TEST_F(RootfsPatchTest, AHostCopyChangedSinceIsLeftAloneAndNamed) {
  MemChunks chunks;
  LayerStack v1 = Stack(&chunks, {{"kubelet", old_bin_}});
  LayerStack v2 = Stack(&chunks, {{"kubelet", new_bin_}});
  RootfsPlan p1 = Plan(v1, chunks), p2 = Plan(v2, chunks);
  auto old_lists = DecodeChunkLists(EncodeChunkLists(v1, p1));
  auto rec = DecodeRecord(EncodeRecord(p1));
  ASSERT_TRUE(old_lists.ok() && rec.ok());
  RootfsDelta delta = ComputeDelta(p2, *rec);
  std::vector<FilePatch> patches = PlanPatches(v2, p2, *old_lists, &delta);
  ASSERT_EQ(patches.size(), 1u);
  // Someone edited the host's copy: the rebuilt file would be wrong.
  const std::string f = tmp_.path() + "/rootfs/usr/bin/kubelet";
  std::string edited = old_bin_;
  edited[10] ^= 1;
  std::ofstream(f, std::ios::binary) << edited;
  EXPECT_EQ(Apply(v2, chunks, p2, patches), "usr/bin/kubelet\n");
  EXPECT_TRUE(ReadAll(f) == edited) << "the host's copy was touched";
  EXPECT_NE(::access((f + ".cimg-patch").c_str(), F_OK), 0);
  // And a file that is gone is named too.
  ASSERT_EQ(::unlink(f.c_str()), 0);
  EXPECT_EQ(Apply(v2, chunks, p2, patches), "usr/bin/kubelet\n");
}

TEST_F(RootfsPatchTest, MostlyNewFilesAndFilesWithoutAnOldListGoWhole) {
  MemChunks chunks;
  LayerStack v1 = Stack(&chunks, {{"kubelet", old_bin_}});
  LayerStack v2 = Stack(&chunks, {{"kubelet", Random(3 << 20, 9)}, {"kubeadm", Random(2 << 20, 8)}});
  RootfsPlan p1 = Plan(v1, chunks), p2 = Plan(v2, chunks);
  auto old_lists = DecodeChunkLists(EncodeChunkLists(v1, p1));
  auto rec = DecodeRecord(EncodeRecord(p1));
  ASSERT_TRUE(old_lists.ok() && rec.ok());
  RootfsDelta delta = ComputeDelta(p2, *rec);
  const size_t sent = delta.send.size();
  EXPECT_TRUE(PlanPatches(v2, p2, *old_lists, &delta).empty());
  EXPECT_EQ(delta.send.size(), sent);
}

}  // namespace
}  // namespace cfs::deploy
