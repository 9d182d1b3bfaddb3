#include "builder/digest_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/io.h"
#include "builder/copy.h"
#include "store/testing/temp_store.h"

namespace cfs::builder {
namespace {

// The real Env with a clock the test sets: now_us when not 0, else the real
// clock moved by offset_us (still running: a store's RocksDB reads it too).
class ClockEnv : public EnvWrapper {
 public:
  ClockEnv() : EnvWrapper(Env::Default()) {}
  uint64_t NowMicros() override {
    uint64_t t = now_us.load();
    return t ? t : target()->NowMicros() + offset_us.load();
  }
  // The real time plus secs from now on.
  void Ahead(int64_t secs) {
    now_us = 0;
    offset_us = static_cast<uint64_t>(secs * 1'000'000);
  }
  std::atomic<uint64_t> now_us{0}, offset_us{0};
};

// Writes data into path in place (same inode when it exists).
void Overwrite(const std::string& path, const std::string& data) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid()) << path;
  ASSERT_TRUE(WriteAll(fd.get(), data.data(), data.size()).ok());
}

struct stat Lstat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st;
}

class DigestCacheTest : public cfs::testing::TempStoreTest {
 protected:
  // Digests of files (their lstat taken now) through a cache over store_.
  std::vector<FileDigest> Run(const std::vector<std::string>& paths, bool trust = true) {
    DigestCache cache(*store_, &clock_, trust);
    std::vector<DigestCache::File> files;
    for (const auto& p : paths) files.push_back({p, Lstat(p)});
    stats_ = {};
    auto r = cache.Digests(files, &stats_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::vector<FileDigest>{};
  }
  std::optional<DigestRecord> Stored(const std::string& path) {
    auto v = store_->GetDigestRecords({path});
    EXPECT_TRUE(v.ok());
    if (!v.ok() || !(*v)[0]) return std::nullopt;
    return DigestRecord::Decode(path, *(*v)[0]);
  }

  ClockEnv clock_;
  DigestCacheStats stats_;
};

TEST(DigestRecordTest, EncodesAndRefusesDamage) {
  DigestRecord r;
  r.id = {1, 2, 3, 4, 5, 6, 7};
  r.hashed_at_us = 123456789;
  r.sha256 = Digest::Of("x");
  r.last_used = 99;
  std::string v = r.Encode("/ctx/a");
  auto back = DigestRecord::Decode("/ctx/a", v);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->hashed_at_us, r.hashed_at_us);
  EXPECT_EQ(back->sha256, r.sha256);
  EXPECT_EQ(back->last_used, 99u);
  EXPECT_FALSE(DigestRecord::Decode("/ctx/b", v)) << "a record of another path";
  EXPECT_FALSE(DigestRecord::Decode("/ctx/a", v.substr(1))) << "short";
  EXPECT_FALSE(DigestRecord::Decode("/ctx/a", v + "x")) << "long";
  for (size_t i = 8; i < v.size(); i++) {
    std::string bad = v;
    bad[i] ^= 0x01;
    EXPECT_FALSE(DigestRecord::Decode("/ctx/a", bad)) << "flipped byte " << i;
  }
}

TEST(DigestRecordTest, RacyRecordsAreNotTrusted) {
  DigestRecord r;
  r.id.mtime_sec = 1000;
  r.id.ctime_sec = 1000;
  r.hashed_at_us = 1002 * 1'000'000;
  EXPECT_TRUE(r.Trusted(r.id));
  r.id.ctime_nsec = 1;  // 1 ns newer: less than the margin before the hashing
  EXPECT_FALSE(r.Trusted(r.id));
  r.hashed_at_us += 1;
  EXPECT_TRUE(r.Trusted(r.id));
  FileIdentity other = r.id;
  other.ino++;
  EXPECT_FALSE(r.Trusted(other));
}

TEST_F(DigestCacheTest, UnchangedFileComesFromTheRecord) {
  const std::string a = Path("a");
  Overwrite(a, "hello");
  clock_.Ahead(10);
  auto d = Run({a});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("hello"));
  EXPECT_EQ(d[0].size, 5u);
  EXPECT_EQ(stats_.hashed, 1u);
  EXPECT_EQ(stats_.cached, 0u);
  d = Run({a});
  EXPECT_EQ(stats_.hashed, 0u);
  EXPECT_EQ(stats_.cached, 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("hello"));
}

TEST_F(DigestCacheTest, SameSizeEditWithMtimeRestoredIsHashedAgain) {
  const std::string a = Path("a");
  Overwrite(a, "hello");
  struct stat before = Lstat(a);
  clock_.Ahead(10);
  Run({a});
  Overwrite(a, "HELLO");
  struct timespec ts[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, a.c_str(), ts, 0), 0);
  ASSERT_EQ(Lstat(a).st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  clock_.Ahead(20);
  auto d = Run({a});
  EXPECT_EQ(stats_.hashed, 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("HELLO"));
}

TEST_F(DigestCacheTest, ReplacedFileIsHashedAgain) {
  const std::string a = Path("a"), b = Path("b");
  Overwrite(a, "one");
  clock_.Ahead(10);
  Run({a});
  Overwrite(b, "two");
  ASSERT_EQ(::rename(b.c_str(), a.c_str()), 0);
  clock_.Ahead(20);
  auto d = Run({a});
  EXPECT_EQ(stats_.hashed, 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("two"));
  d = Run({a});
  EXPECT_EQ(stats_.cached, 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("two"));
}

TEST_F(DigestCacheTest, RacyFileIsNeitherRecordedNorTrusted) {
  const std::string a = Path("a");
  Overwrite(a, "young");
  const int64_t newest = FileIdentity::Of(Lstat(a)).NewestMicros();
  // Hashed within the margin of its last change: not recorded.
  clock_.now_us = static_cast<uint64_t>(newest + kRacyMarginMicros - 1);
  Run({a});
  EXPECT_EQ(stats_.hashed, 1u);
  EXPECT_FALSE(Stored(a).has_value());
  Run({a});
  EXPECT_EQ(stats_.hashed, 1u) << "hashed again";
  // Aged past the margin: recorded, then used.
  clock_.now_us = static_cast<uint64_t>(newest + kRacyMarginMicros);
  Run({a});
  EXPECT_EQ(stats_.hashed, 1u);
  ASSERT_TRUE(Stored(a).has_value());
  Run({a});
  EXPECT_EQ(stats_.cached, 1u);
  // A racy record written by someone else is not trusted either.
  DigestRecord r = *Stored(a);
  r.hashed_at_us = newest + kRacyMarginMicros - 1;
  r.sha256 = Digest::Of("stale");
  ASSERT_TRUE(store_->PutDigestRecords({{a, r.Encode(a)}}).ok());
  auto d = Run({a});
  EXPECT_EQ(stats_.hashed, 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("young"));
}

TEST_F(DigestCacheTest, CorruptRecordIsHashedAgainAndReplaced) {
  const std::string a = Path("a");
  Overwrite(a, "data");
  clock_.Ahead(10);
  Run({a});
  auto v = store_->GetDigestRecords({a});
  ASSERT_TRUE(v.ok() && (*v)[0]);
  std::string bad = *(*v)[0];
  bad[bad.size() - 40] ^= 0x20;  // inside the digest: the check fails
  ASSERT_TRUE(store_->PutDigestRecords({{a, bad}}).ok());
  auto d = Run({a});
  EXPECT_EQ(stats_.hashed, 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("data"));
  ASSERT_TRUE(store_->PutDigestRecords({{a, "garbage"}}).ok());
  Run({a});
  EXPECT_EQ(stats_.hashed, 1u);
  Run({a});
  EXPECT_EQ(stats_.cached, 1u) << "the corrupt record was replaced";
}

TEST_F(DigestCacheTest, UntrustedCacheHashesEverythingAndRewrites) {
  const std::string a = Path("a");
  Overwrite(a, "data");
  clock_.Ahead(10);
  Run({a});
  DigestRecord r = *Stored(a);
  r.sha256 = Digest::Of("poisoned");
  ASSERT_TRUE(store_->PutDigestRecords({{a, r.Encode(a)}}).ok());
  auto d = Run({a}, /*trust=*/false);
  EXPECT_EQ(stats_.hashed, 1u);
  EXPECT_EQ(d[0].sha256, Digest::Of("data"));
  EXPECT_EQ(Stored(a)->sha256, Digest::Of("data")) << "the record was rewritten";
}

TEST_F(DigestCacheTest, UncachedFilesAreNeverRecorded) {
  const std::string a = Path("a");
  Overwrite(a, "download");
  clock_.Ahead(10);
  DigestCache cache(*store_, &clock_, true);
  auto r = cache.Digests({{a, Lstat(a), /*uncached=*/true}}, &stats_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].sha256, Digest::Of("download"));
  EXPECT_FALSE(Stored(a).has_value());
}

TEST_F(DigestCacheTest, UseRefreshesLastUsedOncePerDay) {
  const std::string a = Path("a");
  Overwrite(a, "data");
  clock_.Ahead(10);
  Run({a});
  const uint64_t first = Stored(a)->last_used;
  clock_.Ahead(3600);
  Run({a});
  EXPECT_EQ(Stored(a)->last_used, first) << "not rewritten within a day";
  clock_.Ahead(2 * 86400);
  Run({a});
  EXPECT_EQ(stats_.cached, 1u);
  EXPECT_GT(Stored(a)->last_used, first + 86400);
}

TEST_F(DigestCacheTest, GcPrunesRecordsUnusedFor30Days) {
  ClockEnv store_clock;
  store_.reset();
  StoreOptions o;
  o.env = &store_clock;
  store_ = OpenStore("root", o);
  ASSERT_NE(store_, nullptr);
  const std::string a = Path("a"), b = Path("b");
  Overwrite(a, "old");
  Overwrite(b, "new");
  clock_.Ahead(10);
  Run({a});
  clock_.Ahead(20 * 86400);
  Run({b});
  ASSERT_TRUE(store_->PutDigestRecords({{Path("short"), "1234567"}}).ok());
  store_clock.Ahead((Store::kDigestRecordMaxAgeDays + 2) * 86400);
  auto g = store_->Gc();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->digest_records_removed, 2u);
  EXPECT_FALSE(Stored(a).has_value());
  EXPECT_TRUE(Stored(b).has_value());
}

TEST_F(DigestCacheTest, TwoCachesAtOnceAgree) {
  std::vector<std::string> paths;
  for (int i = 0; i < 50; i++) {
    paths.push_back(Path("f" + std::to_string(i)));
    Overwrite(paths.back(), "content " + std::to_string(i));
  }
  clock_.Ahead(10);
  std::vector<FileDigest> d1, d2;
  std::thread t([&] { d1 = Run(paths); });
  {
    DigestCache cache(*store_, &clock_, true);
    std::vector<DigestCache::File> files;
    for (const auto& p : paths) files.push_back({p, Lstat(p)});
    auto r = cache.Digests(files, nullptr);
    ASSERT_TRUE(r.ok());
    d2 = *r;
  }
  t.join();
  ASSERT_EQ(d1.size(), paths.size());
  ASSERT_EQ(d2.size(), paths.size());
  for (size_t i = 0; i < paths.size(); i++) {
    EXPECT_EQ(d1[i].sha256, Digest::Of("content " + std::to_string(i)));
    EXPECT_EQ(d2[i].sha256, d1[i].sha256);
  }
  Run(paths);
  EXPECT_EQ(stats_.cached, paths.size());
}

TEST_F(DigestCacheTest, SourcesDigestIsTheSameWithAndWithoutTheCache) {
  const std::string ctx = Path("ctx");
  ASSERT_TRUE(MakeDirs(ctx + "/d", 0755).ok());
  Overwrite(ctx + "/d/f", "file");
  Overwrite(ctx + "/g", "other");
  ASSERT_EQ(::symlink("d/f", (ctx + "/l").c_str()), 0);
  std::vector<CopySource> srcs{{".", ctx, ""}};
  clock_.Ahead(10);
  DigestCache cache(*store_, &clock_, true);
  auto plain = DigestSources(srcs);
  ASSERT_TRUE(plain.ok());
  DigestCacheStats s1, s2;
  auto first = DigestSources(srcs, &cache, &s1);
  auto second = DigestSources(srcs, &cache, &s2);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *plain);
  EXPECT_EQ(*second, *plain);
  EXPECT_EQ(s1.hashed, 2u);
  EXPECT_EQ(s2.cached, 2u);
  EXPECT_EQ(s2.hashed, 0u);
  Overwrite(ctx + "/g", "OTHER");
  clock_.Ahead(20);
  auto changed = DigestSources(srcs, &cache);
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(*changed, *plain);
}

}  // namespace
}  // namespace cfs::builder
