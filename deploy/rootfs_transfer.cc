#include "deploy/rootfs_transfer.h"
#include "deploy/rootfs_patch.h"

#include <archive.h>
#include <archive_entry.h>
#include <signal.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>

#include "base/digest.h"
#include "layer/merged_file.h"
#include "layer/merged_tar.h"
#include "template/template.h"

namespace cfs::deploy {

namespace {

char TypeChar(EntryType t) {
  switch (t) {
    case EntryType::kRegular: return 'f';
    case EntryType::kDirectory: return 'd';
    case EntryType::kSymlink: return 'l';
    case EntryType::kHardlink: return 'f';  // sent as a copy
    case EntryType::kChar: return 'c';
    case EntryType::kBlock: return 'b';
    case EntryType::kFifo: return 'p';
  }
  return 'f';
}

bool StartsWith(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Renders a template file for a host with the template engine, the host's
// env as data (template/template.h); `file` names errors (FILE:LINE:COL).
// A key the env lacks gets a hint on where to give it.
Result<std::string> Render(const std::string& in, const std::map<std::string, std::string>& env,
                           const std::string& file) {
  auto out = tmpl::Render(in, file, tmpl::Value::FromEnv(env));
  if (out.ok()) return out;
  const std::string& m = out.status().message();
  const std::string marker = "map has no entry for key \"";
  size_t k = m.find(marker);
  if (k == std::string::npos) return out.status();
  k += marker.size();
  std::string key = m.substr(k, m.find('"', k) - k);
  if (env.count(key)) return out.status();
  return Status::Invalid(m + " (" + key +
                         " is not set: give it in the Clusterfile env or with -e)");
}

// `toc` holds e's chunks; null for synthetic directories (no layer lists
// them: implied parents, or a symlink a higher layer's path turned into one).
std::string Fingerprint(const TocEntry& e, char type, const LayerToc* toc,
                        const std::string* rendered) {
  Sha256 h;
  std::string meta = std::string(1, type) + " " + std::to_string(e.mode) + " " +
                     std::to_string(e.uid) + ":" + std::to_string(e.gid) + " " +
                     std::to_string(e.mtime_sec) + "." + std::to_string(e.mtime_nsec) + " " +
                     std::to_string(e.dev_major) + "," + std::to_string(e.dev_minor) + " " +
                     e.link_target + "\n";
  h.Update(meta);
  for (const auto& [k, v] : e.xattrs) h.Update(k + "=" + Digest::Of(v).Hex() + "\n");
  if (rendered) {
    h.Update("rendered " + Digest::Of(*rendered).Hex());
  } else if (type == 'f' && toc) {
    h.Update("size " + std::to_string(e.size) + "\n");
    for (uint32_t i = e.first_chunk; i < e.first_chunk + e.num_chunks && i < toc->chunks.size(); i++)
      h.Update(toc->chunks[i].digest.Raw());
  }
  return h.Finish().Hex().substr(0, 32);
}

std::string EscapePath(const std::string& p) {
  std::string o;
  for (char c : p) {
    if (c == '\\')
      o += "\\\\";
    else if (c == '\n')
      o += "\\n";
    else
      o += c;
  }
  return o;
}

// Adds the parent directories of `path` the plan lacks (synthetic, 0755);
// each one it has must be a directory.
Status AddParents(const std::string& path, RootfsPlan* plan, std::map<std::string, size_t>* index) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    const std::string dir = path.substr(0, slash);
    auto it = index->find(dir);
    if (it != index->end()) {
      if (plan->entries[it->second].type != 'd')
        return Status::Invalid(path + ": " + dir + " is not a directory in the image");
      continue;
    }
    RootfsEntry d;
    d.path = dir;
    d.type = 'd';
    (*index)[dir] = plan->entries.size();
    plan->entries.push_back(std::move(d));
  }
  return Status::Ok();
}

// Puts the overrides into the plan as rendered files (PlanRootfs).
Status ApplyOverrides(const FileOverrides& overrides, bool with_registry, RootfsPlan* plan,
                      std::map<std::string, size_t>* index) {
  for (const auto& [path, contents] : overrides) {
    if (!with_registry && (path == "registry" || StartsWith(path, "registry/"))) continue;
    auto it = index->find(path);
    if (it == index->end()) {
      RETURN_IF_ERROR(AddParents(path, plan, index));
      RootfsEntry f;
      f.path = path;
      f.perm = 0644;
      it = index->emplace(path, plan->entries.size()).first;
      plan->entries.push_back(std::move(f));
    }
    RootfsEntry& e = plan->entries[it->second];
    if (e.type != 'f') return Status::Invalid(path + ": not a regular file in the image");
    plan->rendered.push_back(contents);
    e.rendered = static_cast<int>(plan->rendered.size() - 1);
  }
  return Status::Ok();
}

// Runs the filters on the plan's final contents (PlanRootfs, after templates).
Status ApplyFilters(const LayerStack& stack, ChunkSource& chunks, const FileFilters& filters,
                    bool with_registry, RootfsPlan* plan) {
  for (const auto& entry : filters) {
    const std::string& path = entry.first;  // (a structured binding cannot be captured in C++20)
    const FileFilter& filter = entry.second;
    auto find = [&] {
      return std::find_if(plan->entries.begin(), plan->entries.end(),
                          [&](const RootfsEntry& e) { return e.path == path; });
    };
    auto it = find();
    std::optional<std::string> contents;
    if (it == plan->entries.end()) {  // added, empty, then filtered
      std::map<std::string, size_t> index;
      for (size_t i = 0; i < plan->entries.size(); i++) index[plan->entries[i].path] = i;
      RETURN_IF_ERROR(ApplyOverrides({{path, ""}}, with_registry, plan, &index));
      if ((it = find()) == plan->entries.end()) continue;  // registry/ on a node
    } else if (it->type != 'f') {
      return Status::Invalid(path + ": not a regular file in the image");
    } else if (it->rendered >= 0) {
      contents = plan->rendered[it->rendered];
    } else {
      ASSIGN_OR_RETURN(contents, ReadMergedFileBytes(stack, chunks, stack.ResolveHardlink(it->ref)));
    }
    ASSIGN_OR_RETURN(std::string out, filter(contents));
    plan->rendered.push_back(std::move(out));
    it->rendered = static_cast<int>(plan->rendered.size() - 1);
  }
  return Status::Ok();
}

// The env a template at `path` is rendered with, or nullptr when the path
// is not a template: *.tmpl under etc/, charts/, manifests/ (the host's env)
// and under application/apps/NAME/ of an app in app_env (its env over the
// host's, built into *scratch).
const std::map<std::string, std::string>* TemplateEnv(
    const std::string& path, const std::map<std::string, std::string>& env,
    const AppEnvs& app_env, std::map<std::string, std::string>* scratch) {
  if (!EndsWith(path, ".tmpl")) return nullptr;
  if (StartsWith(path, "etc/") || StartsWith(path, "charts/") || StartsWith(path, "manifests/"))
    return &env;
  static constexpr char kApps[] = "application/apps/";
  const std::string apps = kApps;
  if (!StartsWith(path, kApps)) return nullptr;
  auto slash = path.find('/', apps.size());
  if (slash == std::string::npos) return nullptr;
  auto it = app_env.find(path.substr(apps.size(), slash - apps.size()));
  if (it == app_env.end()) return nullptr;
  *scratch = env;
  for (const auto& [k, v] : it->second) (*scratch)[k] = v;
  return scratch;
}

}  // namespace

Result<std::optional<std::string>> ReadRootfsFile(const LayerStack& stack, ChunkSource& chunks,
                                                  const std::string& path) {
  auto ref = stack.Lookup(path);
  if (!ref) return std::optional<std::string>();
  LayerStack::Ref data = stack.ResolveHardlink(*ref);
  if (data.synthetic() || stack.Entry(data).type != EntryType::kRegular)
    return Status::Invalid(path + ": not a regular file in the image");
  ASSIGN_OR_RETURN(std::string bytes, ReadMergedFileBytes(stack, chunks, data));
  return std::optional<std::string>(std::move(bytes));
}

Result<RootfsPlan> PlanRootfs(const LayerStack& stack, ChunkSource& chunks,
                              const std::map<std::string, std::string>& env, bool with_registry,
                              const PlanExtras& extras) {
  RootfsPlan plan;
  std::map<std::string, size_t> index;  // path → entry, for .tmpl outputs
  Status err;
  stack.Walk([&](const std::string& path, LayerStack::Ref ref) {
    if (!err.ok() || path == ".") return;
    if (!with_registry && (path == "registry" || StartsWith(path, "registry/"))) return;
    RootfsEntry e;
    e.path = path;
    e.ref = ref;
    e.type = TypeChar(stack.Entry(ref).type);
    index[path] = plan.entries.size();
    plan.entries.push_back(std::move(e));
  });
  RETURN_IF_ERROR(ApplyOverrides(extras.overrides, with_registry, &plan, &index));
  // Templates, after the walk so a rendered X replaces the image's own X.
  std::vector<RootfsEntry> extra;
  for (size_t i = 0; i < plan.entries.size(); i++) {
    RootfsEntry& e = plan.entries[i];
    if (e.type != 'f') continue;
    bool statics = StartsWith(e.path, "statics/");
    std::map<std::string, std::string> scratch;
    const auto* tmpl_env = TemplateEnv(e.path, env, extras.app_env, &scratch);
    if (!statics && !tmpl_env) continue;
    std::string data;
    if (e.rendered >= 0) {
      data = plan.rendered[e.rendered];  // an override's contents
    } else {
      ASSIGN_OR_RETURN(data, ReadMergedFileBytes(stack, chunks, stack.ResolveHardlink(e.ref)));
    }
    ASSIGN_OR_RETURN(std::string out, Render(data, statics ? env : *tmpl_env, e.path));
    plan.rendered.push_back(std::move(out));
    if (statics) {
      e.rendered = static_cast<int>(plan.rendered.size() - 1);
      continue;
    }
    std::string target = e.path.substr(0, e.path.size() - 5);
    auto it = index.find(target);
    if (it != index.end()) {
      plan.entries[it->second].ref = e.ref;
      plan.entries[it->second].type = 'f';
      plan.entries[it->second].rendered = static_cast<int>(plan.rendered.size() - 1);
    } else {
      RootfsEntry r = e;
      r.path = target;
      r.rendered = static_cast<int>(plan.rendered.size() - 1);
      extra.push_back(std::move(r));
    }
  }
  for (auto& r : extra) plan.entries.push_back(std::move(r));
  RETURN_IF_ERROR(ApplyFilters(stack, chunks, extras.filters, with_registry, &plan));
  for (auto& e : plan.entries) {
    LayerStack::Ref data = stack.ResolveHardlink(e.ref);
    const TocEntry& te = stack.Entry(data);
    const TocEntry& meta = stack.Entry(e.ref);
    const std::string* rendered = e.rendered >= 0 ? &plan.rendered[e.rendered] : nullptr;
    // A hard link takes data and metadata from the entry it shares.
    const TocEntry* src = meta.type == EntryType::kHardlink ? &te : &meta;
    TocEntry with_perm;
    if (e.perm >= 0) {
      with_perm = *src;
      with_perm.mode = (with_perm.mode & ~07777u) | static_cast<uint32_t>(e.perm);
      src = &with_perm;
    }
    const LayerToc* toc = data.synthetic() ? nullptr : &stack.layer(data.layer);
    e.fingerprint = Fingerprint(*src, e.type, toc, rendered);
    if (e.type == 'f') e.size = rendered ? rendered->size() : te.size;
    plan.bytes += e.size;
  }
  return plan;
}

std::string EncodeRecord(const RootfsPlan& plan) {
  std::string out;
  for (const auto& e : plan.entries)
    out += e.fingerprint + " " + e.type + " " + EscapePath(e.path) + "\n";
  return out;
}

Result<Record> DecodeRecord(const std::string& data) {
  Record r;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) return Status::Corruption("host record: truncated line");
    std::string line = data.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.size() < 36 || line[32] != ' ' || line[34] != ' ')
      return Status::Corruption("host record: malformed line");
    std::string path;
    for (size_t i = 35; i < line.size(); i++) {
      if (line[i] == '\\' && i + 1 < line.size()) {
        path += line[i + 1] == 'n' ? '\n' : line[i + 1];
        i++;
      } else {
        path += line[i];
      }
    }
    // Paths are relative and never climb: they are removed on the host.
    bool bad = path.empty() || path[0] == '/';
    for (size_t a = 0; !bad && a <= path.size();) {
      size_t b = path.find('/', a);
      std::string comp = path.substr(a, b == std::string::npos ? std::string::npos : b - a);
      bad = comp.empty() || comp == "." || comp == "..";
      a = b == std::string::npos ? path.size() + 1 : b + 1;
    }
    if (bad) return Status::Corruption("host record: bad path \"" + path + "\"");
    r[path] = {line.substr(0, 32), line[33]};
  }
  return r;
}

RootfsDelta ComputeDelta(const RootfsPlan& plan, const Record& old) {
  RootfsDelta d;
  std::map<std::string, char> now;
  for (size_t i = 0; i < plan.entries.size(); i++) {
    const RootfsEntry& e = plan.entries[i];
    now[e.path] = e.type;
    auto it = old.find(e.path);
    if (it != old.end() && it->second.first == e.fingerprint) continue;
    if (it != old.end() && it->second.second != e.type) d.remove.push_back(e.path);
    d.send.push_back(i);
    d.send_bytes += e.size;
  }
  for (const auto& [path, v] : old)
    if (!now.count(path)) d.remove.push_back(path);
  return d;
}

namespace {

// The readers of one stream; a failed one is closed and set to -1.
struct TarOut {
  std::vector<int> fds;
  int last_errno = 0;
  ~TarOut() {
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
};

la_ssize_t WriteFds(struct archive* a, void* ctx, const void* buf, size_t n) {
  auto* out = static_cast<TarOut*>(ctx);
  bool any = false;
  for (int& fd : out->fds) {
    if (fd < 0) continue;
    const char* p = static_cast<const char*>(buf);
    size_t left = n;
    while (left > 0) {
      ssize_t w = write(fd, p, left);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        out->last_errno = errno;
        close(fd);
        fd = -1;
        break;
      }
      p += w;
      left -= w;
    }
    any = any || fd >= 0;
  }
  if (!any) {
    archive_set_error(a, out->last_errno, "write");  // the caller adds strerror
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

}  // namespace

namespace {

// Blocks SIGPIPE in this thread while it lives, so that a reader that went
// away makes write() fail with EPIPE instead of killing the process; what it
// left pending is taken before unblocking.
class BlockSigpipe {
 public:
  BlockSigpipe() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~BlockSigpipe() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_, old_;
};

unsigned FileType(char type) {
  switch (type) {
    case 'd': return AE_IFDIR;
    case 'l': return AE_IFLNK;
    case 'c': return AE_IFCHR;
    case 'b': return AE_IFBLK;
    case 'p': return AE_IFIFO;
    default: return AE_IFREG;
  }
}

// The tar header of plan entry e (a hard link takes its metadata from the
// entry it shares).
void FillHeader(archive_entry* x, const LayerStack& stack, const RootfsPlan& plan,
                const RootfsEntry& e) {
  LayerStack::Ref data = stack.ResolveHardlink(e.ref);
  const std::string* rendered = e.rendered >= 0 ? &plan.rendered[e.rendered] : nullptr;
  FillTarEntry(x, e.path, MergedMeta(stack, e.ref));
  // the plan's type, permissions and size win: a file it adds or renders
  archive_entry_set_filetype(x, FileType(e.type));
  if (e.perm >= 0) archive_entry_set_perm(x, e.perm);
  uint64_t size = e.type != 'f' ? 0 : rendered ? rendered->size() : stack.Entry(data).size;
  archive_entry_set_size(x, static_cast<la_int64_t>(size));
}

// One tar+compression stream to several fds.
class TarStream {
 public:
  explicit TarStream(const std::vector<int>& fds)
      : out_{fds}, a_(archive_write_new(), archive_write_free),
        ae_(archive_entry_new(), archive_entry_free) {}

  Status Open(const std::string& compression) {
    archive* a = a_.get();
    archive_write_set_format_pax_restricted(a);
    if (compression == "zstd") {
      archive_write_add_filter_zstd(a);
      archive_write_set_filter_option(a, "zstd", "compression-level", "3");
    } else {
      archive_write_add_filter_gzip(a);
      archive_write_set_filter_option(a, "gzip", "compression-level", "6");
    }
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, &out_, nullptr, WriteFds, nullptr) != ARCHIVE_OK)
      return Fail("open");
    return Status::Ok();
  }

  // Header and data of e; every chunk is verified as it is read.
  Status Add(const LayerStack& stack, ChunkSource& chunks, const RootfsPlan& plan,
             const RootfsEntry& e, std::atomic<uint64_t>* done) {
    FillHeader(ae_.get(), stack, plan, e);
    if (archive_write_header(a_.get(), ae_.get()) != ARCHIVE_OK) return Fail("header " + e.path);
    if (e.type != 'f') return Status::Ok();
    if (e.rendered >= 0) return Write(plan.rendered[e.rendered], e.path, done);
    LayerStack::Ref data = stack.ResolveHardlink(e.ref);
    const LayerToc& toc = stack.layer(data.layer);
    const TocEntry& de = stack.Entry(data);
    for (uint32_t c = de.first_chunk; c < de.first_chunk + de.num_chunks; c++) {
      auto bytes = chunks.ReadChunk(toc.chunks[c]);
      if (!bytes.ok()) return bytes.status().Prefix("rootfs stream: " + e.path);
      RETURN_IF_ERROR(Write(*bytes, e.path, done));
    }
    return Status::Ok();
  }

  Status Close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Fail("close");
    return Status::Ok();
  }

  // A member that is not of the rootfs (the patch stream's): a root-owned
  // 0600 file of `size` bytes, written with Write() next.
  Status Begin(const std::string& name, uint64_t size) {
    archive_entry_clear(ae_.get());
    archive_entry_set_pathname(ae_.get(), name.c_str());
    archive_entry_set_filetype(ae_.get(), AE_IFREG);
    archive_entry_set_perm(ae_.get(), 0600);
    archive_entry_set_size(ae_.get(), static_cast<la_int64_t>(size));
    if (archive_write_header(a_.get(), ae_.get()) != ARCHIVE_OK) return Fail("header " + name);
    return Status::Ok();
  }

  Status Write(const std::string& bytes, const std::string& path, std::atomic<uint64_t>* done) {
    if (archive_write_data(a_.get(), bytes.data(), bytes.size()) < 0) return Fail("data " + path);
    if (done) *done += bytes.size();
    return Status::Ok();
  }

 private:
  Status Fail(const std::string& what) {
    archive* a = a_.get();
    return Status::IOError("rootfs stream: " + what + ": " + archive_error_string(a),
                           archive_errno(a) ? archive_errno(a) : EIO);
  }

  TarOut out_;  // outlives the archive, which writes to it until freed
  std::unique_ptr<struct archive, int (*)(struct archive*)> a_;
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> ae_;
};

}  // namespace

Status WriteRootfsTar(const LayerStack& stack, ChunkSource& chunks, const RootfsPlan& plan,
                      const std::vector<size_t>& send, const std::string& compression,
                      const std::vector<int>& fds, std::atomic<uint64_t>* done) {
  BlockSigpipe block;
  TarStream tar(fds);
  RETURN_IF_ERROR(tar.Open(compression));
  for (size_t i : send) RETURN_IF_ERROR(tar.Add(stack, chunks, plan, plan.entries[i], done));
  return tar.Close();
}

Status WritePatchStream(const LayerStack& stack, ChunkSource& chunks, const RootfsPlan& plan,
                        const std::vector<FilePatch>& patches, const std::string& compression,
                        int fd, std::atomic<uint64_t>* done) {
  BlockSigpipe block;
  TarStream tar({fd});
  RETURN_IF_ERROR(tar.Open(compression));
  uint64_t data_size = 0;
  for (const auto& p : patches) data_size += p.new_bytes;
  RETURN_IF_ERROR(tar.Begin("data", data_size));
  std::vector<std::string> sha256s;
  for (const auto& p : patches) {
    const RootfsEntry& e = plan.entries[p.entry];
    const TocEntry& te = stack.Entry(e.ref);
    const LayerToc& toc = stack.layer(e.ref.layer);
    Sha256 h;
    size_t k = 0;
    for (uint32_t i = 0; i < te.num_chunks; i++) {
      auto bytes = chunks.ReadChunk(toc.chunks[te.first_chunk + i]);
      if (!bytes.ok()) return bytes.status().Prefix("patch stream: " + e.path);
      h.Update(*bytes);
      if (k < p.new_at.size() && p.new_at[k] == i) {
        RETURN_IF_ERROR(tar.Write(*bytes, e.path, done));
        k++;
      }
    }
    sha256s.push_back(h.Finish().Hex());
  }
  const std::string recipe = EncodeRecipe(stack, plan, patches, sha256s);
  RETURN_IF_ERROR(tar.Begin("recipe", recipe.size()));
  RETURN_IF_ERROR(tar.Write(recipe, "recipe", nullptr));
  return tar.Close();
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

Result<std::string> Gunzip(const std::string& data) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return Status::Corruption("gunzip: init");
  std::string out;
  char buf[65536];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  int r;
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    r = inflate(&z, Z_NO_FLUSH);
    if (r != Z_OK && r != Z_STREAM_END) {
      inflateEnd(&z);
      return Status::Corruption("host record: not valid gzip");
    }
    out.append(buf, sizeof buf - z.avail_out);
  } while (r != Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

}  // namespace cfs::deploy
