// A lazy mount's plan over the in-memory fake registry: the TOC of each
// zstd:chunked layer with one Range request, never the tar-split; the
// partial record says it has no tar-split; every chunk reads back; a pull
// afterwards fetches the tar-split and stores the same image (digests,
// fsck clean) as a pull into an empty store.
#include "lazy/lazy_plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "layer/zstd_chunked_reader.h"
#include "registry/pull.h"
#include "registry/push.h"
#include "store/testing/temp_store.h"
#include "tests/conformance/conformance_util.h"

namespace cfs::lazy {
namespace {

using conformance::FakeClient;
using conformance::RandomBytes;
using registry::testing::FakeTransport;

class LazyPlanTest : public cfs::testing::TempStoreTest {
 protected:
  LazyPlanTest() : TempStoreTest(/*store_dir=*/"") {}
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempStoreTest::SetUp());
    // A two-layer image, pushed (zstd:chunked) to the fake registry.
    std::vector<std::map<std::string, std::string>> layers = {
        {{"etc/hello", "hello\n"}, {"bin/big", RandomBytes(3 << 19, 1)}},
        {{"usr/a", RandomBytes(200 << 10, 2)}, {"usr/b", "b\n"}}};
    auto w = OciLayoutWriter::Create(tmp_.path() + "/layout");
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    std::string diff_ids, descs;
    for (const auto& files : layers) {
      auto tar = conformance::LayerTar(tmp_.path(), files);
      ASSERT_TRUE(tar.ok()) << tar.status().ToString();
      Digest d = Digest::Of(*tar);
      ASSERT_TRUE((*w)->PutBlob(d, *tar).ok());
      diff_ids += std::string(diff_ids.empty() ? "" : ",") + "\"" + d.ToString() + "\"";
      descs += std::string(descs.empty() ? "" : ",") +
               R"({"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" + d.ToString() +
               R"(","size":)" + std::to_string(tar->size()) + "}";
    }
    std::string cfg = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[)" +
                      diff_ids + "]}}";
    ASSERT_TRUE((*w)->PutBlob(Digest::Of(cfg), cfg).ok());
    std::string man = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                      Digest::Of(cfg).ToString() + R"(","size":)" + std::to_string(cfg.size()) +
                      R"(},"layers":[)" + descs + "]}";
    Descriptor md;
    md.media_type = "application/vnd.oci.image.manifest.v1+json";
    md.digest = Digest::Of(man);
    md.size = man.size();
    ASSERT_TRUE((*w)->PutManifest(md, man, "t").ok());
    ASSERT_TRUE((*w)->Finish().ok());
    src_ = OpenStore("src");
    PullOptions po;
    po.as_name = "app:t";
    auto pulled = src_->Pull("oci:" + tmp_.path() + "/layout:t", po);
    ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
    want_ = pulled->image;
    fake_ = std::make_shared<FakeTransport>();
    auto ref = registry::Reference::Parse("fake.test/lib/app:t");
    ASSERT_TRUE(ref.ok());
    ref_ = *ref;
    registry::PushToRegistryOptions pusho;
    pusho.client = FakeClient(fake_);
    auto pushed = registry::PushToRegistry(*src_, "app:t", ref_, pusho);
    ASSERT_TRUE(pushed.ok()) << pushed.status().ToString();
  }

  // The zstd:chunked positions of each layer, from the registry's manifest.
  std::vector<ChunkedPositions> Positions() {
    auto c = FakeClient(fake_);
    auto src = registry::OpenRegistrySource(c, ref_, tmp_.path());
    EXPECT_TRUE(src.ok());
    auto img = (*src)->Resolve(Platform::Host());
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    std::vector<ChunkedPositions> out;
    for (const auto& d : img->layers) {
      auto p = ChunkedPositionsOf(d.annotations, d.size, "layer");
      EXPECT_TRUE(p.ok() && p->has_value()) << d.digest.ToString();
      if (p.ok() && p->has_value()) out.push_back(**p);
    }
    return out;
  }

  // The Range headers of the exchanges after the first `skip`.
  std::vector<std::string> RangeReads(size_t skip) {
    std::vector<std::string> out;
    const auto log = fake_->Log();
    for (size_t i = skip; i < log.size(); i++)
      if (auto at = log[i].find("Range: "); at != std::string::npos) out.push_back(log[i].substr(at));
    return out;
  }

  std::unique_ptr<Store> src_;
  ImageDetails want_;
  std::shared_ptr<FakeTransport> fake_;
  registry::Reference ref_;
};

TEST_F(LazyPlanTest, FetchesTheTocsAloneThenAPullStoresTheSameImage) {
  auto store = OpenStore("lazy");
  auto stash = store->OpenChunkStash();
  ASSERT_TRUE(stash.ok()) << stash.status().ToString();
  LazyOptions lo;
  lo.tmp_dir = tmp_.path();
  LazyChunkSource lazy(std::move(*stash), lo);
  LazyPlanOptions po;
  po.connected = FakeClient(fake_);
  po.tmp_dir = tmp_.path();
  const auto pos = Positions();
  ASSERT_EQ(pos.size(), 2u);
  const size_t before = fake_->Log().size();
  auto image = PlanLazyImage(*store, lazy, ref_, po);
  ASSERT_TRUE(image.ok()) << image.status().ToString();

  // One Range request per layer: exactly its TOC.
  std::vector<std::string> want_ranges;
  for (const auto& p : pos)
    want_ranges.push_back("Range: bytes=" + std::to_string(p.toc_offset) + "-" +
                          std::to_string(p.toc_offset + p.toc_length - 1));
  std::vector<std::string> got = RangeReads(before);
  std::sort(got.begin(), got.end());
  std::sort(want_ranges.begin(), want_ranges.end());
  EXPECT_EQ(got, want_ranges);
  for (size_t i = 0; i < 2; i++) {
    auto partial = store->GetPartialLayer(want_.layers[i].diff_id);
    ASSERT_TRUE(partial.ok() && partial->has_value()) << i;
    EXPECT_FALSE((*partial)->has_split);
    EXPECT_EQ((*partial)->toc.chunks.size(), (*partial)->where.size());
    auto has = store->HasLayer(want_.layers[i].diff_id);
    ASSERT_TRUE(has.ok());
    EXPECT_FALSE(*has) << "a layer known from its TOC alone is recorded complete";
    // Every chunk reads back, verified, from the registry.
    for (const ChunkRef& c : (*partial)->toc.chunks) {
      auto bytes = lazy.ReadChunk(c);
      ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
      EXPECT_EQ(Digest::Of(*bytes), c.digest);
    }
  }
  lazy.StartPrefetch();  // nothing left to fetch: stores what the reads fetched
  ASSERT_TRUE(lazy.WaitPrefetch().ok());
  EXPECT_EQ(RangeReads(before).size(), 2u + lazy.stats().requests);
  auto report = store->Fsck();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();

  // A pull now fetches the tar-splits (and no chunk) and stores the image
  // with the source's digests; the partial records are gone.
  registry::PullFromRegistryOptions pullo;
  pullo.client = FakeClient(fake_);
  auto pulled = registry::PullFromRegistry(*store, ref_.ToString(), pullo);
  ASSERT_TRUE(pulled.ok()) << pulled.status().ToString();
  EXPECT_EQ(pulled->image.summary.image_id, want_.summary.image_id);
  ASSERT_EQ(pulled->image.layers.size(), 2u);
  for (size_t i = 0; i < 2; i++) {
    EXPECT_EQ(pulled->image.layers[i].diff_id, want_.layers[i].diff_id);
    auto partial = store->GetPartialLayer(want_.layers[i].diff_id);
    ASSERT_TRUE(partial.ok());
    EXPECT_FALSE(partial->has_value());
    auto toc = store->GetLayerToc(want_.layers[i].diff_id);
    auto split = store->GetTarSplit(want_.layers[i].diff_id);
    auto want_toc = src_->GetLayerToc(want_.layers[i].diff_id);
    auto want_split = src_->GetTarSplit(want_.layers[i].diff_id);
    ASSERT_TRUE(toc.ok() && split.ok() && want_toc.ok() && want_split.ok());
    // (An entry without data has no chunk position: the import's TOC
    // gives it the next chunk's index, a chunked pull 0.)
    for (LayerToc* t : {&*toc, &*want_toc})
      for (TocEntry& e : t->entries)
        if (e.num_chunks == 0) e.first_chunk = 0;
    EXPECT_TRUE(*toc == *want_toc) << "layer " << i << ": another TOC than the source's";
    EXPECT_EQ(*split, *want_split);
  }
  EXPECT_EQ(pulled->image.chunks_new, 0u) << "the pull fetched chunks the lazy reads had stored";
  report = store->Fsck();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front();
}

}  // namespace
}  // namespace cfs::lazy
