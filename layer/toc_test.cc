#include "layer/toc.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <random>
#include <string>

namespace cfs {
namespace {

TEST(NormalizeEntryName, Accepts) {
  const std::pair<const char*, const char*> cases[] = {
      {"a", "a"},
      {"./a", "a"},
      {"././a/", "a"},
      {".//a", "a"},
      {"a//b", "a/b"},
      {"a/./b", "a/b"},
      {"a/b/", "a/b"},
      {"a/b/.", "a/b"},
      {".", "."},
      {"./", "."},
      {".//", "."},
      {"./.", "."},
      {"dir/", "dir"},
      {".wh.x", ".wh.x"},
      {"a..b", "a..b"},
      {"...", "..."},
      {"a/.hidden", "a/.hidden"},
  };
  for (const auto& [in, want] : cases) {
    auto r = NormalizeEntryName(in);
    ASSERT_TRUE(r.ok()) << in << ": " << r.status().ToString();
    EXPECT_EQ(*r, want) << in;
  }
}

TEST(NormalizeEntryName, Rejects) {
  auto abs = NormalizeEntryName("/etc/x");
  ASSERT_FALSE(abs.ok());
  EXPECT_EQ(abs.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(abs.status().message().find("absolute path \"/etc/x\""), std::string::npos)
      << abs.status().message();

  for (const char* bad : {"..", "../x", "a/../b", "a/..", "./../a", "a/b/../../.."}) {
    auto r = NormalizeEntryName(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string::npos)
        << r.status().message();
  }
  EXPECT_FALSE(NormalizeEntryName("").ok());
  EXPECT_FALSE(NormalizeEntryName("/").ok());
  EXPECT_FALSE(NormalizeEntryName("//a").ok());
  auto nul = NormalizeEntryName(std::string_view("a\0b", 3));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.status().message().find("\"a\\x00b\""), std::string::npos)
      << nul.status().message();
}

TEST(EntryTypeName, Names) {
  EXPECT_STREQ(EntryTypeName(EntryType::kRegular), "regular");
  EXPECT_STREQ(EntryTypeName(EntryType::kDirectory), "directory");
  EXPECT_STREQ(EntryTypeName(EntryType::kSymlink), "symlink");
  EXPECT_STREQ(EntryTypeName(EntryType::kHardlink), "hardlink");
  EXPECT_STREQ(EntryTypeName(EntryType::kChar), "char");
  EXPECT_STREQ(EntryTypeName(EntryType::kBlock), "block");
  EXPECT_STREQ(EntryTypeName(EntryType::kFifo), "fifo");
}

LayerToc SampleToc() {
  LayerToc toc;
  toc.diff_id = Digest::Of("the tar");
  toc.tar_size = 123456789012ull;
  for (int i = 0; i < 5; i++) {
    toc.chunks.push_back({Digest::Of("chunk" + std::to_string(i)), uint32_t(1000 * i + 7)});
  }
  toc.chunks.push_back({Digest::Of("max"), 0xffffffffu});
  TocEntry root;
  root.type = EntryType::kDirectory;
  root.name = ".";
  root.mode = 0755;
  toc.entries.push_back(root);

  TocEntry f;
  f.name = "usr/bin/tool";
  f.mode = 04755;
  f.uid = 0xffffffffu;
  f.gid = 1000;
  f.uname = "root";
  f.gname = "wheel";
  f.mtime_sec = -1234567890123ll;
  f.mtime_nsec = 999999999;
  f.size = 4021;
  f.xattrs = {{"security.capability", std::string("\x01\x00\x00\x02\xff", 5)}, {"user.empty", ""}};
  f.first_chunk = 1;
  f.num_chunks = 3;
  toc.entries.push_back(f);

  TocEntry s;
  s.type = EntryType::kSymlink;
  s.name = "usr/bin/alias";
  s.link_target = "/abs/../target";
  s.mtime_sec = INT64_MAX;
  toc.entries.push_back(s);

  TocEntry h;
  h.type = EntryType::kHardlink;
  h.name = "usr/bin/tool2";
  h.link_target = "usr/bin/tool";
  h.mtime_sec = INT64_MIN;
  toc.entries.push_back(h);

  TocEntry d;
  d.type = EntryType::kBlock;
  d.name = "dev/sda";
  d.dev_major = 8;
  d.dev_minor = 0xffffffffu;
  toc.entries.push_back(d);

  TocEntry w;
  w.type = EntryType::kRegular;
  w.role = OverlayRole::kWhiteout;
  w.name = "etc/.wh.gone";
  w.first_chunk = 6;  // empty range at the end of the table is valid
  toc.entries.push_back(w);

  TocEntry o;
  o.type = EntryType::kRegular;
  o.role = OverlayRole::kOpaque;
  o.name = "var/.wh..wh..opq";
  o.size = UINT64_MAX;
  o.first_chunk = 5;
  o.num_chunks = 1;
  toc.entries.push_back(o);
  return toc;
}

TarSplit SampleSplit() {
  TarSplit s;
  s.headers = {std::string(512, 'h'), std::string(1536, '\0'), "", std::string(512, 'x')};
  s.odd_padding = {{0, std::string(3, '\x01')}, {3, std::string(511, 'p')}};
  s.trailer = std::string(10240, '\0') + "junk";
  return s;
}

std::string RawOf(const std::string& enc) {
  unsigned long long n = ZSTD_getFrameContentSize(enc.data(), enc.size());
  std::string raw(n, '\0');
  size_t got = ZSTD_decompress(raw.data(), raw.size(), enc.data(), enc.size());
  EXPECT_FALSE(ZSTD_isError(got));
  return raw;
}

std::string Zstd(const std::string& raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 1));
  return out;
}

TEST(LayerToc, RoundTrip) {
  LayerToc toc = SampleToc();
  std::string enc = toc.Encode();
  auto dec = LayerToc::Decode(enc);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, toc);
  EXPECT_EQ(dec->Encode(), enc);  // deterministic

  LayerToc empty;
  auto dec2 = LayerToc::Decode(empty.Encode());
  ASSERT_TRUE(dec2.ok()) << dec2.status().ToString();
  EXPECT_EQ(*dec2, empty);
}

TEST(LayerToc, BigTocCompresses) {
  LayerToc toc;
  for (int i = 0; i < 20000; i++) {
    TocEntry e;
    e.name = "usr/share/doc/package-" + std::to_string(i / 10) + "/file" + std::to_string(i);
    e.mode = 0644;
    e.size = i;
    e.first_chunk = i;
    e.num_chunks = 1;
    toc.entries.push_back(e);
    toc.chunks.push_back({Digest::Of(e.name), uint32_t(i)});
  }
  std::string enc = toc.Encode();
  auto dec = LayerToc::Decode(enc);
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, toc);
}

TEST(LayerToc, RejectsChunkRangeOutsideTable) {
  LayerToc toc = SampleToc();
  toc.entries[1].first_chunk = 4;
  toc.entries[1].num_chunks = 3;  // 4 + 3 > 6
  auto dec = LayerToc::Decode(toc.Encode());
  ASSERT_FALSE(dec.ok());
  EXPECT_EQ(dec.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(dec.status().message().rfind("layer TOC: ", 0), 0u) << dec.status().message();

  toc = SampleToc();
  toc.entries[1].first_chunk = 0xffffffffu;
  toc.entries[1].num_chunks = 0xffffffffu;  // would wrap in 32 bits
  EXPECT_FALSE(LayerToc::Decode(toc.Encode()).ok());
}

TEST(LayerToc, RejectsGarbage) {
  for (std::string bad : {std::string(), std::string("hello"), std::string(64, '\0'),
                          TarSplit().Encode(), Zstd("CTOC"), Zstd("CTOC\x02"), Zstd("")}) {
    auto dec = LayerToc::Decode(bad);
    ASSERT_FALSE(dec.ok());
    EXPECT_EQ(dec.status().code(), Status::Code::kCorruption);
    EXPECT_EQ(dec.status().message().rfind("layer TOC: ", 0), 0u) << dec.status().message();
  }
  // Trailing bytes after the body or after the zstd frame.
  std::string raw = RawOf(SampleToc().Encode());
  EXPECT_FALSE(LayerToc::Decode(Zstd(raw + "x")).ok());
  EXPECT_FALSE(LayerToc::Decode(SampleToc().Encode() + "x").ok());
}

TEST(LayerToc, RejectsHugeDeclaredSizes) {
  // A frame header that claims 2 GiB of content.
  std::string frame = "\x28\xb5\x2f\xfd";
  frame += '\xe0';  // FCS field 8 bytes, single segment
  uint64_t size = uint64_t{2} << 30;
  for (int i = 0; i < 8; i++) frame += static_cast<char>(size >> (8 * i));
  frame += std::string("\x01\x00\x00", 3);  // a last raw block of 0 bytes
  auto dec = LayerToc::Decode(frame);
  ASSERT_FALSE(dec.ok());
  EXPECT_NE(dec.status().message().find("1 GiB"), std::string::npos) << dec.status().message();

  // Claims 900 MiB but holds nothing: must fail, not allocate 900 MiB.
  size = uint64_t{900} << 20;
  for (int i = 0; i < 8; i++) frame[5 + i] = static_cast<char>(size >> (8 * i));
  EXPECT_FALSE(LayerToc::Decode(frame).ok());

  // Counts far beyond the bytes that follow.
  std::string raw = "CTOC\x01" + std::string(32, 'd') + "\x05" + "\xff\xff\xff\xff\x0f";
  auto r = LayerToc::Decode(Zstd(raw));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("count"), std::string::npos) << r.status().message();
  raw = "CTOC\x01" + std::string(32, 'd') + "\x05" + std::string(1, '\0') + "\x01" +
        std::string(2, '\0') + "\xff\xff\xff\xff\x0f" + std::string(20, '\0');
  r = LayerToc::Decode(Zstd(raw));  // one entry whose name is 4 GiB long
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("name"), std::string::npos) << r.status().message();
}

TEST(LayerToc, TruncatedEncodingsFail) {
  std::string enc = SampleToc().Encode();
  for (size_t n = 0; n < enc.size(); n++) {
    EXPECT_FALSE(LayerToc::Decode(enc.substr(0, n)).ok()) << n;
  }
  std::string raw = RawOf(enc);
  for (size_t n = 0; n < raw.size(); n++) {
    EXPECT_FALSE(LayerToc::Decode(Zstd(raw.substr(0, n))).ok()) << n;
  }
}

// Random byte flips, both in the compressed bytes and in the body under a
// valid zstd frame (which reaches the parser). Must never crash (ASan).
TEST(LayerToc, FuzzFlips) {
  std::mt19937 rng(42);
  std::string enc = SampleToc().Encode();
  std::string raw = RawOf(enc);
  int ok = 0;
  for (int iter = 0; iter < 3000; iter++) {
    std::string e = enc, r = raw;
    int flips = 1 + rng() % 4;
    for (int k = 0; k < flips; k++) {
      e[rng() % e.size()] ^= static_cast<char>(1 + rng() % 255);
      r[rng() % r.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    auto d1 = LayerToc::Decode(e);
    auto d2 = LayerToc::Decode(Zstd(r));
    ok += d1.ok() + d2.ok();
    if (d2.ok()) {
      for (const TocEntry& t : d2->entries) {
        EXPECT_LE(uint64_t{t.first_chunk} + t.num_chunks, d2->chunks.size());
      }
    }
  }
  SUCCEED() << ok << " mutated inputs still decoded";
}

// Version 2 records carry a SHA-256 of their body: a record altered behind
// the store's back (a swapped chunk entry) is refused; version 1 still reads.
TEST(LayerToc, ChecksumCatchesAlteredRecords) {
  LayerToc toc = SampleToc();
  std::string raw = RawOf(toc.Encode());
  ASSERT_EQ(raw[4], 2);
  std::string swapped = raw;
  // The chunk table starts after magic, version, diff_id and the tar size;
  // swap the first bytes of the first two chunk digests.
  size_t table = 4 + 1 + 32 + 1 + 1;
  std::swap(swapped[table], swapped[table + 33]);
  ASSERT_NE(swapped, raw);
  auto dec = LayerToc::Decode(Zstd(swapped));
  ASSERT_FALSE(dec.ok());
  EXPECT_NE(dec.status().message().find("checksum"), std::string::npos) << dec.status().message();

  std::string v1 = raw.substr(0, raw.size() - 32);
  v1[4] = 1;
  auto old = LayerToc::Decode(Zstd(v1));
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(*old, toc);

  std::string split = RawOf(SampleSplit().Encode());
  split[7] ^= 1;
  EXPECT_FALSE(TarSplit::Decode(Zstd(split)).ok());
}

TEST(TarSplit, RoundTrip) {
  TarSplit s = SampleSplit();
  auto dec = TarSplit::Decode(s.Encode());
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  EXPECT_EQ(*dec, s);
  TarSplit empty;
  auto dec2 = TarSplit::Decode(empty.Encode());
  ASSERT_TRUE(dec2.ok()) << dec2.status().ToString();
  EXPECT_EQ(*dec2, empty);
}

TEST(TarSplit, RejectsBadPadding) {
  TarSplit s = SampleSplit();
  s.odd_padding.push_back({9, "x"});  // no such entry
  EXPECT_FALSE(TarSplit::Decode(s.Encode()).ok());
  s = SampleSplit();
  std::swap(s.odd_padding[0], s.odd_padding[1]);  // unsorted
  EXPECT_FALSE(TarSplit::Decode(s.Encode()).ok());
  s = SampleSplit();
  s.odd_padding[0].second = std::string(512, 'x');  // longer than a block
  EXPECT_FALSE(TarSplit::Decode(s.Encode()).ok());
}

TEST(TarSplit, TruncatedAndFuzzed) {
  std::string enc = SampleSplit().Encode();
  std::string raw = RawOf(enc);
  for (size_t n = 0; n < raw.size(); n += 7) {
    EXPECT_FALSE(TarSplit::Decode(Zstd(raw.substr(0, n))).ok()) << n;
  }
  for (size_t n = 0; n < enc.size(); n++) EXPECT_FALSE(TarSplit::Decode(enc.substr(0, n)).ok());
  EXPECT_FALSE(TarSplit::Decode(SampleToc().Encode()).ok());
  std::mt19937 rng(7);
  for (int iter = 0; iter < 2000; iter++) {
    std::string e = enc, r = raw;
    e[rng() % e.size()] ^= static_cast<char>(1 + rng() % 255);
    r[rng() % 64] ^= static_cast<char>(1 + rng() % 255);  // the interesting lengths are early
    (void)TarSplit::Decode(e);
    auto d = TarSplit::Decode(Zstd(r));
    if (d.ok()) {
      for (const auto& [i, b] : d->odd_padding) EXPECT_LT(i, d->headers.size());
    }
  }
}

}  // namespace
}  // namespace cfs
