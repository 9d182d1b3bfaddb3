#include "deploy/rootfs_transfer.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "base/digest.h"
#include "layer/testing/layer_testing.h"

namespace cfs::deploy {
namespace {

using MemChunks = testing::MemoryChunks;

class LayerBuilder {
 public:
  explicit LayerBuilder(MemChunks* chunks) : chunks_(chunks) {}
  LayerBuilder& Dir(const std::string& name) { return Add(EntryType::kDirectory, name, 0755, ""); }
  LayerBuilder& File(const std::string& name, const std::string& data, uint32_t mode = 0644) {
    Add(EntryType::kRegular, name, mode, "");
    auto& e = toc_->entries.back();
    e.size = data.size();
    e.first_chunk = toc_->chunks.size();
    // Two chunks for anything longer than 4 bytes, to cover chunk joins.
    size_t half = data.size() > 4 ? data.size() / 2 : data.size();
    toc_->chunks.push_back(chunks_->Put(data.substr(0, half)));
    e.num_chunks = 1;
    if (half < data.size()) {
      toc_->chunks.push_back(chunks_->Put(data.substr(half)));
      e.num_chunks = 2;
    }
    return *this;
  }
  LayerBuilder& Symlink(const std::string& name, const std::string& target) {
    return Add(EntryType::kSymlink, name, 0777, target);
  }
  std::shared_ptr<const LayerToc> toc() const { return toc_; }

 private:
  LayerBuilder& Add(EntryType t, const std::string& name, uint32_t mode, const std::string& link) {
    TocEntry e;
    e.type = t;
    e.name = name;
    e.mode = mode;
    e.mtime_sec = 1700000000;
    e.link_target = link;
    toc_->entries.push_back(e);
    return *this;
  }
  MemChunks* chunks_;
  std::shared_ptr<LayerToc> toc_ = std::make_shared<LayerToc>();
};

LayerStack Stack(std::vector<std::shared_ptr<const LayerToc>> layers) {
  auto s = LayerStack::Build(std::move(layers));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return std::move(*s);
}

std::vector<std::string> Paths(const RootfsPlan& p) {
  std::vector<std::string> out;
  for (const auto& e : p.entries) out.push_back(e.path);
  return out;
}

// Reads a compressed tar back: path → (type char, content).
std::map<std::string, std::pair<char, std::string>> ReadTar(const std::string& data) {
  std::map<std::string, std::pair<char, std::string>> out;
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, data.data(), data.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    char t = S_ISDIR(archive_entry_mode(e)) ? 'd' : S_ISLNK(archive_entry_mode(e)) ? 'l' : 'f';
    std::string body;
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) body.append(buf, n);
    if (t == 'l') body = archive_entry_symlink(e);
    std::string path = archive_entry_pathname(e);
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    out[path] = {t, body};
  }
  archive_read_free(a);
  return out;
}

std::string Stream(const LayerStack& s, MemChunks& c, const RootfsPlan& p,
                   const std::vector<size_t>& send, const std::string& comp) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  Status st;
  std::thread t([&] { st = WriteRootfsTar(s, c, p, send, comp, {fds[1]}); });
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  close(fds[0]);
  t.join();
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(Rootfs, PlanRendersTemplatesAndLeavesRegistryToMasters) {
  MemChunks chunks;
  LayerBuilder base(&chunks);
  base.Dir("etc")
      .File("etc/kubeadm.yml.tmpl", "advertise: {{ .CIMG_HOST_IP }}\npod: {{.POD_CIDR}}\n")
      .File("etc/plain.tmpl.txt", "{{ .NOT_RENDERED }}")
      .Dir("statics")
      .File("statics/audit.yaml",
            "line1\n{{- if .POD_CIDR }}\npod={{ .POD_CIDR }}{{ end }}\n"
            "b64={{ .CIMG_HOST_IP | b64enc }}\nhost={{ .CIMG_HOST_IP }}\n")
      .Dir("registry")
      .File("registry/blob", "blob-bytes")
      .Symlink("bin", "usr/bin");
  auto stack = Stack({base.toc()});
  std::map<std::string, std::string> env = {{"CIMG_HOST_IP", "10.0.0.2"}, {"POD_CIDR", "10.1.0.0/16"}};

  auto master = PlanRootfs(stack, chunks, env, true);
  ASSERT_TRUE(master.ok()) << master.status().message();
  auto node = PlanRootfs(stack, chunks, env, false);
  ASSERT_TRUE(node.ok());
  auto mp = Paths(*master), np = Paths(*node);
  EXPECT_NE(std::find(mp.begin(), mp.end(), "registry/blob"), mp.end());
  EXPECT_EQ(std::find(np.begin(), np.end(), "registry"), np.end());
  EXPECT_EQ(std::find(np.begin(), np.end(), "registry/blob"), np.end());
  // etc/kubeadm.yml appears, rendered; the .tmpl stays as it was.
  EXPECT_NE(std::find(mp.begin(), mp.end(), "etc/kubeadm.yml"), mp.end());

  std::vector<size_t> all(master->entries.size());
  for (size_t i = 0; i < all.size(); i++) all[i] = i;
  auto files = ReadTar(Stream(stack, chunks, *master, all, "zstd"));
  EXPECT_EQ(files["etc/kubeadm.yml"].second, "advertise: 10.0.0.2\npod: 10.1.0.0/16\n");
  EXPECT_EQ(files["etc/kubeadm.yml.tmpl"].second, "advertise: {{ .CIMG_HOST_IP }}\npod: {{.POD_CIDR}}\n");
  EXPECT_EQ(files["etc/plain.tmpl.txt"].second, "{{ .NOT_RENDERED }}");
  EXPECT_EQ(files["statics/audit.yaml"].second,
            "line1\npod=10.1.0.0/16\nb64=MTAuMC4wLjI=\nhost=10.0.0.2\n");
  EXPECT_EQ(files["registry/blob"].second, "blob-bytes");
  EXPECT_EQ(files["bin"], std::make_pair('l', std::string("usr/bin")));
  EXPECT_EQ(files["etc"].first, 'd');

  // Another host gets its own rendering, so its fingerprints differ there only.
  env["CIMG_HOST_IP"] = "10.0.0.3";
  auto other = PlanRootfs(stack, chunks, env, true);
  ASSERT_TRUE(other.ok());
  auto old = DecodeRecord(EncodeRecord(*master));
  ASSERT_TRUE(old.ok());
  auto d = ComputeDelta(*other, *old);
  std::vector<std::string> sent;
  for (size_t i : d.send) sent.push_back(other->entries[i].path);
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sent, (std::vector<std::string>{"etc/kubeadm.yml", "statics/audit.yaml"}));
  EXPECT_TRUE(d.remove.empty());
}

// sealer renders an application's *.tmpl files with its env (APPENV over
// the image's): the apps given, over the host's env; other apps' templates
// stay as they are.
TEST(Rootfs, PlanRendersAppTemplatesWithTheAppsEnv) {
  MemChunks chunks;
  LayerBuilder base(&chunks);
  base.Dir("application")
      .Dir("application/apps")
      .Dir("application/apps/web")
      .File("application/apps/web/svc.yaml.tmpl", "mode: {{ .MODE }} host: {{ .CIMG_HOST_IP }}\n")
      .Dir("application/apps/other")
      .File("application/apps/other/x.yaml.tmpl", "{{ .MODE }}");
  auto stack = Stack({base.toc()});
  std::map<std::string, std::string> env = {{"CIMG_HOST_IP", "10.0.0.2"}, {"MODE", "host"}};
  PlanExtras x;
  x.app_env = {{"web", {{"MODE", "fast"}}}};
  auto p = PlanRootfs(stack, chunks, env, true, x);
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<size_t> all(p->entries.size());
  for (size_t i = 0; i < all.size(); i++) all[i] = i;
  auto files = ReadTar(Stream(stack, chunks, *p, all, "zstd"));
  EXPECT_EQ(files["application/apps/web/svc.yaml"].second, "mode: fast host: 10.0.0.2\n");
  EXPECT_EQ(files.count("application/apps/other/x.yaml"), 0u);
  EXPECT_EQ(files["application/apps/other/x.yaml.tmpl"].second, "{{ .MODE }}");
  // without app envs (an image without sealer's extension) nothing of it is rendered
  auto plain = PlanRootfs(stack, chunks, env, true);
  ASSERT_TRUE(plain.ok());
  auto paths = Paths(*plain);
  EXPECT_EQ(std::find(paths.begin(), paths.end(), "application/apps/web/svc.yaml"), paths.end());
}

TEST(Rootfs, UnsetTemplateKeyNamesFileLineAndColumn) {
  MemChunks chunks;
  LayerBuilder base(&chunks);
  base.Dir("statics").File("statics/a.conf", "one\ntwo {{ .MISSING }}\n");
  auto stack = Stack({base.toc()});
  auto p = PlanRootfs(stack, chunks, {}, true);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "statics/a.conf:2:8: executing \"statics/a.conf\" at <.MISSING>: map has no entry for "
            "key \"MISSING\" (MISSING is not set: give it in the Clusterfile env or with -e)");
}

// Templates are Go text/template: a function the engine lacks fails the
// plan, even in a branch that would not run, and nothing is half rendered.
TEST(Rootfs, UnsupportedTemplateFunctionFailsThePlan) {
  MemChunks chunks;
  LayerBuilder base(&chunks);
  base.Dir("statics")
      .File("statics/ok.conf", "{{ if eq .ROLE \"master\" }}m{{ else }}n{{ end }}")
      .File("statics/x.conf", "{{ if false }}{{ .A | sha256sum }}{{ end }}");
  auto stack = Stack({base.toc()});
  auto p = PlanRootfs(stack, chunks, {{"A", "a"}, {"ROLE", "master"}}, true);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(), "statics/x.conf:1:23: function \"sha256sum\" not defined");
}

TEST(Rootfs, DeltaSendsChangesAndRemovesWhatIsGone) {
  MemChunks chunks;
  LayerBuilder v1(&chunks);
  v1.Dir("a").File("a/same", "same").File("a/changes", "old contents").File("a/goes", "bye")
      .Dir("turns-link").File("turns-link/inner", "x").File("mode", "m", 0644);
  auto s1 = Stack({v1.toc()});
  auto p1 = PlanRootfs(s1, chunks, {}, true);
  ASSERT_TRUE(p1.ok());

  LayerBuilder v2(&chunks);
  v2.Dir("a").File("a/same", "same").File("a/changes", "new contents!").File("a/new", "hi")
      .Symlink("turns-link", "a").File("mode", "m", 0755);
  auto s2 = Stack({v2.toc()});
  auto p2 = PlanRootfs(s2, chunks, {}, true);
  ASSERT_TRUE(p2.ok());

  auto rec = DecodeRecord(EncodeRecord(*p1));
  ASSERT_TRUE(rec.ok());
  // Nothing to do against one's own record.
  auto none = ComputeDelta(*p1, *rec);
  EXPECT_TRUE(none.send.empty());
  EXPECT_TRUE(none.remove.empty());

  auto d = ComputeDelta(*p2, *rec);
  std::vector<std::string> sent;
  for (size_t i : d.send) sent.push_back(p2->entries[i].path);
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(sent, (std::vector<std::string>{"a/changes", "a/new", "mode", "turns-link"}));
  std::sort(d.remove.begin(), d.remove.end());
  EXPECT_EQ(d.remove, (std::vector<std::string>{"a/goes", "turns-link", "turns-link/inner"}));
  EXPECT_EQ(d.send_bytes, std::string("new contents!").size() + 2 + 1);

  // Only the delta travels.
  auto files = ReadTar(Stream(s2, chunks, *p2, d.send, "gzip"));
  EXPECT_EQ(files.size(), 4u);
  EXPECT_EQ(files["a/changes"].second, "new contents!");
  EXPECT_EQ(files["turns-link"], std::make_pair('l', std::string("a")));
}

TEST(Rootfs, RecordKeepsOddPaths) {
  MemChunks chunks;
  LayerBuilder l(&chunks);
  l.File("new\nline", "x").File("back\\slash", "y").File("sp ace", "z");
  auto s = Stack({l.toc()});
  auto p = PlanRootfs(s, chunks, {}, true);
  ASSERT_TRUE(p.ok());
  auto rec = DecodeRecord(EncodeRecord(*p));
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->size(), 3u);
  EXPECT_TRUE(rec->count("new\nline"));
  EXPECT_TRUE(rec->count("back\\slash"));
  EXPECT_TRUE(rec->count("sp ace"));
  EXPECT_FALSE(DecodeRecord("short line\n").ok());
  EXPECT_FALSE(DecodeRecord(std::string(32, 'a') + " f ../../etc/passwd\n").ok());
  EXPECT_FALSE(DecodeRecord(std::string(32, 'a') + " f /etc/passwd\n").ok());
}

TEST(Rootfs, GzipRoundTrip) {
  std::string big(100000, 'q');
  big += "tail";
  auto back = Gunzip(Gzip(big));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, big);
  EXPECT_FALSE(Gunzip("not gzip at all").ok());
  std::string cut = Gzip(big);
  cut.resize(cut.size() / 2);
  EXPECT_FALSE(Gunzip(cut).ok());
}

TEST(Rootfs, OneStreamToSeveralReadersSurvivesOneLeaving) {
  MemChunks chunks;
  LayerBuilder l(&chunks);
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>(i / 4096);
  l.Dir("d").File("d/big", big).File("d/small", "s");
  auto s = Stack({l.toc()});
  auto p = PlanRootfs(s, chunks, {}, true);
  ASSERT_TRUE(p.ok());
  std::vector<size_t> all = {0, 1, 2};
  int a[2], b[2];
  ASSERT_EQ(pipe(a), 0);
  ASSERT_EQ(pipe(b), 0);
  close(b[0]);  // this reader is gone from the start (a host that hung up)
  Status st;
  std::thread t([&] { st = WriteRootfsTar(s, chunks, *p, all, "zstd", {a[1], b[1]}); });
  std::string got;
  char buf[65536];
  ssize_t n;
  while ((n = read(a[0], buf, sizeof buf)) > 0) got.append(buf, n);
  close(a[0]);
  t.join();
  EXPECT_TRUE(st.ok()) << st.message();
  auto files = ReadTar(got);
  EXPECT_EQ(files["d/big"].second, big);
  EXPECT_EQ(files["d/small"].second, "s");

  // No reader left at all: an error.
  int c[2];
  ASSERT_EQ(pipe(c), 0);
  close(c[0]);
  EXPECT_FALSE(WriteRootfsTar(s, chunks, *p, all, "gzip", {c[1]}).ok());
}

TEST(Rootfs, MissingChunkFailsTheStream) {
  MemChunks chunks, empty;
  LayerBuilder l(&chunks);
  l.File("f", "contents");
  auto s = Stack({l.toc()});
  auto p = PlanRootfs(s, chunks, {}, true);
  ASSERT_TRUE(p.ok());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Status st;
  std::thread t([&] { st = WriteRootfsTar(s, empty, *p, {0}, "zstd", {fds[1]}); });
  char buf[4096];
  while (read(fds[0], buf, sizeof buf) > 0) {
  }
  close(fds[0]);
  t.join();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("f: chunk"), std::string::npos) << st.message();
}

// ---- Implied parents and symlinked directories (issue: exit 139) ----

TEST(Rootfs, ImpliedParentsAndSymlinkTurnedDirectoryArePlanned) {
  MemChunks chunks;
  LayerBuilder only(&chunks);  // a tar holding only opt/app/config.txt
  only.File("opt/app/config.txt", "k=v\n");
  LayerBuilder link(&chunks), over(&chunks);
  link.Symlink("etc", "/etc");  // etc -> /etc under a layer with etc/x
  over.File("etc/x", "x");
  auto stack = Stack({only.toc(), link.toc(), over.toc()});
  auto p = PlanRootfs(stack, chunks, {}, true);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(Paths(*p), (std::vector<std::string>{"etc", "etc/x", "opt", "opt/app",
                                                 "opt/app/config.txt"}));
  std::vector<size_t> all(p->entries.size());
  for (size_t i = 0; i < all.size(); i++) all[i] = i;
  auto files = ReadTar(Stream(stack, chunks, *p, all, "zstd"));
  EXPECT_EQ(files["etc"].first, 'd');
  EXPECT_EQ(files["opt/app"].first, 'd');
  EXPECT_EQ(files["opt/app/config.txt"].second, "k=v\n");
  EXPECT_EQ(files["etc/x"].second, "x");
}

// ---- Randomized differential test: plan + stream + unpack against ----
// ---- extraction by hand (layer/testing/layer_testing.h)           ----

// The generated layer `l` (layer k of its stack) with file data: entry i holds
// Tag(k, i), as ApplyOnDisk writes it; long ones in two chunks.
std::shared_ptr<const LayerToc> WithData(const testing::Layer& l, uint32_t k, MemChunks* chunks) {
  auto toc = std::make_shared<LayerToc>(l.raw());
  for (uint32_t i = 0; i < toc->entries.size(); i++) {
    TocEntry& e = toc->entries[i];
    if (e.type != EntryType::kRegular || e.role != OverlayRole::kNone) continue;
    std::string data = testing::Tag(k, i);
    e.size = data.size();
    e.first_chunk = toc->chunks.size();
    e.num_chunks = 2;
    toc->chunks.push_back(chunks->Put(data.substr(0, 2)));
    toc->chunks.push_back(chunks->Put(data.substr(2)));
  }
  return toc;
}

// Streams all of `plan` into `dir` and unpacks it there with libarchive's
// disk writer (permissions and owners kept, as the host's tar -p does).
void StreamIntoDir(const LayerStack& s, MemChunks& c, const RootfsPlan& plan,
                   const std::string& dir) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<size_t> all(plan.entries.size());
  for (size_t i = 0; i < all.size(); i++) all[i] = i;
  Status st;
  std::thread producer([&] { st = WriteRootfsTar(s, c, plan, all, "zstd", {fds[1]}); });
  archive* in = archive_read_new();
  archive_read_support_filter_all(in);
  archive_read_support_format_tar(in);
  archive* out = archive_write_disk_new();
  archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
                                          ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                          ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  std::string err;
  if (archive_read_open_fd(in, fds[0], 65536) != ARCHIVE_OK) err = archive_error_string(in);
  archive_entry* e;
  int r;
  while (err.empty() && (r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
    archive_entry_set_pathname(e, (dir + "/" + archive_entry_pathname(e)).c_str());
    if (archive_read_extract2(in, e, out) != ARCHIVE_OK) err = archive_error_string(out);
  }
  if (err.empty() && r != ARCHIVE_EOF) err = archive_error_string(in);
  archive_write_free(out);
  archive_read_free(in);
  close(fds[0]);
  producer.join();
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(err, "");
}

// The tree below dir as WalkDisk lists it, without the root itself (deploy
// leaves the rootfs directory's own metadata alone).
std::vector<std::string> Tree(const std::string& dir) {
  std::vector<std::string> out;
  testing::WalkDisk(dir, ".", &out);
  if (!out.empty()) out.erase(out.begin());
  return out;
}

// Merged hard links whose data lives in a lower layer than the link.
int CrossLayerLinks(const LayerStack& s) {
  int n = 0;
  s.Walk([&](const std::string&, LayerStack::Ref r) {
    if (!r.synthetic() && s.Entry(r).type == EntryType::kHardlink && s.ResolveHardlink(r).layer < r.layer)
      n++;
  });
  return n;
}

TEST(Rootfs, PlanAndStreamMatchExtractionOnDisk) {
  ASSERT_EQ(geteuid(), 0u) << "this test needs root (any mode, owners kept on unpack)";
  testing::LayerGen gen(20261206);
  testing::TempDir tmp;
  auto start = std::chrono::steady_clock::now();
  constexpr int kStacks = 2000;
  int cross_links = 0;
  for (int iter = 0; iter < kStacks; ++iter) {
    std::string want_dir = tmp.path() / ("w" + std::to_string(iter));
    std::string got_dir = tmp.path() / ("g" + std::to_string(iter));
    ASSERT_EQ(mkdir(want_dir.c_str(), 0755), 0);
    ASSERT_EQ(mkdir(got_dir.c_str(), 0755), 0);
    MemChunks chunks;
    std::vector<std::shared_ptr<const LayerToc>> tocs;
    std::string dump;
    for (int k = 0, n = 1 + iter % 6; k < n; ++k) {
      testing::Layer l = gen.Make(k == 0 ? std::vector<std::string>{}
                                         : testing::LowerFiles(want_dir));
      testing::ApplyOnDisk(want_dir, l.raw(), k);
      if (HasFatalFailure()) return;
      dump += "layer " + std::to_string(k) + ":\n" + testing::Dump(l.raw());
      tocs.push_back(WithData(l, k, &chunks));
    }
    auto stack = LayerStack::Build(std::move(tocs));
    ASSERT_TRUE(stack.ok()) << stack.status().message() << "\n" << dump;
    auto plan = PlanRootfs(*stack, chunks, {}, true);
    ASSERT_TRUE(plan.ok()) << plan.status().message() << "\n" << dump;
    StreamIntoDir(*stack, chunks, *plan, got_dir);
    if (HasFatalFailure()) return;
    ASSERT_EQ(Tree(got_dir), Tree(want_dir)) << "stack " << iter << "\n" << dump;
    cross_links += CrossLayerLinks(*stack);
    std::filesystem::remove_all(want_dir);
    std::filesystem::remove_all(got_dir);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("rootfs differential: %d stacks (%d hard links across layers) in %.2f s\n", kStacks,
              cross_links, secs);
  EXPECT_GT(cross_links, 100);
}

// Overrides (the Clusterfile's Config documents) replace image files, add
// new ones with their parents, and are rendered afterwards when templates.
TEST(Rootfs, OverridesReplaceAndAddFilesBeforeTemplates) {
  MemChunks chunks;
  LayerBuilder base(&chunks);
  base.Dir("etc").File("etc/a.yaml", "a: 1\n", 0600).Dir("statics").File("statics/s.conf", "x");
  auto stack = Stack({base.toc()});
  auto read = ReadRootfsFile(stack, chunks, "etc/a.yaml");
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(**read, "a: 1\n");
  EXPECT_FALSE(ReadRootfsFile(stack, chunks, "etc/none")->has_value());
  EXPECT_FALSE(ReadRootfsFile(stack, chunks, "etc").ok());

  FileOverrides ov = {{"etc/a.yaml", "b: 2\n"},
                      {"application/apps/db/values.yaml", "v: 1\n"},
                      {"statics/s.conf", "host={{ .CIMG_HOST_IP }}\n"}};
  auto p = PlanRootfs(stack, chunks, {{"CIMG_HOST_IP", "10.0.0.2"}}, true, PlanExtras{ov, {}, {}});
  ASSERT_TRUE(p.ok()) << p.status().message();
  auto paths = Paths(*p);
  for (const char* want : {"application", "application/apps", "application/apps/db"})
    EXPECT_NE(std::find(paths.begin(), paths.end(), want), paths.end()) << want;
  std::vector<size_t> all(p->entries.size());
  for (size_t i = 0; i < all.size(); i++) all[i] = i;
  auto files = ReadTar(Stream(stack, chunks, *p, all, "gzip"));
  EXPECT_EQ(files["etc/a.yaml"].second, "b: 2\n");
  EXPECT_EQ(files["application/apps/db/values.yaml"].second, "v: 1\n");
  EXPECT_EQ(files["application/apps/db"].first, 'd');
  EXPECT_EQ(files["statics/s.conf"].second, "host=10.0.0.2\n");
  // An override changes the fingerprint: a re-deploy sends the file.
  auto plain = PlanRootfs(stack, chunks, {{"CIMG_HOST_IP", "10.0.0.2"}}, true);
  auto d = ComputeDelta(*p, *DecodeRecord(EncodeRecord(*plain)));
  EXPECT_EQ(d.send.size(), 6u);  // a.yaml, s.conf, 3 dirs, values.yaml

  auto bad = PlanRootfs(stack, chunks, {}, true, PlanExtras{{{"etc", "x"}}, {}, {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "etc: not a regular file in the image");
  bad = PlanRootfs(stack, chunks, {}, true, PlanExtras{{{"etc/a.yaml/x", "x"}}, {}, {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "etc/a.yaml/x: etc/a.yaml is not a directory in the image");
}

// Filters see a file's rendered contents (kubeadm documents merged into
// etc/kubeadm.yml); a missing one is added, the filter told it was absent.
TEST(Rootfs, FiltersRunAfterTemplates) {
  MemChunks chunks;
  LayerBuilder base(&chunks);
  base.Dir("etc").File("etc/kubeadm.yml.tmpl", "ip: {{ .CIMG_HOST_IP }}\n");
  auto stack = Stack({base.toc()});
  using In = std::optional<std::string>;
  FileFilters f = {{"etc/kubeadm.yml",
                    [](const In& in) -> Result<std::string> { return in.value_or("?") + "+"; }},
                   {"etc/new.yml",  // absent: nullopt
                    [](const In& in) -> Result<std::string> { return std::string(in ? "was there" : "new"); }}};
  auto p = PlanRootfs(stack, chunks, {{"CIMG_HOST_IP", "10.0.0.2"}}, true, PlanExtras{{}, f, {}});
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<size_t> all(p->entries.size());
  for (size_t i = 0; i < all.size(); i++) all[i] = i;
  auto files = ReadTar(Stream(stack, chunks, *p, all, "gzip"));
  EXPECT_EQ(files["etc/kubeadm.yml"].second, "ip: 10.0.0.2\n+");
  EXPECT_EQ(files["etc/new.yml"].second, "new");
}

}  // namespace
}  // namespace cfs::deploy
