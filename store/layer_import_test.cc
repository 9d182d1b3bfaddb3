// LayerImporter: chunks of many small files and of large ones, cut in
// batches handed to worker tasks, come out exactly as the chunker cuts each
// file alone, stored once, readable, and in the TOC in tar order.
#include "layer_import.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "chunkstore/chunk_store.h"

namespace cfs {
namespace {

// One ustar entry (header and padded payload) of a regular file or dir.
std::string TarEntry(const std::string& name, const std::string& data, char type = '0') {
  char h[512] = {};
  std::snprintf(h, 100, "%s", name.c_str());
  std::snprintf(h + 100, 8, "%07o", type == '5' ? 0755 : 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(data.size()));
  std::snprintf(h + 136, 12, "%011o", 1700000000);
  h[156] = type;
  std::memcpy(h + 257, "ustar\0" "00", 8);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  std::string out(h, sizeof h);
  out += data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

std::string Content(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// The chunk sizes the chunker gives data on its own.
std::vector<uint32_t> Cuts(const Chunker& c, const std::string& data) {
  std::vector<uint32_t> out;
  for (size_t pos = 0; pos < data.size();) {
    size_t n = std::min<size_t>(data.size() - pos, c.params().max_size);
    size_t len = c.NextCut(reinterpret_cast<const uint8_t*>(data.data()) + pos, n);
    out.push_back(static_cast<uint32_t>(len));
    pos += len;
  }
  return out;
}

TEST(LayerImporterTest, BatchedChunksMatchTheChunkerPerFile) {
  auto dir = TempDir::Create("/tmp", "layer-import-test");
  ASSERT_TRUE(dir.ok());
  ChunkStoreOptions o;
  o.root = dir->path() + "/store";
  auto store = ChunkStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  // Files: many small ones (several batches of them), repeats, empty ones,
  // and large ones of several chunks that straddle batch boundaries.
  std::vector<std::pair<std::string, std::string>> files;
  for (int i = 0; i < 900; i++) {
    size_t size = (i * 7919) % 6000;
    if (i % 50 == 7) size = 700000 + i * 1000;
    const bool repeat = i % 97 == 3;  // the same 3000 bytes, 10 times
    files.emplace_back("d/f" + std::to_string(i), repeat ? Content(3000, 3) : Content(size, i + 1));
  }
  std::string tar = TarEntry("d/", "", '5');
  for (const auto& [name, data] : files) tar += TarEntry(name, data);
  tar.append(1024, '\0');

  auto writer = (*store)->NewWriter(nullptr);
  LayerImporter importer((*store)->chunker(), writer.get(), 2);
  MemorySource src(tar);
  auto r = importer.Import(src, Digest(), Digest::Of(tar), "test layer", nullptr, tar.size());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->toc.entries.size(), files.size() + 1);
  EXPECT_EQ(r->toc.tar_size, tar.size());
  auto chunks = writer->Over(nullptr);
  for (size_t i = 0; i < files.size(); i++) {
    const TocEntry& e = r->toc.entries[i + 1];
    ASSERT_EQ(e.name, files[i].first);
    std::vector<uint32_t> sizes;
    std::string back;
    for (uint32_t k = 0; k < e.num_chunks; k++) {
      const ChunkRef& c = r->toc.chunks[e.first_chunk + k];
      sizes.push_back(c.size);
      auto data = chunks->ReadChunk(c);
      ASSERT_TRUE(data.ok()) << e.name << ": " << data.status().ToString();
      back += *data;
    }
    EXPECT_EQ(sizes, Cuts((*store)->chunker(), files[i].second)) << e.name;
    EXPECT_EQ(back, files[i].second) << e.name;
  }
  EXPECT_EQ(r->chunks_new, DistinctChunks(r->toc).size());
  EXPECT_LT(r->chunks_new, r->toc.chunks.size());  // the repeated files stored once
}

TEST(LayerImporterTest, TruncatedTarFailsWithTheEntryName) {
  auto dir = TempDir::Create("/tmp", "layer-import-test");
  ASSERT_TRUE(dir.ok());
  ChunkStoreOptions o;
  o.root = dir->path() + "/store";
  auto store = ChunkStore::Open(o);
  ASSERT_TRUE(store.ok());
  std::string tar = TarEntry("a", Content(100, 1)) + TarEntry("big", Content(400000, 2));
  tar.resize(tar.size() - 300000);
  auto writer = (*store)->NewWriter(nullptr);
  LayerImporter importer((*store)->chunker(), writer.get(), 2);
  MemorySource src(tar);
  auto r = importer.Import(src, Digest(), Digest(), "test layer", nullptr, tar.size());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("big"), std::string::npos) << r.status().ToString();
}

}  // namespace
}  // namespace cfs
