// The lazy fetch's Range reads over the in-memory fake registry: which
// missing chunks one read brings along (its file's, in blob order, gaps up to
// max_gap, at most max_request bytes, stopping at chunks the store holds),
// and that every byte served is the chunk's. (tests/conformance/ checks it as
// a ChunkSource beside the others; tests/integration/lazy_*.sh as a mount.)
#include "lazy/lazy_fetch.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "store/testing/temp_store.h"
#include "tests/conformance/conformance_util.h"

namespace cfs::lazy {
namespace {

using conformance::FakeClient;
using conformance::RandomBytes;
using registry::testing::FakeTransport;

constexpr char kRepo[] = "lib/app";

std::string Frame(const std::string& data) {
  std::string z(ZSTD_compressBound(data.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), data.data(), data.size(), 1));
  return z;
}

// A layer of files cut into chunks, as zstd frames in a blob served by the
// fake registry, with `gap` bytes of padding before chosen chunks.
class LazyFetchTest : public cfs::testing::TempStoreTest {
 protected:
  LazyFetchTest() : TempStoreTest("store") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempStoreTest::SetUp());
    opts_.tmp_dir = tmp_.path();
    opts_.max_gap = 1000;
    opts_.max_request = 35000;  // three frames of 10000 random bytes, not four
  }

  // A file of chunks of these sizes (0: an all-zeros chunk of 4096 bytes).
  void AddFile(const std::string& name, const std::vector<uint32_t>& sizes,
               const std::map<size_t, uint64_t>& gap_before = {}) {
    TocEntry e;
    e.name = name;
    e.first_chunk = static_cast<uint32_t>(toc_.chunks.size());
    e.num_chunks = static_cast<uint32_t>(sizes.size());
    for (size_t k = 0; k < sizes.size(); k++) {
      if (auto g = gap_before.find(k); g != gap_before.end())
        blob_ += RandomBytes(g->second, 1000 + static_cast<uint32_t>(blob_.size()));
      std::string data = sizes[k] ? RandomBytes(sizes[k], static_cast<uint32_t>(data_.size()))
                                  : std::string(4096, '\0');
      BlobChunk w;
      if (sizes[k] == 0) {
        w.zeros = true;
      } else {
        std::string z = Frame(data);
        w.offset = blob_.size();
        w.length = z.size();
        blob_ += z;
      }
      toc_.chunks.push_back({Digest::Of(data), static_cast<uint32_t>(data.size())});
      where_.push_back(w);
      data_.push_back(std::move(data));
    }
    toc_.entries.push_back(std::move(e));
  }

  // The lazy source over the layer made so far.
  void Open() {
    fake_ = std::make_shared<FakeTransport>();
    desc_.media_type = "application/vnd.oci.image.layer.v1.tar+zstd";
    desc_.digest = fake_->PutBlob(kRepo, blob_);
    desc_.size = blob_.size();
    auto stash = store_->OpenChunkStash();
    ASSERT_TRUE(stash.ok()) << stash.status().ToString();
    lazy_ = std::make_unique<LazyChunkSource>(std::move(*stash), opts_);
    lazy_->AddLayer(FakeClient(fake_), kRepo, desc_, std::make_shared<LayerToc>(toc_), where_);
  }

  // Reads chunk k and checks its bytes.
  void Read(size_t k) {
    auto r = lazy_->ReadChunk(toc_.chunks[k]);
    ASSERT_TRUE(r.ok()) << "chunk " << k << ": " << r.status().ToString();
    EXPECT_TRUE(*r == data_[k]) << "chunk " << k << " has other bytes";
  }

  // The Range header a read of chunks [first, last] sends.
  std::string RangeOf(size_t first, size_t last) const {
    return "Range: bytes=" + std::to_string(where_[first].offset) + "-" +
           std::to_string(where_[last].offset + where_[last].length - 1);
  }

  std::vector<std::string> RangeReads() {
    std::vector<std::string> out;
    for (const auto& line : fake_->Log())
      if (auto at = line.find("Range: "); at != std::string::npos) out.push_back(line.substr(at));
    return out;
  }

  LazyOptions opts_;
  std::string blob_;
  LayerToc toc_;
  std::vector<BlobChunk> where_;
  std::vector<std::string> data_;  // per chunk
  std::shared_ptr<FakeTransport> fake_;
  Descriptor desc_;
  std::unique_ptr<LazyChunkSource> lazy_;
};

TEST_F(LazyFetchTest, AReadBringsAlongTheRestOfItsFileOnly) {
  AddFile("a", {8000, 8000, 8000});
  AddFile("b", {8000, 8000});
  Open();
  Read(1);
  EXPECT_EQ(RangeReads(), std::vector<std::string>{RangeOf(1, 2)});
  EXPECT_EQ(lazy_->stats().chunks, 2u);
  Read(2);  // brought along: no request
  Read(0);  // before the chunk read first: a request of its own
  Read(3);  // another file
  Read(4);
  EXPECT_EQ(RangeReads(), (std::vector<std::string>{RangeOf(1, 2), RangeOf(0, 0), RangeOf(3, 4)}));
  EXPECT_EQ(lazy_->stats().requests, 3u);
  EXPECT_EQ(lazy_->stats().chunks, 5u);
}

TEST_F(LazyFetchTest, GapsUpToMaxGapAreReadThroughLongerOnesSplit) {
  AddFile("a", {5000, 5000, 5000, 5000}, {{2, 900}, {3, 1100}});
  Open();
  Read(0);
  Read(1);
  Read(2);
  Read(3);
  EXPECT_EQ(RangeReads(), (std::vector<std::string>{RangeOf(0, 2), RangeOf(3, 3)}));
}

TEST_F(LazyFetchTest, OneReadIsAtMostMaxRequestBytes) {
  AddFile("a", std::vector<uint32_t>(7, 10000));
  Open();
  for (size_t k = 0; k < 7; k++) Read(k);
  EXPECT_EQ(RangeReads(), (std::vector<std::string>{RangeOf(0, 2), RangeOf(3, 5), RangeOf(6, 6)}));
}

TEST_F(LazyFetchTest, AChunkTheStoreHoldsEndsTheRead) {
  AddFile("a", {6000, 6000, 6000, 6000, 6000});
  Open();
  Read(2);  // brings 3 and 4 along
  Read(0);  // brings 1 along, not the held 2
  for (size_t k = 0; k < 5; k++) Read(k);
  EXPECT_EQ(RangeReads(), (std::vector<std::string>{RangeOf(2, 4), RangeOf(0, 1)}));
  EXPECT_EQ(lazy_->stats().chunks, 5u);
}

TEST_F(LazyFetchTest, AllZerosChunksNeedNoRequestAndEndARead) {
  AddFile("a", {6000, 0, 6000});
  Open();
  Read(0);
  Read(1);
  EXPECT_TRUE(RangeReads() == std::vector<std::string>{RangeOf(0, 0)});
  Read(2);
  EXPECT_EQ(RangeReads(), (std::vector<std::string>{RangeOf(0, 0), RangeOf(2, 2)}));
}

TEST_F(LazyFetchTest, PrefetchMergesAcrossFiles) {
  AddFile("a", {3000, 3000});
  AddFile("b", {3000}, {{0, 500}});
  AddFile("c", {3000}, {{0, 5000}});  // past max_gap: a read of its own
  Open();
  lazy_->StartPrefetch();
  ASSERT_TRUE(lazy_->WaitPrefetch().ok());
  EXPECT_EQ(RangeReads(), (std::vector<std::string>{RangeOf(0, 2), RangeOf(3, 3)}));
  for (size_t k = 0; k < 4; k++) Read(k);  // all from the store now
  EXPECT_EQ(lazy_->stats().requests, 2u);
}

TEST_F(LazyFetchTest, AProfileFetchesItsChunksOnlyMergedThenInItsOrder) {
  AddFile("a", {3000, 3000});
  AddFile("b", {3000}, {{0, 500}});
  AddFile("c", {3000}, {{0, 5000}});
  opts_.profile_gap = 1000;
  Open();
  // a's chunks are neighbours (one read); b is not in the profile, and c is
  // more than profile_gap after a: a read of its own.
  lazy_->SetProfile({toc_.chunks[3], toc_.chunks[0], toc_.chunks[1]});
  ASSERT_TRUE(lazy_->has_profile());
  lazy_->StartPrefetch(false);
  ASSERT_TRUE(lazy_->WaitPrefetch().ok());
  std::vector<std::string> reads = RangeReads();  // (at once: in any order)
  std::sort(reads.begin(), reads.end());
  std::vector<std::string> want = {RangeOf(0, 1), RangeOf(3, 3)};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(reads, want);
  Read(0);
  Read(1);
  Read(3);
  EXPECT_EQ(lazy_->stats().requests, 2u);
  Read(2);  // not in the profile: fetched by the read
  EXPECT_EQ(lazy_->stats().requests, 3u);
}

TEST_F(LazyFetchTest, AProfileIsFetchedInItsOrderWindowByWindow) {
  AddFile("a", {3000});
  AddFile("b", {3000});
  AddFile("c", {3000});
  opts_.profile_window = 1;  // one chunk a window
  Open();
  lazy_->SetProfile({toc_.chunks[2], toc_.chunks[0], toc_.chunks[2], toc_.chunks[1]});
  lazy_->StartPrefetch(false);
  ASSERT_TRUE(lazy_->WaitPrefetch().ok());
  EXPECT_EQ(RangeReads(), (std::vector<std::string>{RangeOf(2, 2), RangeOf(0, 0), RangeOf(1, 1)}));
  for (size_t k = 0; k < 3; k++) Read(k);
  EXPECT_EQ(lazy_->stats().requests, 3u);
}

}  // namespace
}  // namespace cfs::lazy
