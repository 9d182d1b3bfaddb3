// Placeholders (builder/placeholder.h): a COPY writes the context's files
// into the step's upper dir without their data, and the import reads it from
// the context. Pinned here: the placeholder itself (sparse, sized, recorded),
// builds that give exactly the layers of the old way (every file's data
// copied into the upper dir) for many COPY forms, and a context file changed
// between the copy and the import failing the build by name.
#include "builder/placeholder.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <fstream>
#include <random>
#include <nlohmann/json.hpp>

#include "base/io.h"
#include "builder/builder.h"
#include "store/testing/temp_store.h"

namespace cfs::builder {
namespace {

namespace fs = std::filesystem;

void Write(const std::string& p, const std::string& data) {
  fs::create_directories(fs::path(p).parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

// n pseudo-random bytes (a fixed seed): several chunks, no dedup inside.
std::string Noise(size_t n, unsigned seed) {
  std::mt19937_64 g(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = g();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

// A plain tar of (name, data) members.
void WriteTar(const std::string& path, const std::vector<std::pair<std::string, std::string>>& members) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& [name, data] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0640);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(e, 1600000000, 0);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK) << archive_error_string(a);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

TEST(PlaceholdersTest, MakeSizesSparselyAndRecords) {
  auto tmp = TempDir::Create("/tmp", "placeholder-");
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();
  const std::string src = tmp->path() + "/src", dst = tmp->path() + "/dst", empty = tmp->path() + "/empty";
  Write(src, Noise(3 << 20, 1));
  Write(empty, "");
  Placeholders ph;
  UniqueFd in(::open(src.c_str(), O_RDONLY)), out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644));
  ASSERT_TRUE(in.valid() && out.valid());
  ASSERT_TRUE(ph.Make(in.get(), out.get(), src, "a/dst").ok());
  struct stat sst, dst_st;
  ASSERT_EQ(::stat(src.c_str(), &sst), 0);
  ASSERT_EQ(::stat(dst.c_str(), &dst_st), 0);
  EXPECT_EQ(dst_st.st_size, 3 << 20);
  EXPECT_EQ(dst_st.st_blocks, 0) << "the placeholder holds data blocks";
  ASSERT_EQ(ph.size(), 1u);
  const ExternalFileData& e = ph.data().at("a/dst");
  EXPECT_EQ(e.path, src);
  EXPECT_EQ(e.id.size, uint64_t{3} << 20);
  EXPECT_EQ(e.id.ino, sst.st_ino);
  EXPECT_EQ(e.id.dev, sst.st_dev);
  EXPECT_EQ(int64_t{e.id.mtime_sec} * 1000000000 + e.id.mtime_nsec,
            int64_t{sst.st_mtim.tv_sec} * 1000000000 + sst.st_mtim.tv_nsec);
  // An empty file is whole as it is: nothing to read elsewhere.
  UniqueFd ein(::open(empty.c_str(), O_RDONLY)), eout(::open((dst + "2").c_str(), O_WRONLY | O_CREAT, 0644));
  ASSERT_TRUE(ph.Make(ein.get(), eout.get(), empty, "e").ok());
  EXPECT_EQ(ph.data().count("e"), 0u);
  ph.Forget("a/dst");
  EXPECT_EQ(ph.size(), 0u);
}

// Builds in a store of its own; the same contexts built with and without
// placeholders must give the same layers and configs.
class PlaceholderBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("/tmp", "placeholder-build-");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tmp_ = std::move(*t);
    MakeContexts();
  }
  std::string P(const std::string& rel) const { return tmp_.path() + "/" + rel; }

  void MakeContexts() {
    const std::string b = P("base");
    Write(b + "/etc/conf", "conf-old\n");
    Write(b + "/etc/keep/k", "k\n");
    Write(b + "/opt/thing", "a file the next image makes a directory\n");
    Write(b + "/var/target", "t\n");
    Write(b + "/empty0", "");
    Write(b + "/deep/a/b/c/d/e.txt", "deep\n");
    Write(b + "/big.bin", Noise(9 << 20, 2));
    fs::create_directory_symlink("etc", b + "/lnk");
    fs::create_symlink("target", b + "/var/old");
    ::chmod((b + "/etc/keep").c_str(), 0750);
    ::chmod((b + "/var/target").c_str(), 0600);
    const std::string a = P("app");
    Write(a + "/over/etc/conf", "conf-new\n");
    Write(a + "/over/opt/thing/sub/s", "sub\n");
    Write(a + "/over/var/old", "was a symlink\n");
    Write(a + "/over/newdir/n/empty", "");
    Write(a + "/over/big.bin", Noise(5 << 20, 3));
    Write(a + "/one.txt", "one\n");
    Write(a + "/wild/a.txt", "a\n");
    Write(a + "/wild/b.txt", "b\n");
    Write(a + "/wild/c.dat", "c\n");
    Write(a + "/web/x.yaml", "kind: ConfigMap\n");
    Write(a + "/same/one.txt", "ONE\n");  // the size of one.txt: replaced by ADD's member below
    WriteTar(a + "/app.tar", {{"m1", "member one\n"}, {"sub/m2", Noise(2 << 20, 4)}, {"one.txt", "TAR\n"}});
    Write(P("Kubefile.base"), "FROM scratch\nCOPY . .\n");
    Write(P("Kubefile.app"),
          "FROM test/base:1\n"
          "COPY over/ /\n"                    // files replaced, a dir over a file (opaque), deep new dirs
          "COPY one.txt etc/renamed.txt\n"    // file to file
          "COPY one.txt etc/keep/\n"          // into a lower dir (copy-up), trailing /
          "COPY wild/*.txt wl/\n"             // wildcard
          "COPY wild wild2\n"                 // a directory's contents
          "ADD same/one.txt app.tar opt/app/\n"  // a placeholder, then a member over it
          "APP web local://web\n");
  }

  // Builds base then app in a fresh store (kept in stores_); returns
  // (base, app) details.
  void BuildBoth(bool old_way, ImageDetails* base, ImageDetails* app) {
    auto created = testing::TempStore::Create("placeholder-store-");
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    stores_.push_back(std::move(*created));
    testing::TempStore* ts = &stores_.back();
    for (int i = 0; i < 2; i++) {
      BuildOptions o;
      o.kubefile = P(i == 0 ? "Kubefile.base" : "Kubefile.app");
      o.context = P(i == 0 ? "base" : "app");
      o.tag = i == 0 ? "test/base:1" : "test/app:1";
      o.collect_images = false;
      o.copy_data_into_upper = old_way;
      auto r = Build(*ts->store, o);
      ASSERT_TRUE(r.ok()) << (old_way ? "old way: " : "placeholders: ") << r.status().ToString();
      *(i == 0 ? base : app) = r->image;
    }
    auto f = ts->store->Fsck();
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_TRUE(f->problems.empty()) << f->problems[0];
  }

  // The config without its times and layers (two builds run at different
  // seconds; the layers are compared on their own).
  static nlohmann::json Timeless(const std::string& config) {
    nlohmann::json c = nlohmann::json::parse(config);
    c.erase("created");
    c.erase("rootfs");
    for (auto& h : c["history"]) h.erase("created");
    return c;
  }

  // A layer's TOC without the mtimes of directories: a directory a step
  // writes into (a copied-up lower one) gets the time of the step, in either
  // way, so two builds at different times differ there and only there.
  static LayerToc DirTimeless(Store& s, const Digest& diff_id) {
    auto toc = s.GetLayerToc(diff_id);
    EXPECT_TRUE(toc.ok()) << toc.status().ToString();
    if (!toc.ok()) return {};
    for (auto& e : toc->entries)
      if (e.type == EntryType::kDirectory) e.mtime_sec = e.mtime_nsec = 0;
    return *toc;
  }

  TempDir tmp_;
  std::deque<testing::TempStore> stores_;
};

TEST_F(PlaceholderBuildTest, SameLayersAsCopyingTheData) {
  ImageDetails base_new, app_new, base_old, app_old;
  ASSERT_NO_FATAL_FAILURE(BuildBoth(false, &base_new, &app_new));
  ASSERT_NO_FATAL_FAILURE(BuildBoth(true, &base_old, &app_old));
  ASSERT_EQ(app_new.layers.size(), 8u);  // the base's one and app's seven
  ASSERT_EQ(app_old.layers.size(), app_new.layers.size());
  // Byte-identical where every directory's time comes from the context:
  // COPY . . from scratch, and COPY over/ / (its directories all in over/).
  EXPECT_EQ(base_new.layers[0].diff_id, base_old.layers[0].diff_id);
  EXPECT_EQ(app_new.layers[1].diff_id, app_old.layers[1].diff_id) << "COPY over/ /";
  for (size_t i = 0; i < app_new.layers.size(); i++) {
    LayerToc a = DirTimeless(*stores_[0].store, app_new.layers[i].diff_id);
    LayerToc b = DirTimeless(*stores_[1].store, app_old.layers[i].diff_id);
    ASSERT_FALSE(a.entries.empty()) << "layer " << i;
    EXPECT_TRUE(a.entries == b.entries) << "layer " << i << ": the TOC entries differ";
    EXPECT_TRUE(a.chunks == b.chunks) << "layer " << i << ": the chunks differ";
  }
  EXPECT_EQ(Timeless(app_new.config), Timeless(app_old.config));
}

TEST_F(PlaceholderBuildTest, ContextFileChangedBeforeImportFailsByName) {
  const std::string big = P("base/big.bin");
  const std::string real = fs::canonical(big).string();
  // Same size, other bytes, and an older mtime (set, so that the check
  // never depends on the clock's granularity); or the file removed.
  const std::function<void()> changes[] = {
      [&] {
        Write(big, Noise(9 << 20, 5));
        struct timespec ts[2] = {{978307200, 0}, {978307200, 0}};
        ASSERT_EQ(::utimensat(AT_FDCWD, big.c_str(), ts, 0), 0);
      },
      [&] { ASSERT_EQ(::unlink(big.c_str()), 0); }};
  for (bool old_way : {false, true})
    for (const auto& change : changes) {
      auto ts = testing::TempStore::Create("placeholder-store-");
      ASSERT_TRUE(ts.ok()) << ts.status().ToString();
      Write(big, Noise(9 << 20, 2));
      BuildOptions o;
      o.kubefile = P("Kubefile.base");
      o.context = P("base");
      o.tag = "test/changed:1";
      o.collect_images = false;
      o.copy_data_into_upper = old_way;
      o.before_import = [&](const std::string&) { change(); };
      auto r = Build(*ts->store, o);
      if (old_way) {  // the data was copied already: the change comes too late to matter
        EXPECT_TRUE(r.ok()) << r.status().ToString();
        continue;
      }
      ASSERT_FALSE(r.ok()) << "a context file changed between the copy and the import, and the build succeeded";
      const std::string m = r.status().message();
      EXPECT_NE(m.find("Kubefile.base:2: "), std::string::npos) << m;
      EXPECT_NE(m.find(real + ": changed while being built"), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      EXPECT_FALSE(ts->store->Inspect("test/changed:1").ok()) << "a failed build tagged its image";
      auto f = ts->store->Fsck();
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      EXPECT_TRUE(f->problems.empty()) << f->problems[0];
    }
}

}  // namespace
}  // namespace cfs::builder
