#include "layer/tar_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/xattr.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace cfs {
namespace {

// ---------------------------------------------------------------------------
// Helpers

struct Parsed {
  std::vector<TocEntry> entries;
  std::vector<std::string> payloads;
  TarSplit split;
};

// Reads a whole tar. Payloads are read in `chunk`-byte pieces; entries whose
// index is in `skip` are left unread so Next() has to skip them.
Result<Parsed> ParseTar(std::string_view tar, const TarLimits& limits = {}, size_t chunk = 1000,
                        const std::vector<size_t>& skip = {}) {
  MemorySource src(tar);
  TarReader r(&src, limits);
  Parsed p;
  for (;;) {
    TocEntry e;
    ASSIGN_OR_RETURN(bool more, r.Next(&e));
    if (!more) break;
    std::string payload;
    bool skipped = std::find(skip.begin(), skip.end(), p.entries.size()) != skip.end();
    std::string buf(chunk, '\0');
    while (!skipped) {
      ASSIGN_OR_RETURN(size_t got, r.ReadPayload(buf.data(), buf.size()));
      if (got == 0) break;
      payload.append(buf.data(), got);
    }
    if (!skipped && payload.size() != e.size) return Status::Corruption("short payload");
    p.entries.push_back(std::move(e));
    p.payloads.push_back(std::move(payload));
  }
  if (r.offset() != tar.size()) return Status::Corruption("reader stopped early");
  p.split = r.TakeSplit();
  return p;
}

// tar := for each entry i: headers[i] payload(i) padding(i) ; trailer
std::string Reassemble(const Parsed& p) {
  std::string out;
  size_t odd = 0;
  for (size_t i = 0; i < p.entries.size(); i++) {
    out += p.split.headers[i];
    out += p.payloads[i];
    if (odd < p.split.odd_padding.size() && p.split.odd_padding[odd].first == i) {
      out += p.split.odd_padding[odd++].second;
    } else {
      out.append((512 - p.entries[i].size % 512) % 512, '\0');
    }
  }
  return out + p.split.trailer;
}

const TocEntry* Find(const Parsed& p, const std::string& name) {
  for (const TocEntry& e : p.entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::string ReadAll(const std::string& path) {
  auto r = ReadFile(path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : "";
}

void WriteAll(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  ASSERT_EQ(std::fwrite(data.data(), 1, data.size(), f), data.size());
  std::fclose(f);
}

void Sh(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

std::string Pattern(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// A hand-made ustar header block with a valid (unsigned) checksum.
struct Hdr {
  std::string name;
  char type = '0';
  uint64_t size = 0;
  std::string link;
  uint32_t mode = 0644;
  std::string magic = std::string(
      "ustar\0"
      "00",
      8);
  std::string prefix;

  std::string Block() const {
    std::string b(512, '\0');
    auto put = [&b](size_t off, size_t len, const std::string& v) {
      std::memcpy(&b[off], v.data(), std::min(len, v.size()));
    };
    auto oct = [&put](size_t off, size_t len, uint64_t v) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%0*llo", static_cast<int>(len - 1),
                    static_cast<unsigned long long>(v));
      put(off, len - 1, buf);
    };
    put(0, 100, name);
    oct(100, 8, mode);
    oct(108, 8, 1000);
    oct(116, 8, 1000);
    oct(124, 12, size);
    oct(136, 12, 1600000000);
    b[156] = type;
    put(157, 100, link);
    put(257, 8, magic);
    put(265, 32, "user");
    put(297, 32, "group");
    put(345, 155, prefix);
    FixChecksum(&b);
    return b;
  }
  static void FixChecksum(std::string* b, bool is_signed = false) {
    std::memset(&(*b)[148], ' ', 8);
    long sum = 0;
    for (char c : *b)
      sum += is_signed ? static_cast<signed char>(c) : static_cast<unsigned char>(c);
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%06lo", static_cast<unsigned long>(sum));
    std::memcpy(&(*b)[148], buf, 7);  // six digits, NUL, space
  }
};

std::string Padded(const std::string& data) {
  return data + std::string((512 - data.size() % 512) % 512, '\0');
}
std::string File(const std::string& name, const std::string& data) {
  Hdr h;
  h.name = name;
  h.size = data.size();
  return h.Block() + Padded(data);
}
std::string Entry(const std::string& name, char type, const std::string& link = "") {
  Hdr h;
  h.name = name;
  h.type = type;
  h.link = link;
  return h.Block();
}
std::string PaxRecord(const std::string& key, const std::string& value) {
  std::string body = " " + key + "=" + value + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) len++;
  return std::to_string(len) + body;
}
std::string Pax(char type, const std::string& records) {
  Hdr h;
  h.name = "PaxHeaders/x";
  h.type = type;
  h.size = records.size();
  return h.Block() + Padded(records);
}
const std::string kEnd(1024, '\0');

void ExpectRoundTrip(const std::string& tar, const TarLimits& limits = {}) {
  for (size_t chunk : {size_t{1} << 16, size_t{511}, size_t{1}}) {
    if (chunk == 1 && tar.size() > (4u << 20)) continue;
    auto p = ParseTar(tar, limits, chunk);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_EQ(p->split.headers.size(), p->entries.size());
    std::string again = Reassemble(*p);
    ASSERT_EQ(again.size(), tar.size());
    ASSERT_TRUE(again == tar) << "reassembled tar differs";
  }
  // Next() skipping every payload gives the same split.
  std::vector<size_t> all(100000);
  for (size_t i = 0; i < all.size(); i++) all[i] = i;
  auto full = ParseTar(tar, limits);
  auto skipped = ParseTar(tar, limits, 1000, all);
  ASSERT_TRUE(skipped.ok()) << skipped.status().ToString();
  EXPECT_EQ(skipped->split, full->split);
  EXPECT_EQ(skipped->entries, full->entries);
}

Status ParseError(const std::string& tar, const TarLimits& limits = {}) {
  auto p = ParseTar(tar, limits);
  return p.ok() ? Status::Ok() : p.status();
}

#define EXPECT_ERROR(tar, want, substr)                                       \
  do {                                                                        \
    Status _s = ParseError(tar);                                              \
    EXPECT_EQ(_s.code(), Status::Code::want) << _s.ToString();                \
    EXPECT_NE(_s.message().find(substr), std::string::npos) << _s.ToString(); \
  } while (0)

// ---------------------------------------------------------------------------
// Real archives written by GNU tar.

class GnuTarTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("/tmp", "tar_reader_test.");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tmp_ = std::move(*t);
    src_ = tmp_.path() + "/src";
    Sh("mkdir -p " + src_);
  }
  std::string Path(const std::string& rel) const { return src_ + "/" + rel; }

  // Builds the source tree; returns false when xattrs are not available.
  bool MakeTree() {
    for (size_t n : {0, 1, 511, 512, 513, 1 << 20}) {
      WriteAll(Path("f" + std::to_string(n)), Pattern(n, static_cast<uint32_t>(n)));
    }
    Sh("mkdir -p " + Path("emptydir") + " " + Path("sub/deeper"));
    std::string longdir = "d" + std::string(60, 'x') + "/e" + std::string(60, 'y');
    Sh("mkdir -p " + Path(longdir));
    long_file_ = longdir + "/" + std::string(150, 'z');
    WriteAll(Path(long_file_), "long name payload");
    Sh("ln -s f1 " + Path("link"));
    long_target_ = std::string(150, 't') + "/target";
    Sh("ln -s " + long_target_ + " " + Path("longlink"));
    Sh("ln " + Path("f513") + " " + Path("hard"));
    Sh("mknod " + Path("cdev") + " c 1 3 && mknod " + Path("bdev") + " b 7 5");
    Sh("mkfifo " + Path("fifo"));
    WriteAll(Path(".wh.gone"), "");
    WriteAll(Path("sub/.wh..wh..opq"), "");
    Sh("chmod 4755 " + Path("f1") + " && chmod 1777 " + Path("sub"));
    Sh("touch -h -d @1234567890.5 " + Path("f0") + " " + Path("link"));
    bool xattrs = ::setxattr(Path("f1").c_str(), "user.test", "value", 5, 0) == 0 &&
                  ::setxattr(Path("f1").c_str(), "user.bin", "\x00\xff\x01", 3, 0) == 0;
    return xattrs;
  }

  void CheckAgainstTree(const Parsed& p, bool posix) {
    std::map<std::string, std::string> regular_of_inode;
    for (size_t i = 0; i < p.entries.size(); i++) {
      const TocEntry& e = p.entries[i];
      SCOPED_TRACE(e.name);
      struct stat st;
      ASSERT_EQ(::lstat(Path(e.name).c_str(), &st), 0);
      EXPECT_EQ(e.mode, st.st_mode & 07777);
      EXPECT_EQ(e.uid, 1234u);
      EXPECT_EQ(e.gid, 5678u);
      EXPECT_EQ(e.uname, "alice");
      EXPECT_EQ(e.gname, "staff");
      EXPECT_EQ(e.mtime_sec, st.st_mtim.tv_sec);
      EXPECT_EQ(e.mtime_nsec, posix ? st.st_mtim.tv_nsec : 0);
      EXPECT_EQ(e.first_chunk, 0u);
      EXPECT_EQ(e.num_chunks, 0u);
      std::string key = std::to_string(st.st_ino);
      switch (e.type) {
        case EntryType::kRegular:
          ASSERT_TRUE(S_ISREG(st.st_mode));
          EXPECT_EQ(e.size, static_cast<uint64_t>(st.st_size));
          EXPECT_EQ(p.payloads[i], ReadAll(Path(e.name)));
          regular_of_inode[key] = e.name;
          break;
        case EntryType::kHardlink:
          ASSERT_TRUE(S_ISREG(st.st_mode));
          EXPECT_EQ(e.size, 0u);
          EXPECT_EQ(e.link_target, regular_of_inode[key]);
          break;
        case EntryType::kDirectory:
          EXPECT_TRUE(S_ISDIR(st.st_mode));
          EXPECT_EQ(e.size, 0u);
          break;
        case EntryType::kSymlink: {
          ASSERT_TRUE(S_ISLNK(st.st_mode));
          char buf[4096];
          ssize_t n = ::readlink(Path(e.name).c_str(), buf, sizeof(buf));
          EXPECT_EQ(e.link_target, std::string(buf, n));
          break;
        }
        case EntryType::kChar:
        case EntryType::kBlock:
          EXPECT_EQ(e.type == EntryType::kChar, S_ISCHR(st.st_mode));
          EXPECT_EQ(e.type == EntryType::kBlock, S_ISBLK(st.st_mode));
          EXPECT_EQ(e.dev_major, major(st.st_rdev));
          EXPECT_EQ(e.dev_minor, minor(st.st_rdev));
          break;
        case EntryType::kFifo:
          EXPECT_TRUE(S_ISFIFO(st.st_mode));
          break;
      }
      std::string_view base = std::string_view(e.name).substr(e.name.rfind('/') + 1);
      OverlayRole role = base == ".wh..wh..opq"     ? OverlayRole::kOpaque
                         : base.starts_with(".wh.") ? OverlayRole::kWhiteout
                                                    : OverlayRole::kNone;
      EXPECT_EQ(e.role, role);
    }
  }

  TempDir tmp_;
  std::string src_;
  std::string long_file_, long_target_;
};

TEST_P(GnuTarTest, FullTree) {
  const std::string format = GetParam();
  const bool posix = format == "posix";
  bool xattrs = MakeTree();
  if (!xattrs) std::fprintf(stderr, "note: no user xattrs on /tmp; xattr checks skipped\n");
  std::string tar_path = tmp_.path() + "/out.tar";
  Sh("tar --format=" + format + (posix && xattrs ? " --xattrs" : "") +
     " --owner=alice:1234 --group=staff:5678 -C " + src_ + " -cf " + tar_path + " .");
  std::string tar = ReadAll(tar_path);
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();

  ASSERT_FALSE(p->entries.empty());
  EXPECT_EQ(p->entries[0].name, ".");
  EXPECT_EQ(p->entries[0].type, EntryType::kDirectory);
  CheckAgainstTree(*p, posix);

  std::vector<std::string> want = {"f0",
                                   "f1",
                                   "f511",
                                   "f512",
                                   "f513",
                                   "f1048576",
                                   "emptydir",
                                   "sub/deeper",
                                   long_file_,
                                   "link",
                                   "longlink",
                                   "hard",
                                   "cdev",
                                   "bdev",
                                   "fifo",
                                   ".wh.gone",
                                   "sub/.wh..wh..opq"};
  for (const std::string& n : want) EXPECT_NE(Find(*p, n), nullptr) << n;
  const TocEntry* ll = Find(*p, "longlink");
  ASSERT_NE(ll, nullptr);
  EXPECT_EQ(ll->link_target, long_target_);
  const TocEntry* f0 = Find(*p, "f0");
  ASSERT_NE(f0, nullptr);
  EXPECT_EQ(f0->mtime_sec, 1234567890);
  if (posix) {
    EXPECT_EQ(f0->mtime_nsec, 500000000u);
  }
  const TocEntry* f1 = Find(*p, "f1");
  ASSERT_NE(f1, nullptr);
  if (posix && xattrs) {
    std::vector<std::pair<std::string, std::string>> want_x = {
        {"user.bin", std::string("\x00\xff\x01", 3)}, {"user.test", "value"}};
    EXPECT_EQ(f1->xattrs, want_x);
  } else {
    EXPECT_TRUE(f1->xattrs.empty());
  }
  ExpectRoundTrip(tar);
}

INSTANTIATE_TEST_SUITE_P(Formats, GnuTarTest, ::testing::Values("posix", "gnu"));

TEST_F(GnuTarTest, UstarPrefixAndV7) {
  std::string dir = std::string(80, 'p') + "/" + std::string(50, 'q');
  Sh("mkdir -p " + Path(dir));
  WriteAll(Path(dir + "/file"), "prefixed");
  WriteAll(Path("plain"), "v7");
  std::string ustar = tmp_.path() + "/u.tar", v7 = tmp_.path() + "/v7.tar";
  Sh("tar --format=ustar -C " + src_ + " -cf " + ustar + " " + dir.substr(0, 80) + " plain");
  Sh("tar --format=v7 -C " + src_ + " -cf " + v7 + " plain");
  auto p = ParseTar(ReadAll(ustar));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const TocEntry* f = Find(*p, dir + "/file");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->size, 8u);
  ExpectRoundTrip(ReadAll(ustar));
  auto q = ParseTar(ReadAll(v7));
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ASSERT_EQ(q->entries.size(), 1u);
  EXPECT_EQ(q->entries[0].name, "plain");
  EXPECT_EQ(q->entries[0].uname, "");
  EXPECT_EQ(q->payloads[0], "v7");
  ExpectRoundTrip(ReadAll(v7));
}

TEST_F(GnuTarTest, BigIdsUseBase256OrPax) {
  WriteAll(Path("f"), "x");
  for (const char* format : {"gnu", "posix"}) {
    std::string tar = tmp_.path() + "/" + format + ".tar";
    Sh(std::string("tar --format=") + format +
       " --owner=big:3000000 --group=big:4000000000 --mtime=@-100 -C " + src_ + " -cf " + tar +
       " f");
    auto p = ParseTar(ReadAll(tar));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_EQ(p->entries.size(), 1u);
    EXPECT_EQ(p->entries[0].uid, 3000000u) << format;
    EXPECT_EQ(p->entries[0].gid, 4000000000u) << format;
    EXPECT_EQ(p->entries[0].mtime_sec, -100) << format;
    ExpectRoundTrip(ReadAll(tar));
  }
}

TEST_F(GnuTarTest, SparseFilesUnsupported) {
  Sh("truncate -s 1M " + Path("sparse") + " && echo tail >> " + Path("sparse"));
  for (const char* format : {"gnu", "posix"}) {
    std::string tar = tmp_.path() + "/" + format + ".tar";
    Sh(std::string("tar --sparse --format=") + format + " -C " + src_ + " -cf " + tar + " sparse");
    Status s = ParseError(ReadAll(tar));
    EXPECT_EQ(s.code(), Status::Code::kUnsupported) << format << ": " << s.ToString();
    EXPECT_NE(s.message().find("sparse"), std::string::npos) << s.ToString();
  }
}

// ---------------------------------------------------------------------------
// Hand-made archives.

TEST(TarReader, EmptyArchives) {
  for (const std::string& tar :
       {std::string(), kEnd, std::string(512, '\0'), std::string(10240, '\0')}) {
    auto p = ParseTar(tar);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_TRUE(p->entries.empty());
    EXPECT_EQ(p->split.trailer, tar);
  }
}

TEST(TarReader, EndMarkerVariants) {
  std::string body = File("a", "hello") + Entry("d/", '5');
  for (const std::string& tail :
       {std::string(), std::string(512, '\0'), kEnd, kEnd + "garbage after the end"}) {
    std::string tar = body + tail;
    auto p = ParseTar(tar);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_EQ(p->entries.size(), 2u);
    EXPECT_EQ(p->split.trailer, tail);
    ExpectRoundTrip(tar);
  }
}

TEST(TarReader, OddPaddingIsKept) {
  std::string tar = File("a", "12345") + File("b", std::string(512, 'b')) + File("c", "x") + kEnd;
  tar[512 + 5 + 10] = 'J';       // inside a's padding
  tar[4 * 512 + 512 + 3] = 'K';  // inside c's padding
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->split.odd_padding.size(), 2u);
  EXPECT_EQ(p->split.odd_padding[0].first, 0u);
  EXPECT_EQ(p->split.odd_padding[1].first, 2u);
  EXPECT_EQ(p->split.odd_padding[0].second.size(), 507u);
  ExpectRoundTrip(tar);
}

TEST(TarReader, SignedChecksumAndV7Directory) {
  Hdr h;
  h.name = "caf\xe9";  // a byte >= 0x80 makes the two sums differ
  std::string b = h.Block();
  Hdr::FixChecksum(&b, /*is_signed=*/true);
  Hdr d;
  d.name = "olddir/";
  d.type = '\0';
  d.magic = std::string(8, '\0');
  std::string tar = b + d.Block() + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->entries.size(), 2u);
  EXPECT_EQ(p->entries[0].name, "caf\xe9");
  EXPECT_EQ(p->entries[1].name, "olddir");
  EXPECT_EQ(p->entries[1].type, EntryType::kDirectory);
  ExpectRoundTrip(tar);
}

TEST(TarReader, PaxRecords) {
  std::string recs = PaxRecord("path", "very/" + std::string(200, 'n')) +
                     PaxRecord("mtime", "-1.25") + PaxRecord("uid", "4000000000") +
                     PaxRecord("uname", "") + PaxRecord("SCHILY.xattr.user.raw", "a\nb=c") +
                     PaxRecord("LIBARCHIVE.xattr.user.a%3Db", "aGVsbG8") +
                     PaxRecord("LIBARCHIVE.xattr.user.raw", "aWdub3JlZA==") +
                     PaxRecord("atime", "1.5") + PaxRecord("comment", "ignored");
  std::string tar = Pax('x', recs) + File("short", "data") + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->entries.size(), 1u);
  const TocEntry& e = p->entries[0];
  EXPECT_EQ(e.name, "very/" + std::string(200, 'n'));
  EXPECT_EQ(e.mtime_sec, -2);
  EXPECT_EQ(e.mtime_nsec, 750000000u);
  EXPECT_EQ(e.uid, 4000000000u);
  EXPECT_EQ(e.gid, 1000u);
  EXPECT_EQ(e.uname, "user");  // an empty PAX value falls back to the header
  std::vector<std::pair<std::string, std::string>> want = {{"user.a=b", "hello"},
                                                           {"user.raw", "a\nb=c"}};
  EXPECT_EQ(e.xattrs, want);
  EXPECT_EQ(p->split.headers[0].size(), 512u * 3);
  ExpectRoundTrip(tar);
}

TEST(TarReader, PaxSizeOverridesHeader) {
  Hdr h;
  h.name = "f";
  h.size = 0;
  std::string tar = Pax('x', PaxRecord("size", "700")) + h.Block() + Padded(Pattern(700, 3)) + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->entries[0].size, 700u);
  EXPECT_EQ(p->payloads[0], Pattern(700, 3));
  ExpectRoundTrip(tar);
}

TEST(TarReader, GlobalHeaders) {
  std::string tar = Pax('g', PaxRecord("uid", "77") + PaxRecord("gname", "g")) + File("a", "") +
                    Pax('x', PaxRecord("uid", "88")) + File("b", "") + File("c", "") +
                    Pax('g', PaxRecord("uid", "")) + File("d", "") + Pax('g', "") + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->entries.size(), 4u);
  EXPECT_EQ(p->entries[0].uid, 77u);
  EXPECT_EQ(p->entries[0].gname, "g");
  EXPECT_EQ(p->entries[1].uid, 88u);
  EXPECT_EQ(p->entries[2].uid, 77u);
  EXPECT_EQ(p->entries[3].uid, 1000u);
  EXPECT_EQ(p->entries[3].gname, "g");
  EXPECT_EQ(p->split.headers[0].size(), 3u * 512);
  EXPECT_EQ(p->split.trailer.size(), 512 + kEnd.size());  // the last 'g' is kept there
  ExpectRoundTrip(tar);
}

TEST(TarReader, GnuLongNames) {
  Hdr l;
  l.name = "././@LongLink";
  l.type = 'L';
  std::string name = std::string(300, 'L') + "/file";
  l.size = name.size() + 1;
  Hdr k = l;
  k.type = 'K';
  std::string target = std::string(300, 'L') + "/other";
  k.size = target.size() + 1;
  Hdr e;
  e.name = name.substr(0, 100);
  e.type = '1';
  e.link = target.substr(0, 100);
  std::string tar = File(target, "") + l.Block() + Padded(name + '\0') + k.Block() +
                    Padded(target + '\0') + e.Block() + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->entries.size(), 2u);
  EXPECT_EQ(p->entries[1].name, name);
  EXPECT_EQ(p->entries[1].type, EntryType::kHardlink);
  EXPECT_EQ(p->entries[1].link_target, target);
  ExpectRoundTrip(tar);
}

TEST(TarReader, NonzeroSizeOnOtherTypesIsPayload) {
  Hdr s;
  s.name = "link";
  s.type = '2';
  s.link = "target";
  s.size = 10;
  std::string tar = s.Block() + Padded("0123456789") + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->entries[0].size, 10u);
  EXPECT_EQ(p->payloads[0], "0123456789");
  ExpectRoundTrip(tar);
}

TEST(TarReader, BadChecksum) {
  std::string tar = File("a", "x") + kEnd;
  tar[10] = 'Z';
  EXPECT_ERROR(tar, kCorruption, "checksum at offset 0");
  std::string two = File("a", "x") + File("b", "y") + kEnd;
  two[1024 + 140] ^= 1;
  EXPECT_ERROR(two, kCorruption, "checksum at offset 1024 (header after entry \"a\")");
}

TEST(TarReader, RejectsBadNames) {
  EXPECT_ERROR(File("../x", "") + kEnd, kInvalidArgument, "\"../x\"");
  EXPECT_ERROR(File("a/../../x", "") + kEnd, kInvalidArgument, "\"a/../../x\"");
  EXPECT_ERROR(File("/abs", "") + kEnd, kInvalidArgument, "absolute path \"/abs\"");
  EXPECT_ERROR(Entry("h", '1', "../etc/shadow") + kEnd, kInvalidArgument, "\"../etc/shadow\"");
  EXPECT_ERROR(Pax('x', PaxRecord("path", std::string("a\0b", 3))) + File("a", "") + kEnd,
               kInvalidArgument, "NUL");
  std::string longname = Pax('x', PaxRecord("path", std::string(5000, 'n'))) + File("a", "");
  EXPECT_ERROR(longname + kEnd, kInvalidArgument, "longer than 4096");
}

TEST(TarReader, NamesAreNormalized) {
  std::string tar = Entry("./", '5') + Entry("./d//e/./", '5') + File("./d/e/f", "") +
                    Entry("./d/h", '1', "./d//e/f") + Entry("s", '2', "../../verbatim/") + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->entries.size(), 5u);
  EXPECT_EQ(p->entries[0].name, ".");
  EXPECT_EQ(p->entries[1].name, "d/e");
  EXPECT_EQ(p->entries[2].name, "d/e/f");
  EXPECT_EQ(p->entries[3].link_target, "d/e/f");
  EXPECT_EQ(p->entries[4].link_target, "../../verbatim/");
  ExpectRoundTrip(tar);
}

TEST(TarReader, RejectsPathsThroughSymlinks) {
  EXPECT_ERROR(Entry("a", '2', "/etc") + File("a/passwd", "root::0:0") + kEnd, kInvalidArgument,
               "entry \"a/passwd\" goes through symlink \"a\"");
  EXPECT_ERROR(Entry("./x/y", '2', "..") + File("x/y/z/w", "") + kEnd, kInvalidArgument,
               "entry \"x/y/z/w\" goes through symlink \"x/y\"");
  EXPECT_ERROR(Entry("a", '2', "/etc") + Entry("h", '1', "a/shadow") + kEnd, kInvalidArgument,
               "goes through symlink \"a\"");
  // A symlink named like a prefix of a sibling is fine.
  std::string ok = Entry("a", '2', "/etc") + File("ab/c", "") + File("a.d", "") + kEnd;
  EXPECT_TRUE(ParseTar(ok).ok());
}

TEST(TarReader, Truncation) {
  std::string tar = File("a", "x") + File("big", Pattern(1000, 1)) + kEnd;
  EXPECT_ERROR(tar.substr(0, 300), kCorruption, "truncated tar at offset 300 (first header)");
  EXPECT_ERROR(tar.substr(0, 1024 + 100), kCorruption,
               "truncated tar at offset 1124 (header after entry \"a\")");
  EXPECT_ERROR(tar.substr(0, 1536 + 700), kCorruption,
               "truncated tar at offset 2236 (entry \"big\")");
  // Skipping the payload instead of reading it.
  auto p = ParseTar(tar.substr(0, 1536 + 700), {}, 1000, {0, 1});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("truncated tar at offset 2236 (entry \"big\")"),
            std::string::npos)
      << p.status().ToString();
  // Cut inside the padding after the payload.
  EXPECT_ERROR(tar.substr(0, 1536 + 1010), kCorruption, "truncated tar at offset 2546");
  // Extended headers with nothing after them.
  std::string x = Pax('x', PaxRecord("path", "p"));
  EXPECT_ERROR(x, kCorruption, "truncated");
  EXPECT_ERROR(x.substr(0, 700), kCorruption, "truncated");
  EXPECT_ERROR(x + kEnd, kCorruption, "end of archive after an extended header");
}

TEST(TarReader, TrailerLimit) {
  std::string tar = File("a", "x") + kEnd + std::string(2 << 20, '\0');
  EXPECT_ERROR(tar, kInvalidArgument, "bytes after end of archive (limit 1 MiB)");
  TarLimits big;
  big.max_trailer = 4 << 20;
  ExpectRoundTrip(tar, big);
}

TEST(TarReader, HugeSizes) {
  // 8 GiB declared, a few bytes present: truncated, nothing allocated.
  Hdr h;
  h.name = "huge";
  h.size = 077777777777ull;
  EXPECT_ERROR(h.Block() + "abc", kCorruption, "truncated tar at offset 515 (entry \"huge\")");
  // Base-256 overflowing 63 bits.
  std::string b = h.Block();
  std::memset(&b[124], 0xff, 12);
  b[124] = static_cast<char>(0x80);
  Hdr::FixChecksum(&b);
  EXPECT_ERROR(b + kEnd, kCorruption, "invalid size");
  // Negative base-256 size.
  std::memset(&b[124], 0xff, 12);
  Hdr::FixChecksum(&b);
  EXPECT_ERROR(b + kEnd, kCorruption, "negative size");
  // Garbage in an octal field.
  b = h.Block();
  std::memcpy(&b[124], "12x", 3);
  Hdr::FixChecksum(&b);
  EXPECT_ERROR(b + kEnd, kCorruption, "invalid size");
  // A PAX record of 2 MiB: over the limit before anything is read.
  Hdr x;
  x.name = "pax";
  x.type = 'x';
  x.size = 2 << 20;
  EXPECT_ERROR(x.Block(), kInvalidArgument, "limit 1 MiB");
  // A huge PAX size value.
  EXPECT_ERROR(Pax('x', PaxRecord("size", "99999999999999999999999")) + File("a", "") + kEnd,
               kCorruption, "invalid PAX size");
}

TEST(TarReader, MalformedPax) {
  for (const std::string& recs :
       {std::string("99 path=x\n"), std::string("5 a\n"), std::string("11 path=abc"),
        std::string("x path=a\n"), std::string("7 =abc\n"), std::string("9 path=a\nX"),
        std::string("0 \n")}) {
    EXPECT_ERROR(Pax('x', recs) + File("a", "") + kEnd, kCorruption, "malformed PAX record");
  }
  EXPECT_ERROR(Pax('x', PaxRecord("mtime", "1.x")) + File("a", "") + kEnd, kCorruption,
               "invalid PAX mtime");
  EXPECT_ERROR(Pax('x', PaxRecord("LIBARCHIVE.xattr.user.a", "!!")) + File("a", "") + kEnd,
               kCorruption, "LIBARCHIVE.xattr");
  // Trailing NULs inside the record data are tolerated.
  std::string tar = Pax('x', PaxRecord("path", "p") + std::string(5, '\0')) + File("a", "") + kEnd;
  auto p = ParseTar(tar);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->entries[0].name, "p");
}

TEST(TarReader, UnsupportedTypes) {
  EXPECT_ERROR(Entry("s", 'S') + kEnd, kUnsupported, "entry \"s\": sparse");
  EXPECT_ERROR(Pax('x', PaxRecord("GNU.sparse.size", "10")) + File("a", "") + kEnd, kUnsupported,
               "entry \"a\": sparse");
  EXPECT_ERROR(Entry("v", 'V') + kEnd, kUnsupported, "unsupported tar entry type 'V'");
  EXPECT_ERROR(Entry("z", 'Z') + kEnd, kUnsupported, "entry \"z\"");
}

TEST(TarReader, EntryLimit) {
  std::string tar = File("a", "") + File("b", "") + File("c", "") + kEnd;
  TarLimits l;
  l.max_entries = 2;
  auto p = ParseTar(tar, l);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("more than 2 entries"), std::string::npos);
}

// Random corruption of a real-looking archive: any outcome but a crash.
TEST(TarReader, FuzzFlips) {
  std::string tar = Pax('x', PaxRecord("path", "p/q") + PaxRecord("SCHILY.xattr.user.k", "v")) +
                    File("p/q", Pattern(700, 9)) + Entry("l", '2', "p") +
                    Pax('g', PaxRecord("uid", "5")) + File("r", "") + kEnd;
  ASSERT_TRUE(ParseTar(tar).ok());
  uint32_t x = 12345;
  int ok = 0;
  for (int iter = 0; iter < 3000; iter++) {
    std::string t = tar;
    for (int k = 0; k < 3; k++) {
      x = x * 1103515245u + 12345u;
      size_t pos = (x >> 8) % t.size();
      x = x * 1103515245u + 12345u;
      t[pos] = static_cast<char>(x >> 24);
    }
    if (iter % 2) {
      for (size_t blk = 0; blk + 512 <= t.size(); blk += 512) {
        std::string b = t.substr(blk, 512);
        if (b != std::string(512, '\0')) {
          Hdr::FixChecksum(&b);  // let the mutation reach the parser
          if (b.substr(148, 8) != t.substr(blk + 148, 8) && (x >> 3) % 2) t.replace(blk, 512, b);
        }
      }
    }
    auto p = ParseTar(t);
    if (p.ok()) {
      ok++;
      EXPECT_EQ(Reassemble(*p), t);
    }
  }
  SUCCEED() << ok << " mutated archives still parsed";
}

}  // namespace
}  // namespace cfs
