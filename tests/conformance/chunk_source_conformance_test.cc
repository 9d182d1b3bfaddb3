// Every ChunkSource implementation passes the same cases: the store's
// (Store::OpenChunkSource), the lazy-mount stash (Store::ChunkStash), and
// lazy/'s remote source (lazy_fetch.h) over the in-memory fake registry.
// (fs/chunk_cache.h's ChunkCache sits in front of a ChunkSource but is not
// one; store/pull_chunked.cc's overlay source is private to a pull.)
#include <gtest/gtest.h>
#include <zstd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "lazy/lazy_fetch.h"
#include "layer/zstd_chunked_reader.h"
#include "store/store.h"
#include "store/testing/temp_store.h"
#include "tests/conformance/conformance_util.h"

namespace cfs::conformance {
namespace {

using registry::testing::FakeTransport;

constexpr char kRepo[] = "lib/app";

// An image in a store, the chunks of its layer, and their bytes as cut from
// the files (not as any source returns them).
struct ChunkWorld {
  TempDir tmp;
  std::map<std::string, std::string> files;
  std::unique_ptr<Store> store;
  LayerToc toc;
  std::map<Digest, std::string> expect;
  // The remote side, made by PrepareRemote(): the layer as a zstd:chunked
  // blob in the fake registry, and an empty store for the lazy source.
  std::shared_ptr<FakeTransport> fake;
  std::unique_ptr<Store> empty_store;
  Descriptor zdesc;
  ChunkedLayer zlayer;

  Status Build();
  Status PrepareRemote();
};

Status ChunkWorld::Build() {
  ASSIGN_OR_RETURN(tmp, TempDir::Create("/tmp", "chunk-conformance-"));
  files = {{"etc/hello", "hello\n"},
           {"bin/big", RandomBytes(3 << 19, 1)},
           {"bin/other", RandomBytes(300 << 10, 2)}};
  ASSIGN_OR_RETURN(std::string tar, LayerTar(tmp.path(), files));
  ASSIGN_OR_RETURN(auto w, OciLayoutWriter::Create(tmp.path() + "/layout"));
  Digest layer = Digest::Of(tar);
  RETURN_IF_ERROR(w->PutBlob(layer, tar));
  std::string cfg = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                    layer.ToString() + R"("]}})";
  RETURN_IF_ERROR(w->PutBlob(Digest::Of(cfg), cfg));
  std::string man = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
                    R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
                    Digest::Of(cfg).ToString() + R"(","size":)" + std::to_string(cfg.size()) +
                    R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
                    layer.ToString() + R"(","size":)" + std::to_string(tar.size()) + "}]}";
  Descriptor md;
  md.media_type = "application/vnd.oci.image.manifest.v1+json";
  md.digest = Digest::Of(man);
  md.size = man.size();
  RETURN_IF_ERROR(w->PutManifest(md, man, "t"));
  RETURN_IF_ERROR(w->Finish());
  ASSIGN_OR_RETURN(store, testing::OpenStoreAt(tmp.path() + "/store"));
  PullOptions po;
  po.as_name = "app:t";
  ASSIGN_OR_RETURN(PullResult pulled, store->Pull("oci:" + tmp.path() + "/layout:t", po));
  ASSIGN_OR_RETURN(toc, store->GetLayerToc(pulled.image.layers.at(0).diff_id));
  for (const auto& e : toc.entries) {
    if (e.num_chunks == 0) continue;
    const std::string& content = files.at(e.name);
    uint64_t off = 0;
    for (uint32_t k = e.first_chunk; k < e.first_chunk + e.num_chunks; k++) {
      expect[toc.chunks[k].digest] = content.substr(off, toc.chunks[k].size);
      off += toc.chunks[k].size;
    }
  }
  if (expect.size() < 4) return Status::Invalid("too few chunks for the suite");
  return Status::Ok();
}

Status ChunkWorld::PrepareRemote() {
  if (fake) return Status::Ok();
  const std::string zref = "oci:" + tmp.path() + "/zlayout:z";
  RETURN_IF_ERROR(store->Push("app:t", zref, PushOptions{}));  // zstd:chunked
  ASSIGN_OR_RETURN(auto src, OpenImageSource(zref, tmp.path()));
  ASSIGN_OR_RETURN(SourceImage img, src->Resolve(Platform::Host()));
  zdesc = img.layers.at(0);
  ASSIGN_OR_RETURN(auto blob_src, src->OpenBlob(zdesc));
  ASSIGN_OR_RETURN(std::string blob, Drain(*blob_src));
  ASSIGN_OR_RETURN(std::optional<ChunkedPositions> pos, ChunkedPositionsOf(zdesc.annotations, zdesc.size, "layer"));
  if (!pos) return Status::Invalid("pushed layer is not zstd:chunked");
  ASSIGN_OR_RETURN(zlayer, FetchChunkedMetadata(
                                  [&](uint64_t off, uint64_t len) {
                                    return src->ReadBlobRange(zdesc, off, len);
                                  },
                                  zdesc.size, *pos, img.diff_ids.at(0), "layer"));
  if (zlayer.toc.chunks != toc.chunks) return Status::Invalid("chunked TOC differs from the store's");
  fake = std::make_shared<FakeTransport>();
  fake->PutBlob(kRepo, blob);
  ASSIGN_OR_RETURN(empty_store, testing::OpenStoreAt(tmp.path() + "/empty-store"));
  return Status::Ok();
}

// One implementation under test.
struct SourceKind {
  std::string name;
  std::function<Result<std::unique_ptr<ChunkSource>>(ChunkWorld&)> open;
  // Makes what the source reads hold wrong bytes for one chunk (before
  // open); returns that chunk.
  std::function<Result<ChunkRef>(ChunkWorld&)> corrupt;
  // What a chunk the source has never seen gives: NotFound, except for the
  // store's own source, where a chunk a layer needs and the index lacks is a
  // damaged store (Corruption: EIO through FUSE, never ENOENT).
  Status::Code unknown = Status::Code::kNotFound;
};

void PrintTo(const SourceKind& k, std::ostream* os) { *os << k.name; }

// A frame decoding to other bytes than its chunk's, added through a stash.
Result<ChunkRef> CorruptThroughStash(ChunkWorld& w) {
  std::string good = RandomBytes(5000, 9), bad = good;
  bad[1234] ^= 0x20;
  ChunkRef c{Digest::Of(good), static_cast<uint32_t>(good.size())};
  std::string z(ZSTD_compressBound(bad.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), bad.data(), bad.size(), 1));
  ASSIGN_OR_RETURN(auto stash, w.store->OpenChunkStash());
  RETURN_IF_ERROR(stash->Add(c, z));
  RETURN_IF_ERROR(stash->Flush());
  return c;
}

// The registry's blob with a byte flipped inside the largest chunk's frame.
Result<ChunkRef> CorruptRegistryBlob(ChunkWorld& w) {
  RETURN_IF_ERROR(w.PrepareRemote());
  size_t k = 0;
  for (size_t i = 0; i < w.zlayer.where.size(); i++)
    if (w.zlayer.where[i].length > w.zlayer.where[k].length) k = i;
  std::string blob = *w.fake->Blob(kRepo, w.zdesc.digest);
  blob[w.zlayer.where[k].offset + w.zlayer.where[k].length / 2] ^= 0x01;
  w.fake->PutRawBlob(kRepo, w.zdesc.digest, blob);
  return w.zlayer.toc.chunks[k];
}

Result<std::unique_ptr<ChunkSource>> OpenLazy(ChunkWorld& w) {
  RETURN_IF_ERROR(w.PrepareRemote());
  ASSIGN_OR_RETURN(auto stash, w.empty_store->OpenChunkStash());
  lazy::LazyOptions lo;
  lo.tmp_dir = w.tmp.path();
  auto lazy = std::make_unique<lazy::LazyChunkSource>(std::move(stash), lo);
  auto client = FakeClient(w.fake);
  if (!client) return Status::Unavailable("no client for the fake registry");
  lazy->AddLayer(client, kRepo, w.zdesc, std::make_shared<LayerToc>(w.zlayer.toc),
                 w.zlayer.where);
  return std::unique_ptr<ChunkSource>(std::move(lazy));
}

std::vector<SourceKind> Kinds() {
  return {
      {"StoreChunkSource", [](ChunkWorld& w) { return w.store->OpenChunkSource(); },
       CorruptThroughStash, Status::Code::kCorruption},
      {"StoreChunkStash",
       [](ChunkWorld& w) -> Result<std::unique_ptr<ChunkSource>> {
         ASSIGN_OR_RETURN(auto s, w.store->OpenChunkStash());
         return std::unique_ptr<ChunkSource>(std::move(s));
       },
       CorruptThroughStash},
      {"RegistryLazyChunkSource", OpenLazy, CorruptRegistryBlob},
  };
}

std::string Decompress(const std::string& frame, size_t size) {
  std::string out(size, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != size) return "<not a frame of " + std::to_string(size) + " bytes>";
  return out;
}

class ChunkSourceConformance : public ::testing::TestWithParam<SourceKind> {
 protected:
  void SetUp() override {
    Status s = w_.Build();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::unique_ptr<ChunkSource> Open() {
    auto s = GetParam().open(w_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  ChunkWorld w_;
};

TEST_P(ChunkSourceConformance, KnownChunksReadBackByteExact) {
  auto src = Open();
  ASSERT_TRUE(src);
  for (const ChunkRef& c : w_.toc.chunks) {
    const std::string& want = w_.expect.at(c.digest);
    auto got = src->ReadChunk(c);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == want) << c.digest.ToString();
    std::string into(c.size, '\0');
    Status s = src->ReadChunkInto(c, into.data());
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(into == want) << c.digest.ToString();
    auto frame = src->ReadFrame(c);
    ASSERT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_TRUE(Decompress(*frame, c.size) == want) << c.digest.ToString();
  }
}

TEST_P(ChunkSourceConformance, UnknownChunkIsNotFound) {
  auto src = Open();
  ASSERT_TRUE(src);
  const Status::Code want = GetParam().unknown;
  ChunkRef unknown{Digest::Of("a chunk nobody stored"), 21};
  auto r = src->ReadChunk(unknown);
  EXPECT_EQ(r.status().code(), want) << r.status().ToString();
  EXPECT_NE(r.status().message().find(unknown.digest.ToString()), std::string::npos)
      << r.status().ToString();
  std::string into(unknown.size, '\0');
  EXPECT_EQ(src->ReadChunkInto(unknown, into.data()).code(), want);
  EXPECT_EQ(src->ReadFrame(unknown).status().code(), want);
}

TEST_P(ChunkSourceConformance, WrongBytesAreNeverReturned) {
  auto bad = GetParam().corrupt(w_);
  ASSERT_TRUE(bad.ok()) << bad.status().ToString();
  auto src = Open();
  ASSERT_TRUE(src);
  auto r = src->ReadChunk(*bad);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find(bad->digest.ToString()), std::string::npos)
      << r.status().ToString();
  std::string into(bad->size, '\0');
  EXPECT_EQ(src->ReadChunkInto(*bad, into.data()).code(), Status::Code::kCorruption);
  EXPECT_EQ(src->ReadFrame(*bad).status().code(), Status::Code::kCorruption);
}

TEST_P(ChunkSourceConformance, ConcurrentReadsAgree) {
  auto src = Open();
  ASSERT_TRUE(src);
  const auto& chunks = w_.toc.chunks;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < chunks.size(); i++) {
        const ChunkRef& c = chunks[(i + t * chunks.size() / 4) % chunks.size()];
        auto got = t % 2 ? src->ReadChunk(c) : src->ReadFrame(c);
        if (!got.ok()) {
          failed++;
        } else if ((t % 2 ? *got : Decompress(*got, c.size)) != w_.expect.at(c.digest)) {
          wrong++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(All, ChunkSourceConformance, ::testing::ValuesIn(Kinds()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace cfs::conformance
