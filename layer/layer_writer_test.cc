#include "layer/zstd_chunked_reader.h"
#include "layer/layer_writer.h"
#include "layer/tar_reader.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "layer/zstd_chunked.h"
#include "base/coding.h"

namespace cfs {
namespace {

using Json = nlohmann::json;

constexpr size_t kTestChunk = 64 << 10;

bool Shell(const std::string& cmd) { return std::system(cmd.c_str()) == 0; }

std::string MustRead(const std::string& path) {
  auto r = ReadFile(path, 1u << 30);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

void MustWrite(const std::string& path, std::string_view data) {
  Status s = WriteFileAtomic(path, data);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

uint64_t Octal(std::string_view f) {
  uint64_t v = 0;
  for (char c : f)
    if (c >= '0' && c <= '7') v = v * 8 + static_cast<uint64_t>(c - '0');
  return v;
}

std::string CutNul(std::string_view s) { return std::string(s.substr(0, s.find('\0'))); }

// A layer as the store would hold it, built from a real tar by a minimal
// parser (enough for GNU tar's posix output): TOC, TarSplit and chunk bytes
// cut in fixed 64 KiB pieces.
struct TestLayer {
  std::string tar;
  LayerToc toc;
  TarSplit split;
  std::map<Digest, std::string> chunks;
  std::map<std::string, std::string> files;  // raw tar name -> payload
};

TestLayer ParseTar(std::string tar) {
  TestLayer l;
  size_t pos = 0;
  static const std::string kZeroBlock(512, '\0');
  while (pos + 512 <= tar.size()) {
    if (tar.compare(pos, 512, kZeroBlock) == 0) break;
    std::string headers, pax_path;
    int64_t pax_size = -1;
    std::string_view blk;
    while (true) {
      blk = std::string_view(tar).substr(pos, 512);
      headers.append(blk);
      pos += 512;
      char type = blk[156];
      if (type != 'x' && type != 'g' && type != 'L' && type != 'K') break;
      size_t n = Octal(blk.substr(124, 12));
      size_t padded = (n + 511) / 512 * 512;
      std::string data = tar.substr(pos, n);
      headers.append(tar, pos, padded);
      pos += padded;
      if (type != 'x') continue;
      std::istringstream in(data);
      std::string rec;
      while (std::getline(in, rec)) {
        std::string kv = rec.substr(rec.find(' ') + 1);
        std::string k = kv.substr(0, kv.find('=')), v = kv.substr(kv.find('=') + 1);
        if (k == "path") pax_path = v;
        if (k == "size") pax_size = std::stoll(v);
      }
    }
    TocEntry e;
    char type = blk[156];
    std::string raw_name = CutNul(blk.substr(0, 100));
    std::string prefix = CutNul(blk.substr(345, 155));
    if (!prefix.empty()) raw_name = prefix + "/" + raw_name;
    if (!pax_path.empty()) raw_name = pax_path;
    uint64_t size = pax_size >= 0 ? static_cast<uint64_t>(pax_size) : Octal(blk.substr(124, 12));
    switch (type) {
      case '5':
        e.type = EntryType::kDirectory;
        break;
      case '2':
        e.type = EntryType::kSymlink;
        break;
      case '1':
        e.type = EntryType::kHardlink;
        break;
      default:
        e.type = EntryType::kRegular;
        break;
    }
    if (e.type != EntryType::kRegular) size = 0;
    std::string name = raw_name;
    if (name.starts_with("./")) name = name.substr(2);
    while (name.ends_with("/")) name.pop_back();
    e.name = name.empty() ? "." : name;
    e.link_target = CutNul(blk.substr(157, 100));
    e.size = size;
    e.first_chunk = static_cast<uint32_t>(l.toc.chunks.size());
    std::string payload = tar.substr(pos, size);
    for (size_t off = 0; off < payload.size(); off += kTestChunk) {
      std::string piece = payload.substr(off, kTestChunk);
      ChunkRef c{Digest::Of(piece), static_cast<uint32_t>(piece.size())};
      l.toc.chunks.push_back(c);
      l.chunks[c.digest] = piece;
      e.num_chunks++;
    }
    l.files[raw_name] = payload;
    pos += (size + 511) / 512 * 512;
    l.toc.entries.push_back(e);
    l.split.headers.push_back(headers);
  }
  l.split.trailer = tar.substr(pos);
  l.toc.diff_id = Digest::Of(tar);
  l.toc.tar_size = tar.size();
  l.tar = std::move(tar);
  return l;
}

// Chunks from memory; frames are ZSTD_compress of each chunk.
class MemoryChunkSource : public ChunkSource {
 public:
  explicit MemoryChunkSource(const std::map<Digest, std::string>* chunks) : chunks_(chunks) {}
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    auto it = chunks_->find(c.digest);
    if (it == chunks_->end()) return Status::NotFound("chunk " + c.digest.ToString());
    return Mangle(it->second);
  }
  Result<std::string> ReadFrame(const ChunkRef& c) override {
    ASSIGN_OR_RETURN(std::string data, ReadChunk(c));
    std::string frame(ZSTD_compressBound(data.size()), '\0');
    size_t n = ZSTD_compress(frame.data(), frame.size(), data.data(), data.size(), 3);
    if (ZSTD_isError(n)) return Status::IOError("zstd", EIO);
    frame.resize(n);
    return frame;
  }
  virtual std::string Mangle(const std::string& s) { return s; }

 private:
  const std::map<Digest, std::string>* chunks_;
};

// Returns a wrong chunk of the right size: a source that fails to verify.
class FlippingChunkSource : public MemoryChunkSource {
 public:
  using MemoryChunkSource::MemoryChunkSource;
  std::string Mangle(const std::string& s) override {
    std::string t = s;
    if (t.size() > 100) t[100] ^= 1;
    return t;
  }
};

class ShortChunkSource : public MemoryChunkSource {
 public:
  using MemoryChunkSource::MemoryChunkSource;
  std::string Mangle(const std::string& s) override { return s.substr(0, s.size() / 2); }
};

class LayerWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("/tmp", "cfs-layer-writer-test-");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    dir_ = std::move(*d);
  }

  // Builds a tree with small, empty, exactly-512-byte and >1 MiB files, a
  // long name, a symlink, a hardlink and an empty dir, then tars it.
  TestLayer MakeLayer(const std::string& tar_flags = "") {
    const std::string t = dir_.path() + "/tree";
    EXPECT_TRUE(MakeDirs(t + "/d/sub").ok());
    EXPECT_TRUE(MakeDirs(t + "/emptydir").ok());
    const std::string long_dir = t + "/" + std::string(60, 'x') + "/" + std::string(70, 'y');
    EXPECT_TRUE(MakeDirs(long_dir).ok());
    MustWrite(t + "/d/small.txt", "hello, world\n");
    MustWrite(t + "/d/empty", "");
    MustWrite(t + "/exact512", std::string(512, 'e'));
    MustWrite(long_dir + "/file-with-a-long-name.txt", RandomBytes(3000, 7));
    std::string big = RandomBytes((1 << 20) + (1 << 19) + 777, 42);
    big.replace(200000, 100000, std::string(100000, 'z'));  // a compressible stretch
    MustWrite(t + "/big.bin", big);
    EXPECT_TRUE(Shell("ln -s d/small.txt " + t + "/link"));
    EXPECT_TRUE(Shell("ln " + t + "/d/small.txt " + t + "/d/hard"));
    has_xattr_ = Shell("setfattr -n user.cfs -v marker " + t + "/exact512 2>/dev/null");
    const std::string tar = dir_.path() + "/layer.tar";
    EXPECT_TRUE(Shell("tar --format=posix --sort=name --xattrs " + tar_flags + " -C " + t +
                      " -cf " + tar + " ."));
    return ParseTar(MustRead(tar));
  }

  std::string Decompress(const std::string& tool, const std::string& blob) {
    const std::string in = dir_.path() + "/blob", out = dir_.path() + "/blob.out";
    MustWrite(in, blob);
    EXPECT_TRUE(Shell(tool + " -dc < " + in + " > " + out));
    return MustRead(out);
  }

  LayerBlobInfo WriteBlob(const TestLayer& l, Compression c, std::string* blob) {
    MemoryChunkSource src(&l.chunks);
    StringSink sink(blob);
    auto info = WriteLayerBlob(l.toc, l.split, src, c, sink);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    if (!info.ok()) return {};
    EXPECT_EQ(info->digest, Digest::Of(*blob));
    EXPECT_EQ(info->size, blob->size());
    EXPECT_EQ(info->diff_id, l.toc.diff_id);
    return *info;
  }

  TempDir dir_;
  bool has_xattr_ = false;
};

TEST(Compression, NamesRoundTrip) {
  for (Compression c :
       {Compression::kNone, Compression::kGzip, Compression::kZstd, Compression::kZstdChunked}) {
    auto parsed = ParseCompression(CompressionName(c));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, c);
  }
  auto bad = ParseCompression("lz4");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Status::Code::kInvalidArgument);
}

TEST(Crc64Iso, MatchesGoHashCrc64) {
  // crc64.Checksum([]byte("123456789"), crc64.MakeTable(crc64.ISO))
  EXPECT_EQ(Crc64Iso(0, "123456789", 9), 0xB90956C775A41001ull);
  EXPECT_EQ(Crc64Iso(Crc64Iso(0, "1234", 4), "56789", 5), 0xB90956C775A41001ull);
}

TEST_F(LayerWriterTest, WriteTarReproducesTheOriginalBytes) {
  TestLayer l = MakeLayer();
  ASSERT_GE(l.toc.entries.size(), 10u);
  MemoryChunkSource src(&l.chunks);
  std::string out;
  StringSink sink(&out);
  Status s = WriteTar(l.toc, l.split, src, sink);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, l.tar);
}

TEST_F(LayerWriterTest, WrongChunkIsCorruption) {
  TestLayer l = MakeLayer();
  std::string out;
  StringSink sink(&out);
  FlippingChunkSource flipping(&l.chunks);
  Status s = WriteTar(l.toc, l.split, flipping, sink);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("layer " + l.toc.diff_id.ToString() +
                             ": rebuilt tar does not match its diffID"),
            std::string::npos)
      << s.message();

  ShortChunkSource short_src(&l.chunks);
  s = WriteTar(l.toc, l.split, short_src, sink);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();

  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kZstdChunked}) {
    std::string blob;
    StringSink bs(&blob);
    auto info = WriteLayerBlob(l.toc, l.split, flipping, c, bs);
    ASSERT_FALSE(info.ok()) << CompressionName(c);
    EXPECT_EQ(info.status().code(), Status::Code::kCorruption) << CompressionName(c);
  }
}

TEST_F(LayerWriterTest, InconsistentTocIsCorruption) {
  TestLayer l = MakeLayer();
  MemoryChunkSource src(&l.chunks);
  std::string out;
  StringSink sink(&out);
  l.split.headers.pop_back();
  EXPECT_EQ(WriteTar(l.toc, l.split, src, sink).code(), Status::Code::kCorruption);
}

TEST_F(LayerWriterTest, UncompressedBlob) {
  TestLayer l = MakeLayer();
  std::string blob;
  LayerBlobInfo info = WriteBlob(l, Compression::kNone, &blob);
  EXPECT_EQ(blob, l.tar);
  EXPECT_EQ(info.media_type, "application/vnd.oci.image.layer.v1.tar");
  EXPECT_TRUE(info.annotations.empty());
}

TEST_F(LayerWriterTest, GzipBlob) {
  TestLayer l = MakeLayer();
  std::string blob, again;
  LayerBlobInfo info = WriteBlob(l, Compression::kGzip, &blob);
  EXPECT_EQ(info.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
  WriteBlob(l, Compression::kGzip, &again);
  EXPECT_EQ(blob, again);  // no timestamp in the gzip header
  EXPECT_EQ(Decompress("gzip", blob), l.tar);

  // And through zlib.
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  std::string out(l.tar.size() + 1, '\0');
  z.next_in = reinterpret_cast<Bytef*>(blob.data());
  z.avail_in = static_cast<uInt>(blob.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  EXPECT_EQ(out, l.tar);
}

TEST_F(LayerWriterTest, ZstdBlob) {
  TestLayer l = MakeLayer();
  std::string blob, again;
  LayerBlobInfo info = WriteBlob(l, Compression::kZstd, &blob);
  EXPECT_EQ(info.media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
  EXPECT_TRUE(info.annotations.empty());
  WriteBlob(l, Compression::kZstd, &again);
  EXPECT_EQ(blob, again);
  EXPECT_EQ(Decompress("zstd", blob), l.tar);
}

TEST_F(LayerWriterTest, BadLevelIsInvalid) {
  TestLayer l = MakeLayer();
  MemoryChunkSource src(&l.chunks);
  std::string blob;
  StringSink sink(&blob);
  EXPECT_EQ(WriteLayerBlob(l.toc, l.split, src, Compression::kGzip, sink, 12).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteLayerBlob(l.toc, l.split, src, Compression::kZstd, sink, 99).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_TRUE(blob.empty());
}

// --- zstd:chunked ----------------------------------------------------------

// Decompresses [off, end) of the blob: one or more whole zstd frames.
std::string Frames(const std::string& blob, uint64_t off, uint64_t end, size_t want) {
  std::string out(want + 1, '\0');
  size_t n = ZSTD_decompress(out.data(), out.size(), blob.data() + off, end - off);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

struct Footer {
  uint64_t toc_off, toc_len, toc_ulen, type, ts_off, ts_len, ts_ulen;
};

Footer ReadFooter(const std::string& blob) {
  EXPECT_GE(blob.size(), 72u);
  size_t f = blob.size() - 72;
  EXPECT_EQ(DecodeFixed32(blob.data() + (f)), 0x184D2A50u);  // the footer is a skippable frame
  EXPECT_EQ(DecodeFixed32(blob.data() + (f + 4)), 64u);
  EXPECT_EQ(blob.substr(blob.size() - 8), "GNUlInUx");
  f += 8;
  return {DecodeFixed64(blob.data() + (f)),      DecodeFixed64(blob.data() + (f + 8)),  DecodeFixed64(blob.data() + (f + 16)), DecodeFixed64(blob.data() + (f + 24)),
          DecodeFixed64(blob.data() + (f + 32)), DecodeFixed64(blob.data() + (f + 40)), DecodeFixed64(blob.data() + (f + 48))};
}

// Checks a TOC region points at a skippable frame payload and returns the
// decompressed bytes.
std::string Metadata(const std::string& blob, uint64_t off, uint64_t len, uint64_t ulen) {
  EXPECT_EQ(DecodeFixed32(blob.data() + (off - 8)), 0x184D2A50u);
  EXPECT_EQ(DecodeFixed32(blob.data() + (off - 4)), len);
  std::string out = Frames(blob, off, off + len, ulen);
  EXPECT_EQ(out.size(), ulen);
  return out;
}

TEST_F(LayerWriterTest, ZstdChunkedBlob) {
  TestLayer l = MakeLayer();
  std::string blob, again;
  LayerBlobInfo info = WriteBlob(l, Compression::kZstdChunked, &blob);
  EXPECT_EQ(info.media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
  WriteBlob(l, Compression::kZstdChunked, &again);
  EXPECT_EQ(blob, again);

  // Any zstd reader sees the plain tar (skippable frames are skipped).
  EXPECT_EQ(Decompress("zstd", blob), l.tar);

  // Footer and annotations agree.
  Footer f = ReadFooter(blob);
  EXPECT_EQ(f.type, 1u);
  EXPECT_EQ(f.ts_off, f.toc_off + f.toc_len + 8);
  EXPECT_EQ(f.ts_off + f.ts_len, blob.size() - 72);
  EXPECT_EQ(info.annotations.size(), 5u);
  auto pos = [](std::initializer_list<uint64_t> v) {
    std::string s;
    for (uint64_t x : v) s += (s.empty() ? "" : ":") + std::to_string(x);
    return s;
  };
  EXPECT_EQ(info.annotations["io.github.containers.zstd-chunked.manifest-position"],
            pos({f.toc_off, f.toc_len, f.toc_ulen, 1}));
  EXPECT_EQ(info.annotations["io.github.containers.zstd-chunked.tarsplit-position"],
            pos({f.ts_off, f.ts_len, f.ts_ulen}));
  EXPECT_EQ(info.annotations["io.github.containers.zstd-chunked.manifest-checksum"],
            Digest::Of(blob.substr(f.toc_off, f.toc_len)).ToString());
  // The names containers/storage 1.43 (podman 4.3) reads, with the same values.
  EXPECT_EQ(info.annotations["io.containers.zstd-chunked.manifest-position"],
            pos({f.toc_off, f.toc_len, f.toc_ulen, 1}));
  EXPECT_EQ(info.annotations["io.containers.zstd-chunked.manifest-checksum"],
            Digest::Of(blob.substr(f.toc_off, f.toc_len)).ToString());

  Json toc = Json::parse(Metadata(blob, f.toc_off, f.toc_len, f.toc_ulen));
  std::string ts_z = blob.substr(f.ts_off, f.ts_len);
  EXPECT_EQ(toc["version"], 1);
  EXPECT_EQ(toc["tarSplitDigest"], Digest::Of(ts_z).ToString());

  // Every entry; file data reachable through offsets, chunk by chunk.
  std::set<std::string> names;
  const Json& entries = toc["entries"];
  size_t multi_chunk_files = 0;
  for (size_t i = 0; i < entries.size(); i++) {
    const Json& e = entries[i];
    ASSERT_NE(e["type"], "chunk") << "chunk entry without its reg entry at " << i;
    std::string name = e["name"];
    names.insert(name);
    ASSERT_TRUE(l.files.count(name)) << name;
    EXPECT_TRUE(e.contains("modtime")) << name;
    EXPECT_TRUE(e.contains("accesstime")) << name;  // GNU tar's PAX atime
    if (e["type"] != "reg" || e.value("size", 0) == 0) {
      EXPECT_FALSE(e.contains("offset")) << name;
      continue;
    }
    const std::string& data = l.files[name];
    ASSERT_EQ(e["size"], data.size());
    EXPECT_EQ(e["digest"], Digest::Of(data).ToString());
    EXPECT_EQ(Frames(blob, e["offset"], e["endOffset"], data.size()), data) << name;
    // The reg entry is the first chunk; "chunk" entries follow it.
    std::vector<Json> chunks{e};
    while (i + 1 < entries.size() && entries[i + 1]["type"] == "chunk")
      chunks.push_back(entries[++i]);
    if (chunks.size() == 1) {
      EXPECT_FALSE(e.contains("chunkSize")) << name;
      continue;
    }
    multi_chunk_files++;
    uint64_t expect_off = 0, end_of_prev = e["offset"];
    for (size_t k = 0; k < chunks.size(); k++) {
      const Json& c = chunks[k];
      EXPECT_EQ(c["name"], name);
      // As containers/storage derives it: up to the next chunk's frame.
      uint64_t off = c["offset"], size = c["chunkSize"];
      uint64_t end = k + 1 < chunks.size() ? chunks[k + 1]["offset"] : e["endOffset"];
      if (k > 0) {
        EXPECT_EQ(c["endOffset"], end);
      }
      EXPECT_EQ(c.value("chunkOffset", uint64_t{0}), expect_off);
      EXPECT_EQ(off, end_of_prev);
      EXPECT_EQ(ZSTD_findFrameCompressedSize(blob.data() + off, end - off), end - off)
          << "a chunk is exactly one frame";
      std::string bytes = Frames(blob, off, end, size);
      EXPECT_EQ(bytes, data.substr(expect_off, size));
      EXPECT_EQ(c["chunkDigest"], Digest::Of(bytes).ToString());
      expect_off += size;
      end_of_prev = end;
    }
    EXPECT_EQ(expect_off, data.size());
    EXPECT_EQ(end_of_prev, e["endOffset"]);
  }
  EXPECT_EQ(multi_chunk_files, 1u);  // big.bin
  EXPECT_EQ(names.size(), l.files.size());
  EXPECT_TRUE(names.count("./d/small.txt"));
  EXPECT_TRUE(names.count("./emptydir/"));
  std::map<std::string, Json> by_name;
  for (const Json& e : entries)
    if (e["type"] != "chunk") by_name[e["name"]] = e;
  EXPECT_EQ(by_name["./link"]["type"], "symlink");
  EXPECT_EQ(by_name["./link"]["linkName"], "d/small.txt");
  // --sort=name puts d/hard first, so d/small.txt is the link.
  EXPECT_EQ(by_name["./d/hard"]["type"], "reg");
  EXPECT_EQ(by_name["./d/small.txt"]["type"], "hardlink");
  EXPECT_EQ(by_name["./d/small.txt"]["linkName"], "./d/hard");
  EXPECT_EQ(by_name["./exact512"]["mode"], 0644);
  if (has_xattr_) {
    EXPECT_EQ(by_name["./exact512"]["xattrs"]["user.cfs"], "bWFya2Vy");  // base64("marker")
  }
  EXPECT_EQ(by_name["./emptydir/"]["type"], "dir");

  // The tar-split rebuilds the tar from the TOC's files, as podman does.
  std::string ts = Metadata(blob, f.ts_off, f.ts_len, f.ts_ulen);
  std::istringstream lines(ts);
  std::string line, rebuilt;
  int position = 0;
  while (std::getline(lines, line)) {
    Json j = Json::parse(line);
    EXPECT_EQ(j["position"], position++);
    if (j["type"] == 2) {
      rebuilt += Base64Decode(j["payload"].get<std::string>()).value();
      continue;
    }
    ASSERT_EQ(j["type"], 1);
    std::string name = j["name"];
    ASSERT_TRUE(l.files.count(name)) << name;
    uint64_t size = j.value("size", uint64_t{0});
    ASSERT_EQ(size, l.files[name].size()) << name;
    if (size == 0) {
      EXPECT_TRUE(j["payload"].is_null());
      continue;
    }
    const std::string& data = l.files[name];
    uint64_t crc = Crc64Iso(0, data.data(), data.size());
    std::string sum;
    for (int b = 7; b >= 0; b--) sum.push_back(static_cast<char>(crc >> (8 * b)));
    EXPECT_EQ(Base64Decode(j["payload"].get<std::string>()).value(), sum);
    rebuilt += data;
  }
  EXPECT_TRUE(rebuilt == l.tar) << "tar-split does not rebuild the tar";
}

TEST_F(LayerWriterTest, ZstdChunkedFallsBackToZstdForGlobalPaxHeaders) {
  TestLayer l = MakeLayer("--pax-option=comment=cfs");
  ASSERT_NE(l.split.headers[0].find("comment=cfs"), std::string::npos);
  std::string blob;
  LayerBlobInfo info = WriteBlob(l, Compression::kZstdChunked, &blob);
  EXPECT_EQ(info.media_type, "application/vnd.oci.image.layer.v1.tar+zstd");
  EXPECT_TRUE(info.annotations.empty());
  EXPECT_EQ(Decompress("zstd", blob), l.tar);
}

TEST_F(LayerWriterTest, EmptyLayer) {
  TestLayer l;
  l.split.trailer = std::string(1024, '\0');
  l.tar = l.split.trailer;
  l.toc.diff_id = Digest::Of(l.tar);
  l.toc.tar_size = l.tar.size();
  for (Compression c :
       {Compression::kNone, Compression::kGzip, Compression::kZstd, Compression::kZstdChunked}) {
    std::string blob;
    WriteBlob(l, c, &blob);
    if (c == Compression::kZstdChunked) {
      EXPECT_EQ(Decompress("zstd", blob), l.tar);
      Footer f = ReadFooter(blob);
      EXPECT_EQ(Json::parse(Metadata(blob, f.toc_off, f.toc_len, f.toc_ulen))["entries"].size(),
                0u);
    }
  }
}

// The zstd:chunked reader (layer/zstd_chunked_reader.h) gets back from the blob's
// metadata alone what an import of the tar gives: entries, tar-split, and
// chunks whose blob ranges decode to the file data.
TEST_F(LayerWriterTest, ZstdChunkedReadsBack) {
  TestLayer l = MakeLayer();
  std::string blob;
  LayerBlobInfo info = WriteBlob(l, Compression::kZstdChunked, &blob);
  auto pos = ChunkedPositionsOf(info.annotations, blob.size(), "blob");
  ASSERT_TRUE(pos.ok()) << pos.status().ToString();
  ASSERT_TRUE(pos->has_value());
  const ChunkedPositions& p = **pos;
  std::string toc_z = blob.substr(p.toc_offset, p.toc_length);
  std::string split_z = blob.substr(p.split_offset, p.split_length);
  auto layer = ParseChunkedLayer(toc_z, split_z, p, l.toc.diff_id, blob.size(), "test");
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();

  // What TarReader makes of the real tar.
  MemorySource src(l.tar);
  TarReader r(&src);
  std::vector<TocEntry> want;
  while (true) {
    TocEntry e;
    auto more = r.Next(&e);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    want.push_back(e);
  }
  TarSplit want_split = r.TakeSplit();
  ASSERT_EQ(layer->toc.entries.size(), want.size());
  for (size_t i = 0; i < want.size(); i++) {
    TocEntry got = layer->toc.entries[i];
    got.first_chunk = got.num_chunks = 0;
    EXPECT_EQ(got, want[i]) << want[i].name;
  }
  EXPECT_EQ(layer->split, want_split);
  EXPECT_EQ(layer->toc.tar_size, l.tar.size());
  EXPECT_EQ(layer->toc.diff_id, l.toc.diff_id);
  ASSERT_EQ(layer->where.size(), layer->toc.chunks.size());

  // Every chunk's range decodes to its bytes; files reassemble.
  std::map<std::string, std::string> files;
  for (const auto& e : layer->toc.entries) {
    std::string data;
    for (uint32_t k = e.first_chunk; k < e.first_chunk + e.num_chunks; k++) {
      const BlobChunk& w = layer->where[k];
      auto bytes = DecodeBlobChunk(layer->toc.chunks[k], std::string_view(blob).substr(w.offset, w.length));
      ASSERT_TRUE(bytes.ok()) << e.name << ": " << bytes.status().ToString();
      data += *bytes;
    }
    if (e.type == EntryType::kRegular) files[e.name] = data;
  }
  EXPECT_EQ(files["big.bin"].size(), (1u << 20) + (1u << 19) + 777);
  EXPECT_EQ(files["d/hard"], "hello, world\n");  // sorted first: the hard link target
  EXPECT_EQ(files["exact512"], std::string(512, 'e'));

  // The trust anchors: a changed TOC or tar-split is refused.
  std::string bad_toc = toc_z;
  bad_toc[bad_toc.size() / 2] ^= 1;
  auto r1 = ParseChunkedLayer(bad_toc, split_z, p, l.toc.diff_id, blob.size(), "test");
  EXPECT_EQ(r1.status().code(), Status::Code::kCorruption);
  std::string bad_split = split_z;
  bad_split[bad_split.size() / 2] ^= 1;
  auto r2 = ParseChunkedLayer(toc_z, bad_split, p, l.toc.diff_id, blob.size(), "test");
  EXPECT_EQ(r2.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r2.status().message().find("tarSplitDigest"), std::string::npos);
  // A wrong chunk range does not decode to the chunk.
  const BlobChunk& w0 = layer->where[0];
  auto bad = DecodeBlobChunk(layer->toc.chunks[0], std::string_view(blob).substr(w0.offset + 1, w0.length - 1));
  EXPECT_FALSE(bad.ok());
  // Plain zstd has no annotations: not lazily readable.
  auto none = ChunkedPositionsOf({}, 10, "plain");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  // Positions outside the blob are refused.
  EXPECT_FALSE(ChunkedPositionsOf(info.annotations, p.toc_offset, "short").ok());
}

// A lazy mount's view, from the TOC alone (no tar-split): the same entries
// as the tar gives (but uname and gname, which the TOC lacks), the same
// chunks and blob ranges; and a TOC that disagrees with its tar-split is
// refused once the tar-split is read (what the mount showed is the layer).
TEST_F(LayerWriterTest, ZstdChunkedTocAloneServesTheSameFiles) {
  TestLayer l = MakeLayer();
  std::string blob;
  LayerBlobInfo info = WriteBlob(l, Compression::kZstdChunked, &blob);
  auto pos = ChunkedPositionsOf(info.annotations, blob.size(), "blob");
  ASSERT_TRUE(pos.ok() && pos->has_value()) << pos.status().ToString();
  ChunkedPositions p = **pos;
  const std::string toc_z = blob.substr(p.toc_offset, p.toc_length);
  const std::string split_z = blob.substr(p.split_offset, p.split_length);
  auto full = ParseChunkedLayer(toc_z, split_z, p, l.toc.diff_id, blob.size(), "test");
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_TRUE(full->has_split);
  // One ranged read, of the TOC alone.
  std::vector<std::pair<uint64_t, uint64_t>> reads;
  auto read = [&](uint64_t off, uint64_t len) -> Result<std::string> {
    reads.push_back({off, len});
    return blob.substr(off, len);
  };
  auto lazy = FetchChunkedToc(read, blob.size(), p, l.toc.diff_id, "test");
  ASSERT_TRUE(lazy.ok()) << lazy.status().ToString();
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0], std::make_pair(p.toc_offset, p.toc_length));
  EXPECT_FALSE(lazy->has_split);
  EXPECT_EQ(lazy->split, TarSplit());
  EXPECT_EQ(lazy->toc.tar_size, 0u);
  EXPECT_EQ(lazy->toc.chunks, full->toc.chunks);
  ASSERT_EQ(lazy->where.size(), full->where.size());
  for (size_t i = 0; i < lazy->where.size(); i++) {
    EXPECT_EQ(lazy->where[i].offset, full->where[i].offset);
    EXPECT_EQ(lazy->where[i].length, full->where[i].length);
  }
  ASSERT_EQ(lazy->toc.entries.size(), full->toc.entries.size());
  bool saw_xattr = false, saw_nsec = false;
  for (size_t i = 0; i < full->toc.entries.size(); i++) {
    TocEntry want = full->toc.entries[i];
    want.uname.clear();
    want.gname.clear();
    EXPECT_EQ(lazy->toc.entries[i], want) << want.name;
    saw_xattr |= !want.xattrs.empty();
    saw_nsec |= want.mtime_nsec != 0;
  }
  EXPECT_EQ(saw_xattr, has_xattr_);
  EXPECT_TRUE(saw_nsec) << "expected sub-second mtimes (tar --format=posix)";

  // A TOC claiming another mode for one entry (re-signed: its digest is the
  // trust anchor) serves that mode, and is refused with its tar-split.
  Json toc = Json::parse(Decompress("zstd", toc_z));
  for (auto& e : toc["entries"])
    if (e["name"] == "./d/small.txt") e["mode"] = 04777;
  std::string json = toc.dump();
  std::string z(ZSTD_compressBound(json.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), json.data(), json.size(), 3));
  ChunkedPositions q = p;
  q.toc_digest = Digest::Of(z);
  q.toc_length = z.size();
  q.toc_ulength = json.size();
  auto lying = ParseChunkedToc(z, q, l.toc.diff_id, blob.size(), "test");
  ASSERT_TRUE(lying.ok()) << lying.status().ToString();
  auto refused = ParseChunkedLayer(z, split_z, q, l.toc.diff_id, blob.size(), "test");
  ASSERT_EQ(refused.status().code(), Status::Code::kCorruption);
  EXPECT_NE(refused.status().message().find("disagree on its mode"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("d/small.txt"), std::string::npos);
}

// Either set of annotation names locates the TOC; a blob carrying both must
// agree; without the tar-split position (the older variant) it is read whole.
TEST_F(LayerWriterTest, ZstdChunkedPositionsFromEitherAnnotationSet) {
  TestLayer l = MakeLayer();
  std::string blob;
  LayerBlobInfo info = WriteBlob(l, Compression::kZstdChunked, &blob);
  auto both = ChunkedPositionsOf(info.annotations, blob.size(), "blob");
  ASSERT_TRUE(both.ok() && both->has_value()) << both.status().ToString();
  const std::string kNew = "io.github.containers.zstd-chunked.";
  const std::string kOld = "io.containers.zstd-chunked.";

  for (const std::string& drop : {kNew, kOld}) {
    auto a = info.annotations;
    a.erase(drop + "manifest-checksum");
    a.erase(drop + "manifest-position");
    auto p = ChunkedPositionsOf(a, blob.size(), "blob");
    ASSERT_TRUE(p.ok() && p->has_value()) << drop << ": " << p.status().ToString();
    EXPECT_EQ((*p)->toc_digest, (*both)->toc_digest);
    EXPECT_EQ((*p)->toc_offset, (*both)->toc_offset);
    EXPECT_EQ((*p)->split_offset, (*both)->split_offset);
    EXPECT_TRUE(ParseChunkedLayer(blob.substr((*p)->toc_offset, (*p)->toc_length),
                                  blob.substr((*p)->split_offset, (*p)->split_length), **p,
                                  l.toc.diff_id, blob.size(), "blob")
                    .ok());
  }

  auto disagree = info.annotations;
  disagree[kOld + "manifest-checksum"] = Digest::Of("other").ToString();
  auto d = ChunkedPositionsOf(disagree, blob.size(), "blob");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("differ"), std::string::npos) << d.status().message();

  // What containers/storage 1.43 wrote: the old names only, no tar-split.
  std::map<std::string, std::string> old_only = {
      {kOld + "manifest-checksum", info.annotations[kNew + "manifest-checksum"]},
      {kOld + "manifest-position", info.annotations[kNew + "manifest-position"]}};
  auto whole = ChunkedPositionsOf(old_only, blob.size(), "blob");
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_FALSE(whole->has_value());
}

}  // namespace
}  // namespace cfs
