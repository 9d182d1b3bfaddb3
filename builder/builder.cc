#include "builder/builder.h"

#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>

#include "builder/copy.h"
#include "builder/images.h"
#include "builder/kubefile.h"
#include "fs/chunk_cache.h"
#include "fs/mount.h"
#include "registry/image_io.h"
#include "registry/layout.h"
#include "registry/reference.h"
#include "layer/layer_stack.h"
#include "store/work_dir.h"

namespace cfs::builder {

using nlohmann::json;

namespace {

// Sets the mtime (and atime) of everything under dir, dir included, to the
// epoch, without following symlinks.
Status ZeroTimes(const std::string& dir) {
  static thread_local int err;
  err = 0;
  auto fn = [](const char* path, const struct stat*, int, struct FTW*) -> int {
    struct timespec ts[2] = {{0, 0}, {0, 0}};
    if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) != 0) err = errno;
    return 0;
  };
  if (nftw(dir.c_str(), fn, 64, FTW_PHYS | FTW_DEPTH) != 0 || err != 0)
    return Status::IOError("setting times under " + dir, err ? err : errno);
  return Status::Ok();
}

using Vars = std::vector<std::pair<std::string, std::string>>;

std::string NowRfc3339() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void SetVar(Vars* v, const std::string& k, const std::string& val) {
  for (auto& kv : *v)
    if (kv.first == k) {
      kv.second = val;
      return;
    }
  v->emplace_back(k, val);
}

bool DirEmpty(const std::string& dir) {
  auto names = ListDir(dir);
  return names.ok() && names->empty();
}

// Everything a build holds between steps.
struct State {
  std::vector<Digest> diff_ids;
  Vars args;  // declared ARGs with their values
  Vars env;   // ENV, in order
  std::map<std::string, std::string> labels;
  std::vector<std::string> cmds;         // every CMD: the parent's, then ours
  std::vector<std::string> cmds_launch;  // the last CMDS (not inherited)
  std::vector<std::string> launch;       // the last LAUNCH (not inherited)
  std::string author;
  json history = json::array();
  std::string created;  // of the last layer step (or the base): keeps rebuilds identical
  std::string arch = "amd64", os = "linux";
  std::vector<std::unique_ptr<Store::Lease>> leases;
  std::vector<LayerSummary> imported;  // layers this build stored (chunk accounting)
};

class Builder {
 public:
  Builder(Store& store, const BuildOptions& o) : store_(store), o_(o) {}
  Result<BuildResult> Run();

 private:
  void Log(const std::string& s) {
    if (o_.log) o_.log(s);
  }
  std::string Where(const Instruction& in) const {
    return kf_.path + ":" + std::to_string(in.line);
  }
  Status From(const Instruction& in);
  // Pulls FROM name from its registry for o_.platform.
  Result<ImageDetails> PullBase(const std::string& name);
  Status LayerStep(const Instruction& in);
  // Runs fn(mount dir) on a mount of the layers so far with upper dir upper.
  Status OnMount(const std::string& tmp, const std::function<Status(const std::string&)>& fn);
  Status RunCommand(const Instruction& in, const std::string& rootfs);
  // Pulls the container images the rootfs names into its registry/.
  Status CollectImages();
  // Leases layers the store holds; NotFound for one gc took before.
  Status Lease(const std::vector<Digest>& ids) {
    ASSIGN_OR_RETURN(auto l, store_.TakeLease(ids));
    st_.leases.push_back(std::move(l));
    for (const auto& d : ids) {
      ASSIGN_OR_RETURN(bool has, store_.HasLayer(d));
      if (!has) return Status::NotFound("layer " + d.ToString() + " is no longer in the store");
    }
    return Status::Ok();
  }
  // Imports the upper dir of a step as a new layer, leased at once.
  Result<LayerSummary> Import(const std::string& upper) {
    std::unique_ptr<Store::Lease> lease;
    ASSIGN_OR_RETURN(LayerSummary ls, store_.ImportDirLayer(upper, o_.progress, &lease));
    st_.leases.push_back(std::move(lease));
    st_.imported.push_back(ls);
    return ls;
  }
  // A cache entry: the layer a step made (none for a step without changes)
  // and when. nullopt for a miss, and for an entry whose layer gc took.
  struct CacheHit {
    std::optional<Digest> layer;
    std::string created;
  };
  std::optional<CacheHit> CacheLookup(const Digest& key) {
    if (o_.no_cache) return std::nullopt;
    auto v = store_.GetBuildCache(key);
    if (!v.ok() || !*v) return std::nullopt;
    json j = json::parse(**v, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    CacheHit hit;
    hit.created = j.value("created", "");
    std::string layer = j.value("diff_id", "");
    if (!layer.empty()) {
      auto d = Digest::Parse(layer);
      if (!d.ok()) return std::nullopt;
      // Leased now, so that gc cannot take it between this check and use.
      if (!Lease({*d}).ok()) return std::nullopt;
      hit.layer = *d;
    }
    return hit;
  }
  Status CachePut(const Digest& key, const std::string& diff_id) {
    json entry = {{"diff_id", diff_id}, {"created", st_.created}};
    return store_.PutBuildCache(key, entry.dump());
  }
  Digest ChainKey() const {
    Sha256 h;
    for (const auto& d : st_.diff_ids) h.Update(d.ToString() + "\n");
    return h.Finish();
  }

  Store& store_;
  const BuildOptions& o_;
  Kubefile kf_;
  WorkDir work_;  // tmp/build-*: step dirs; what gc undoes if the build dies
  State st_;
  BuildResult res_;
};

// The platform an image config names ("" parts when it names none).
Platform ConfigPlatform(const std::string& config) {
  Platform p;
  json c = json::parse(config, nullptr, false);
  if (!c.is_object()) return p;
  auto str = [&](const char* k) { return c.contains(k) && c[k].is_string() ? c[k].get<std::string>() : ""; };
  p.os = str("os");
  p.arch = str("architecture");
  p.variant = str("variant");
  return p;
}

// True when an image of platform `have` serves a build for `want` (a
// variant is compared only when want names one).
bool PlatformMatches(const Platform& have, const Platform& want) {
  return have.os == want.os && have.arch == want.arch &&
         (want.variant.empty() || have.variant == want.variant);
}

Result<ImageDetails> Builder::PullBase(const std::string& name) {
  ASSIGN_OR_RETURN(auto ref, registry::Reference::Parse(name));
  Log("pulling " + ref.ToString() +
      (o_.platform.arch.empty() ? "" : " for " + o_.platform.ToString()));
  ASSIGN_OR_RETURN(auto client, registry::Client::Create(ref.registry, o_.registry));
  std::shared_ptr<registry::Client> c(std::move(client));
  ASSIGN_OR_RETURN(auto src, registry::OpenRegistrySource(c, ref, work_.path()));
  PullOptions po;
  po.platform = o_.platform;
  po.progress = o_.progress;
  // Under its reference, as docker pull --platform does: the variant for
  // this platform replaces another one stored under that name.
  ASSIGN_OR_RETURN(auto pulled, store_.PullFrom(*src, "docker://" + ref.ToString(), ref.LocalName(), po));
  return pulled.image;
}

Status Builder::From(const Instruction& in) {
  std::string name = Expand(in.args[0], o_.build_args);
  if (name == "scratch") return Status::Ok();
  const std::string where = Where(in) + ": FROM " + name;
  auto details = store_.Inspect(name);
  const bool remote = registry::IsRegistryReference(name);
  if (!details.ok() && details.status().IsNotFound() && remote) details = PullBase(name);
  if (!details.ok()) return details.status().Prefix(where);
  // --platform: the stored image must be of that platform; one pulled from
  // a registry is pulled again for this platform.
  if (!o_.platform.arch.empty()) {
    Platform have = ConfigPlatform(details->config);
    const std::string wrong = where + ": the stored image is " +
                              (have.arch.empty() ? "of no platform" : have.ToString()) + ", not " +
                              o_.platform.ToString() + " (--platform)";
    if (!PlatformMatches(have, o_.platform) && remote && details->source.starts_with("docker://")) {
      Log("stored " + name + " is " + have.ToString() + ", not " + o_.platform.ToString());
      details = PullBase(name);
      if (!details.ok()) return Status::Invalid(wrong + "; pulling it: " + details.status().message());
      have = ConfigPlatform(details->config);
    }
    if (!PlatformMatches(have, o_.platform)) return Status::Invalid(wrong);
  }
  for (const auto& l : details->layers) st_.diff_ids.push_back(l.diff_id);
  RETURN_IF_ERROR(Lease(st_.diff_ids).Prefix(Where(in) + ": FROM " + name));
  json c = json::parse(details->config, nullptr, false);
  if (c.is_object()) {
    st_.created = c.value("created", "");
    st_.arch = c.value("architecture", st_.arch);
    st_.os = c.value("os", st_.os);
    st_.author = c.value("author", "");
    if (c.contains("history") && c["history"].is_array()) st_.history = c["history"];
    if (c.contains("config") && c["config"].is_object()) {
      const json& cc = c["config"];
      if (cc.contains("Env") && cc["Env"].is_array())
        for (const auto& e : cc["Env"]) {
          if (!e.is_string()) continue;
          std::string kv = e.get<std::string>();
          auto eq = kv.find('=');
          if (eq != std::string::npos) SetVar(&st_.env, kv.substr(0, eq), kv.substr(eq + 1));
        }
      if (cc.contains("Labels") && cc["Labels"].is_object())
        for (auto& [k, v] : cc["Labels"].items())
          if (v.is_string()) st_.labels[k] = v.get<std::string>();
    }
  }
  // The parent's CMDs run first; this image's follow. Its CMDS and LAUNCH
  // belong to it alone (sealer): a child names its own or has none.
  auto it = st_.labels.find(kLabelCmds);
  if (it != st_.labels.end()) {
    json j = json::parse(it->second, nullptr, false);
    if (j.is_array())
      for (const auto& v : j)
        if (v.is_string()) st_.cmds.push_back(v.get<std::string>());
  }
  st_.labels.erase(kLabelCmdsLaunch);
  st_.labels.erase(kLabelLaunch);
  return Status::Ok();
}

Status Builder::OnMount(const std::string& tmp,
                        const std::function<Status(const std::string&)>& fn) {
  const std::string upper = tmp + "/upper", work = tmp + "/work", mnt = tmp + "/rootfs",
                    empty = tmp + "/empty";
  for (const auto& d : {upper, work, mnt, empty}) RETURN_IF_ERROR(MakeDirs(d, 0755));
  auto inos = std::make_unique<InoMap>();
  std::vector<std::unique_ptr<Lower>> lowers;
  std::unique_ptr<ChunkCache> cache;
  if (!st_.diff_ids.empty()) {
    std::vector<std::shared_ptr<const LayerToc>> tocs;
    for (const auto& d : st_.diff_ids) {
      ASSIGN_OR_RETURN(LayerToc t, store_.GetLayerToc(d));
      tocs.push_back(std::make_shared<const LayerToc>(std::move(t)));
    }
    ASSIGN_OR_RETURN(LayerStack stack, LayerStack::Build(std::move(tocs)));
    ASSIGN_OR_RETURN(auto src, store_.OpenChunkSource());
    cache = std::make_unique<ChunkCache>(std::move(src), ChunkCacheOptions{});
    ASSIGN_OR_RETURN(auto lower, OpenStackLower("build", std::move(stack), cache.get(), inos.get()));
    lowers.push_back(std::move(lower));
  } else {
    ASSIGN_OR_RETURN(auto lower, OpenDirLower(empty, inos.get()));  // FROM scratch
    lowers.push_back(std::move(lower));
  }
  OverlayOptions oo;
  oo.upperdir = upper;
  oo.workdir = work;
  oo.sync_copy_up = false;  // the upper dir is ingested (and synced) right after
  ASSIGN_OR_RETURN(auto ov, Overlay::Create(std::move(lowers), std::move(inos), oo));
  MountOptions mo;
  mo.fsname = "cimg-build";
  RETURN_IF_ERROR(work_.AddMount(mnt));
  ASSIGN_OR_RETURN(auto m, Mount::Start(std::move(ov), mnt, mo));
  Status st = fn(mnt);
  Status um = m->Unmount();
  m.reset();
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(um);
  return work_.RemoveMount(mnt);
}

Status Builder::RunCommand(const Instruction& in, const std::string& rootfs) {
  std::vector<std::string> argv;
  if (in.json_form) {
    argv = in.args;
  } else {
    argv = {"/bin/sh", "-c", in.args[0]};
  }
  std::vector<std::string> envs;
  const char* path = std::getenv("PATH");
  envs.push_back("PATH=" + rootfs + "/bin:" + (path ? path : "/usr/sbin:/usr/bin:/sbin:/bin"));
  for (const char* keep : {"HOME", "TERM", "LANG", "TMPDIR", "USER"})
    if (const char* v = std::getenv(keep)) envs.push_back(std::string(keep) + "=" + v);
  bool arch_set = false;
  for (const auto& kv : st_.args) arch_set |= kv.first == "ARCH";
  for (const auto& kv : st_.env) arch_set |= kv.first == "ARCH";
  if (!arch_set) envs.push_back("ARCH=" + st_.arch);  // the target architecture
  for (const auto& [k, v] : st_.args) envs.push_back(k + "=" + v);
  for (const auto& [k, v] : st_.env) envs.push_back(k + "=" + v);
  envs.push_back("ROOTFS=" + rootfs);
  std::vector<char*> av, ev;
  for (auto& s : argv) av.push_back(s.data());
  av.push_back(nullptr);
  for (auto& s : envs) ev.push_back(s.data());
  ev.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  // The step runs in a process group of its own, recorded in the work dir
  // before it starts (it waits on go for that), so that whatever it leaves
  // running is killed: here when it ends, by gc if this process dies.
  int go[2];
  if (::pipe2(go, O_CLOEXEC) != 0) return Status::IOError("pipe");
  UniqueFd go_read(go[0]), go_write(go[1]);
  pid_t pid = ::fork();
  if (pid < 0) return Status::IOError("fork");
  if (pid == 0) {
    ::setpgid(0, 0);
    go_write.Reset();
    char c;
    ssize_t n;
    do n = ::read(go[0], &c, 1);
    while (n < 0 && errno == EINTR);
    if (n != 1) _exit(125);  // the builder died or failed to record the group: never run
    ::dup2(2, 1);  // the command's output is progress, not cimg's result: stderr
    if (::chdir(rootfs.c_str()) != 0) _exit(126);
    ::execvpe(av[0], av.data(), ev.data());
    std::fprintf(stderr, "cimg build: cannot run %s: %s\n", av[0], std::strerror(errno));
    _exit(127);
  }
  ::setpgid(pid, pid);  // also here: the group exists before it is recorded
  go_read.Reset();
  Status recorded = work_.AddGroup(pid);
  if (recorded.ok()) (void)WriteAll(go_write.get(), "g", 1);
  go_write.Reset();
  // Waits for the command without reaping it, so that pid (and the group
  // id) stay ours while what it left running in its group is killed.
  siginfo_t info;
  while (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  RETURN_IF_ERROR(recorded);
  RETURN_IF_ERROR(work_.RemoveGroup(pid));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  std::string why = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                      : "signal " + std::to_string(WTERMSIG(status));
  return Status::Aborted(Where(in) + ": RUN failed with " + why + " (output above)");
}

Status Builder::LayerStep(const Instruction& in) {
  Vars vars = st_.args;
  for (const auto& kv : st_.env) vars.push_back(kv);
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(work_.path(), "step-"));
  std::string text;
  std::vector<CopySource> sources;
  std::string dest;
  Sha256 key;
  key.Update("cimg-build-v1\n" + ChainKey().ToString() + "\n");
  if (in.keyword == "COPY") {
    std::vector<std::string> srcs;
    for (size_t i = 0; i + 1 < in.args.size(); i++) {
      // ${ARCH}: the target architecture (set unless an ARG/ENV says otherwise).
      Vars with_arch = {{"ARCH", st_.arch}};
      for (const auto& kv : vars) with_arch.push_back(kv);
      srcs.push_back(Expand(in.args[i], with_arch));
    }
    dest = Expand(in.args.back(), vars);
    text = "COPY";
    for (const auto& s : srcs) text += " " + s;
    text += " " + dest;
    auto resolved = ResolveSources(o_.context, srcs, tmp.path() + "/downloads", o_.download);
    if (!resolved.ok()) return resolved.status().Prefix(Where(in));
    sources = std::move(*resolved);
    ASSIGN_OR_RETURN(Digest inputs, DigestSources(sources));
    key.Update(text + "\n" + inputs.ToString() + "\n");
  } else {  // RUN
    // RUN sees the target architecture too (unless an ARG/ENV names ARCH).
    bool has_arch = false;
    for (const auto& kv : vars) has_arch |= kv.first == "ARCH";
    if (!has_arch) vars.emplace_back("ARCH", st_.arch);
    text = "RUN " + in.raw;
    key.Update(text + "\n");
    for (const auto& [k, v] : vars) key.Update(k + "=" + v + "\n");
  }
  Digest cache_key = key.Finish();
  if (auto hit = CacheLookup(cache_key)) {
    Log(" --> cached");
    res_.cached++;
    if (!hit->created.empty()) st_.created = hit->created;
    if (hit->layer) {
      st_.diff_ids.push_back(*hit->layer);
      res_.layers++;
    }
    st_.history.push_back({{"created", st_.created},
                           {"created_by", text},
                           {"empty_layer", !hit->layer}});
    return Status::Ok();
  }
  RETURN_IF_ERROR(OnMount(tmp.path(), [&](const std::string& rootfs) -> Status {
    if (in.keyword == "RUN") return RunCommand(in, rootfs);
    UniqueFd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root.valid()) return Status::IOError(rootfs);
    return CopyInto(root.get(), sources, dest).Prefix(Where(in));
  }));
  std::string diff;
  if (!DirEmpty(tmp.path() + "/upper")) {
    ASSIGN_OR_RETURN(LayerSummary ls, Import(tmp.path() + "/upper"));
    st_.diff_ids.push_back(ls.diff_id);
    diff = ls.diff_id.ToString();
    res_.layers++;
    Log(" --> layer " + ls.diff_id.ToString().substr(0, 19) + " (" +
        std::to_string(ls.entries) + " entries, " + std::to_string(ls.tar_size) + " bytes)");
  } else {
    Log(" --> no changes: no layer");
  }
  st_.created = NowRfc3339();
  st_.history.push_back({{"created", st_.created}, {"created_by", text}, {"empty_layer", diff.empty()}});
  return CachePut(cache_key, diff);
}

Status Builder::CollectImages() {
  std::vector<std::string> extra, ignored;
  if (!o_.image_list.empty()) {
    ASSIGN_OR_RETURN(extra, ReadImageList(o_.image_list));
  }
  if (!o_.ignored_image_list.empty()) {
    ASSIGN_OR_RETURN(ignored, ReadImageList(o_.ignored_image_list));
  }
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(work_.path(), "images-"));
  Platform platform = o_.platform;
  if (platform.arch.empty()) platform = Platform::Host();
  std::vector<std::string> names;
  std::string text;
  Digest key;
  std::optional<Digest> cached;  // the collected layer, from the cache
  Status st = OnMount(tmp.path(), [&](const std::string& rootfs) -> Status {
    ASSIGN_OR_RETURN(std::vector<std::string> found, FindImages(rootfs));
    std::set<std::string> all(found.begin(), found.end());
    all.insert(extra.begin(), extra.end());
    for (const auto& i : ignored) all.erase(i);
    names.assign(all.begin(), all.end());
    // --build-mode all: the image archives under images/ go into registry/ too.
    std::vector<CopySource> archives;
    if (o_.build_mode == "all") {
      auto files = ListDir(rootfs + "/images");
      if (files.ok())
        for (const auto& f : *files) {
          struct stat ast;
          std::string p = rootfs + "/images/" + f;
          if (::lstat(p.c_str(), &ast) == 0 && S_ISREG(ast.st_mode) &&
              (f.ends_with(".tar") || f.ends_with(".tar.gz") || f.ends_with(".tgz")))
            archives.push_back(CopySource{"images/" + f, p, f});
        }
    }
    if (names.empty() && archives.empty()) return Status::Ok();
    text = "COLLECT IMAGES";
    for (const auto& n : names) text += " " + n;
    for (const auto& a : archives) text += " " + a.display;
    Sha256 h;
    h.Update("cimg-build-v1\n" + ChainKey().ToString() + "\n" + text + "\n" + platform.ToString());
    if (!archives.empty()) {
      ASSIGN_OR_RETURN(Digest ad, DigestSources(archives));
      h.Update(ad.ToString());
    }
    key = h.Finish();
    if (auto hit = CacheLookup(key); hit && hit->layer) {
      cached = *hit->layer;  // leased by CacheLookup
      if (!hit->created.empty()) st_.created = hit->created;
      return Status::Ok();
    }
    registry::DistributionLayout layout(rootfs + "/registry");
    std::map<std::string, std::shared_ptr<registry::Client>> clients;
    for (const auto& n : names) {
      auto ref = registry::Reference::Parse(n);
      if (!ref.ok()) return ref.status().Prefix("container image");
      auto& c = clients[ref->registry];
      if (!c) {
        auto cr = registry::Client::Create(ref->registry, o_.registry);
        if (!cr.ok()) return cr.status().Prefix(n);
        c = std::shared_ptr<registry::Client>(std::move(*cr));
      }
      Log(" --> " + n + " -> registry/" + ref->repository + (ref->tag.empty() ? "" : ":" + ref->tag));
      RETURN_IF_ERROR(CopyToBuiltinRegistry(*c, *ref, platform, layout).Prefix(n));
    }
    for (const auto& a : archives) {
      ASSIGN_OR_RETURN(std::vector<std::string> loaded,
                       registry::LoadArchiveToLayout(a.path, platform, layout, tmp.path()));
      for (const auto& l : loaded) {
        Log(" --> " + a.display + ": " + l + " -> registry/" + l);
        names.push_back(l);
      }
    }
    return Status::Ok();
  });
  RETURN_IF_ERROR(st);
  if (names.empty()) return Status::Ok();
  std::sort(names.begin(), names.end());
  res_.images = names;
  st_.labels[kLabelImages] = json(names).dump();
  Log("STEP: collect " + std::to_string(names.size()) + " container images into registry/");
  if (cached) {
    Log(" --> cached");
    res_.cached++;
    st_.diff_ids.push_back(*cached);
    res_.layers++;
  } else {
    // Fixed times: the layer of the same images is the same bytes in every
    // build, so deploy sends nothing for it when it is rebuilt.
    RETURN_IF_ERROR(ZeroTimes(tmp.path() + "/upper"));
    ASSIGN_OR_RETURN(LayerSummary ls, Import(tmp.path() + "/upper"));
    st_.diff_ids.push_back(ls.diff_id);
    res_.layers++;
    st_.created = NowRfc3339();
    RETURN_IF_ERROR(CachePut(key, ls.diff_id.ToString()));
  }
  st_.history.push_back({{"created", st_.created}, {"created_by", text}, {"empty_layer", false}});
  return Status::Ok();
}

Result<BuildResult> Builder::Run() {
  std::string kfpath = o_.kubefile.empty() ? o_.context + "/Kubefile" : o_.kubefile;
  auto text = ReadFile(kfpath, 16 << 20);
  if (!text.ok()) {
    if (text.status().err() == ENOENT) return Status::NotFound(kfpath + ": no such Kubefile");
    return text.status();
  }
  // Messages say "Kubefile:LINE" for CONTEXT/Kubefile, else the -f path.
  ASSIGN_OR_RETURN(kf_, ParseKubefile(*text, o_.kubefile.empty() ? "Kubefile" : o_.kubefile));
  struct stat st;
  if (::stat(o_.context.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::NotFound("build context " + o_.context + ": not a directory");
  if (!o_.platform.arch.empty()) st_.arch = o_.platform.arch;
  else st_.arch = Platform::Host().arch;
  ASSIGN_OR_RETURN(work_, WorkDir::Create(store_.root(), "build-"));
  const size_t n = kf_.instructions.size();
  // Build args given but never declared are reported, as docker does.
  for (const auto& [k, v] : o_.build_args) {
    bool declared = false;
    for (const auto& in : kf_.instructions) declared |= in.keyword == "ARG" && in.args[0] == k;
    if (!declared) Log("warning: --build-arg " + k + " is not declared by an ARG of the Kubefile");
  }
  for (size_t i = 0; i < n; i++) {
    const Instruction& in = kf_.instructions[i];
    Log("STEP " + std::to_string(i + 1) + "/" + std::to_string(n) + ": " + in.keyword + " " + in.raw);
    const std::string& k = in.keyword;
    Vars vars = st_.args;
    for (const auto& kv : st_.env) vars.push_back(kv);
    if (k == "FROM") {
      RETURN_IF_ERROR(From(in));
      if (!o_.platform.arch.empty()) st_.arch = o_.platform.arch;
      continue;
    }
    res_.steps++;
    if (k == "ARG") {
      std::string v = in.arg_has_default ? Expand(in.args[1], vars) : "";
      for (const auto& [bk, bv] : o_.build_args)
        if (bk == in.args[0]) v = bv;
      SetVar(&st_.args, in.args[0], v);
    } else if (k == "ENV") {
      for (size_t a = 0; a + 1 < in.args.size(); a += 2)
        SetVar(&st_.env, in.args[a], Expand(in.args[a + 1], vars));
      st_.history.push_back({{"created", st_.created}, {"created_by", "ENV " + in.raw}, {"empty_layer", true}});
    } else if (k == "LABEL") {
      for (size_t a = 0; a + 1 < in.args.size(); a += 2)
        st_.labels[Expand(in.args[a], vars)] = Expand(in.args[a + 1], vars);
      st_.history.push_back({{"created", st_.created}, {"created_by", "LABEL " + in.raw}, {"empty_layer", true}});
    } else if (k == "MAINTAINER") {
      st_.author = in.raw;
    } else if (k == "CMD") {
      st_.cmds.push_back(in.raw);
    } else if (k == "CMDS") {
      st_.cmds_launch = in.args;  // the last one wins
    } else if (k == "LAUNCH") {
      st_.launch = in.args;  // the last one wins
    } else {  // COPY, RUN
      RETURN_IF_ERROR(LayerStep(in));
    }
  }
  if (o_.collect_images) RETURN_IF_ERROR(CollectImages());
  if (st_.created.empty()) st_.created = NowRfc3339();
  json cfg;
  cfg["architecture"] = st_.arch;
  cfg["os"] = st_.os;
  cfg["created"] = st_.created;
  if (!st_.author.empty()) cfg["author"] = st_.author;
  json env = json::array();
  for (const auto& [k, v] : st_.env) env.push_back(k + "=" + v);
  auto labels = st_.labels;
  if (!st_.cmds.empty()) labels[kLabelCmds] = json(st_.cmds).dump();
  if (!st_.cmds_launch.empty()) labels[kLabelCmdsLaunch] = json(st_.cmds_launch).dump();
  if (!st_.launch.empty()) labels[kLabelLaunch] = json(st_.launch).dump();
  cfg["config"] = json::object();
  if (!env.empty()) cfg["config"]["Env"] = env;
  if (!labels.empty()) cfg["config"]["Labels"] = labels;
  cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
  for (const auto& d : st_.diff_ids) cfg["rootfs"]["diff_ids"].push_back(d.ToString());
  cfg["history"] = st_.history;
  ASSIGN_OR_RETURN(res_.image,
                   store_.CreateImage(o_.tag, cfg.dump(), "build:" + o_.context, st_.imported));
  return res_;
}

}  // namespace

Result<BuildResult> Build(Store& store, const BuildOptions& o) {
  Builder b(store, o);
  return b.Run();
}

}  // namespace cfs::builder
