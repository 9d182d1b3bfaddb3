// ChunkWriter::PutMany of the pack writer: dedup within a call, against
// earlier calls and against the index; records readable after indexing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "chunkstore/chunk_store.h"

namespace cfs {
namespace {

std::string Bytes(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(seed + i * 7 + i / 13);
  return s;
}

ChunkRef Ref(const std::string& data) {
  return ChunkRef{Digest::Of(data), static_cast<uint32_t>(data.size())};
}

class ChunkWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("/tmp", "chunk-writer-test");
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    ChunkStoreOptions o;
    o.root = dir_.path() + "/store";
    auto s = ChunkStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Syncs w and indexes the digests of data in one batch.
  void Commit(ChunkWriter& w, const std::vector<std::string>& data) {
    ASSERT_TRUE(w.Sync().ok());
    auto ix = store_->OpenWriter();
    ASSERT_TRUE(ix.ok());
    std::vector<Digest> ds;
    for (const auto& d : data) ds.push_back(Digest::Of(d));
    Index::Batch b;
    ASSERT_TRUE(w.IndexInto(**ix, ds, &b).ok());
    ASSERT_TRUE((*ix)->Write(b).ok());
  }
  TempDir dir_;
  std::unique_ptr<ChunkStore> store_;
};

TEST_F(ChunkWriterTest, PutManyStoresEachNewChunkOnce) {
  auto w = store_->NewWriter(nullptr);
  const std::vector<std::string> data = {Bytes(100, 'a'), Bytes(5000, 'b'), Bytes(1, 'c')};
  std::vector<ChunkPut> puts;
  for (const auto& d : data) puts.push_back({Digest::Of(d), d});
  puts.push_back({Digest::Of(data[1]), data[1]});  // a repeat in the same call
  auto st = w->PutMany(puts);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->chunks, 3u);
  EXPECT_GT(st->bytes, 3u * 48);
  // Again: the writer has them all.
  auto again = w->PutMany(puts);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->chunks, 0u);
  EXPECT_EQ(again->bytes, 0u);
  // Readable through the writer before indexing, and through the store after.
  auto mine = w->Over(nullptr);
  for (const auto& d : data) {
    auto got = mine->ReadChunk(Ref(d));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, d);
  }
  Commit(*w, data);
  auto src = store_->OpenSource();
  ASSERT_TRUE(src.ok());
  for (const auto& d : data) {
    auto got = (*src)->ReadChunk(Ref(d));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, d);
  }
}

TEST_F(ChunkWriterTest, PutManySkipsWhatTheIndexHas) {
  const std::string old_chunk = Bytes(3000, 'x'), new_chunk = Bytes(3000, 'y');
  {
    auto w = store_->NewWriter(nullptr);
    ASSERT_TRUE(w->PutMany({{Digest::Of(old_chunk), old_chunk}}).ok());
    Commit(*w, {old_chunk});
  }
  auto snapshot = store_->OpenReader();
  ASSERT_TRUE(snapshot.ok());
  auto w = store_->NewWriter(snapshot->get());
  auto st = w->PutMany({{Digest::Of(old_chunk), old_chunk}, {Digest::Of(new_chunk), new_chunk}});
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunks, 1u);  // only the new one
  auto lacking = w->Lacking({Digest::Of(old_chunk), Digest::Of(new_chunk)});
  ASSERT_TRUE(lacking.ok());
  EXPECT_TRUE(lacking->empty());
}

}  // namespace
}  // namespace cfs
