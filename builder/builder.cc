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
#include <thread>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "builder/app.h"
#include "builder/build_cache.h"
#include "builder/copy.h"
#include "builder/images.h"
#include "builder/kubefile.h"
#include "fs/chunk_cache.h"
#include "fs/mount.h"
#include "registry/image_io.h"
#include "registry/pull.h"
#include "registry/layout.h"
#include "registry/reference.h"
#include "store/image_stack.h"
#include "store/read_profile.h"
#include "store/work_dir.h"
#include "transport/sealer_image.h"

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
  // sealer's image extension: the FROM image's apps and this Kubefile's
  // APPs, its ENV, CMD/CMDS and LAUNCH (builder.h).
  SealerImageExtension ext;
  std::map<std::string, int> app_lines;  // APPs of this Kubefile: name -> line
  std::string author;
  json history = json::array();
  std::string created;  // of the last layer step (or the base): keeps rebuilds identical
  std::string arch = "amd64", os = "linux";
  Leases leases;
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
  // Pulls FROM name from its registry for target_.
  Result<ImageDetails> PullBase(const std::string& name);
  // registries.conf, read once per build (mirrors, blocked names, short
  // names: registry/registries_conf.h).
  Result<std::shared_ptr<const registry::RegistriesConf>> Registries();
  Status LayerStep(const Instruction& in);
  struct StepInput;
  Status PrepareCopy(const Instruction& in, const Vars& vars, const std::string& tmp, StepInput* si);
  Status PrepareApp(const Instruction& in, const Vars& vars, const std::string& tmp, StepInput* si);
  void RegisterApp(const Instruction& in, SealerApp app);
  Status RunLayerStep(const Instruction& in, StepInput& si, const std::string& tmp);
  Status CopyStep(const Instruction& in, StepInput& si, const std::string& tmp);
  Status DigestAndCopy(const Instruction& in, const std::string& tmp, StepInput* si);
  // FROM --platform: the platform the build is for from here on.
  Status FromPlatform(const Instruction& in);
  // The FROM image's sealer apps (its extension), inherited as sealer does.
  void InheritApps(const ImageDetails& d);
  // sealer's checks of app names (APPCMDS, APPENV, LAUNCH) and types.
  Status CheckApp(const Instruction& in, const std::string& name) const;
  Status CheckAppsLaunchable() const;
  // The image so far as a Lower (an empty directory `empty` for none).
  struct StepLower {
    std::unique_ptr<InoMap> inos;
    std::unique_ptr<ChunkCache> cache;  // outlives lower
    std::unique_ptr<Lower> lower;
  };
  Result<StepLower> OpenLower(const std::string& empty);
  // Runs fn(mount dir) on a mount of the layers so far with upper dir upper.
  Status OnMount(const std::string& tmp, const std::function<Status(const std::string&)>& fn);
  Status RunCommand(const Instruction& in, const std::string& rootfs);
  // Pulls the container images the rootfs names into its registry/.
  Status CollectImages();
  // Imports the upper dir of a step as a new layer, leased at once; the data
  // of its placeholders (ph: a COPY step's, or null) from the context.
  Result<LayerSummary> Import(const std::string& upper, const Placeholders* ph = nullptr) {
    std::unique_ptr<Store::Lease> lease;
    ImportDirOptions io;
    io.remove = true;
    if (ph) io.data_from = &ph->data();
    ASSIGN_OR_RETURN(LayerSummary ls, store_.ImportDirLayer(upper, o_.progress, &lease, io));
    st_.leases.push_back(std::move(lease));
    st_.imported.push_back(ls);
    return ls;
  }
  // Steps of Run.
  Status Start();
  void WarnUndeclaredArgs();
  Status ApplyConfigStep(const Instruction& in);
  Status ApplyAppStep(const Instruction& in);
  std::string ImageConfig() const;
  std::map<std::string, std::string> ImageAnnotations() const;
  // Steps of CollectImages.
  struct Collection;
  Status FindCollection(const std::string& rootfs, Collection* c);
  Status FetchCollection(const std::string& registry, const std::string& tmp, Collection* c);
  Status AddCollectedLayer(const std::string& upper, const Collection& c);

  Store& store_;
  const BuildOptions& o_;
  Platform target_;  // --platform, or FROM --platform (empty: the host's)
  BuildCache cache_{store_, o_.no_cache};
  // The context files' digests (--no-cache: hashed anew, records rewritten).
  DigestCache digests_{store_, Env::Default(), !o_.no_cache};
  Kubefile kf_;
  std::shared_ptr<const registry::RegistriesConf> registries_;  // Registries()
  WorkDir work_;  // tmp/build-*: step dirs; what gc undoes if the build dies
  State st_;
  BuildResult res_;
  Digest seen_key_;  // the current COPY/ADD/APP step's "seen" marker (DigestAndCopy)
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

Result<std::shared_ptr<const registry::RegistriesConf>> Builder::Registries() {
  if (!registries_) {
    registry::PullFromRegistryOptions po;
    ASSIGN_OR_RETURN(registries_, registry::RegistriesOf(po));
  }
  return registries_;
}

Result<ImageDetails> Builder::PullBase(const std::string& name) {
  auto full = registry::Reference::Parse(name);
  const bool qualified = full.ok() && !registry::IsShortName(name);
  Log("pulling " + (qualified ? full->ToString() : name) +
      (target_.arch.empty() ? "" : " for " + target_.ToString()));
  registry::PullFromRegistryOptions po;
  ASSIGN_OR_RETURN(po.registries, Registries());
  po.client_options = o_.registry;
  po.scratch_dir = work_.path();
  po.pull.platform = target_;
  po.pull.progress = o_.progress;
  po.log = [this](const std::string& s) { Log(" --> " + s); };
  // Under its reference, as docker pull --platform does: the variant for
  // this platform replaces another one stored under that name.
  ASSIGN_OR_RETURN(auto pulled, registry::PullFromRegistry(store_, name, po));
  return pulled.image;
}

// FROM --platform=P (build args and $TARGETPLATFORM/$BUILDPLATFORM
// expanded): the base is taken for P (pulled for it, or the stored one must
// be of it) and the image is built for P. With cimg build --platform too, the
// two must agree: one build makes one platform's image.
Status Builder::FromPlatform(const Instruction& in) {
  if (in.platform.empty()) return Status::Ok();
  const Platform host = Platform::Host();
  Vars vars = {{"TARGETPLATFORM", (target_.arch.empty() ? host : target_).ToString()},
               {"BUILDPLATFORM", host.ToString()}};
  for (const auto& kv : o_.build_args) vars.push_back(kv);
  const std::string text = Expand(in.platform, vars);
  auto p = Platform::Parse(text);
  if (!p.ok()) return Status::Invalid(Where(in) + ": FROM --platform=" + text + ": " + p.status().message());
  if (!target_.arch.empty() && !PlatformMatches(*p, target_) && !PlatformMatches(target_, *p))
    return Status::Invalid(Where(in) + ": FROM --platform=" + p->ToString() +
                           " differs from the build's --platform " + target_.ToString() +
                           " (one build makes one platform's image)");
  if (target_.arch.empty() || !p->variant.empty()) target_ = *p;
  return Status::Ok();
}

// sealer's FROM merges the base image's applications into the build's, so a
// LAUNCH, APPCMDS or APPENV may name them.
void Builder::InheritApps(const ImageDetails& d) {
  json m = json::parse(d.manifest, nullptr, false);
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object()) return;
  const json& a = m["annotations"];
  auto it = a.find(kSealerImageExtension);
  if (it == a.end() || !it->is_string()) return;
  auto ext = ParseSealerImageExtension(it->get<std::string>());
  if (!ext.ok()) {
    Log("warning: FROM image: " + ext.status().message() + "; its applications are not inherited");
    return;
  }
  st_.ext.applications = ext->applications;
}

Status Builder::From(const Instruction& in) {
  RETURN_IF_ERROR(FromPlatform(in));
  std::string name = Expand(in.args[0], o_.build_args);
  if (name == "scratch") return Status::Ok();
  const std::string where = Where(in) + ": FROM " + name;
  auto details = store_.Inspect(name);
  const bool remote = registry::IsRegistryReference(name);
  if (!details.ok() && details.status().IsNotFound() && remote) details = PullBase(name);
  if (!details.ok()) return details.status().Prefix(where);
  // --platform: the stored image must be of that platform; one pulled from
  // a registry is pulled again for this platform.
  if (!target_.arch.empty()) {
    Platform have = ConfigPlatform(details->config);
    const std::string wrong = where + ": the stored image is " +
                              (have.arch.empty() ? "of no platform" : have.ToString()) + ", not " +
                              target_.ToString() + " (--platform)";
    if (!PlatformMatches(have, target_) && remote && details->source.starts_with("docker://")) {
      Log("stored " + name + " is " + have.ToString() + ", not " + target_.ToString());
      details = PullBase(name);
      if (!details.ok()) return Status::Invalid(wrong + "; pulling it: " + details.status().message());
      have = ConfigPlatform(details->config);
    }
    if (!PlatformMatches(have, target_)) return Status::Invalid(wrong);
  }
  for (const auto& l : details->layers) st_.diff_ids.push_back(l.diff_id);
  RETURN_IF_ERROR(LeaseLayers(store_, st_.diff_ids, &st_.leases).Prefix(Where(in) + ": FROM " + name));
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
  InheritApps(*details);
  return Status::Ok();
}

Result<Builder::StepLower> Builder::OpenLower(const std::string& empty) {
  StepLower sl;
  sl.inos = std::make_unique<InoMap>();
  if (st_.diff_ids.empty()) {
    ASSIGN_OR_RETURN(sl.lower, OpenDirLower(empty, sl.inos.get()));  // FROM scratch
    return sl;
  }
  ASSIGN_OR_RETURN(LayerStack stack, OpenLayerStack(store_, st_.diff_ids));  // leased (LeaseLayers)
  ASSIGN_OR_RETURN(auto src, store_.OpenChunkSource());
  sl.cache = std::make_unique<ChunkCache>(std::move(src), ChunkCacheOptions{});
  ASSIGN_OR_RETURN(sl.lower, OpenStackLower("build", std::move(stack), sl.cache.get(), sl.inos.get()));
  return sl;
}

Status Builder::OnMount(const std::string& tmp,
                        const std::function<Status(const std::string&)>& fn) {
  const std::string upper = tmp + "/upper", work = tmp + "/work", mnt = tmp + "/rootfs",
                    empty = tmp + "/empty";
  for (const auto& d : {upper, work, mnt, empty}) RETURN_IF_ERROR(MakeDirs(d, 0755));
  ASSIGN_OR_RETURN(StepLower sl, OpenLower(empty));
  std::vector<std::unique_ptr<Lower>> lowers;
  lowers.push_back(std::move(sl.lower));
  OverlayOptions oo;
  oo.upperdir = upper;
  oo.workdir = work;
  oo.sync_copy_up = false;  // the upper dir is ingested (and synced) right after
  ASSIGN_OR_RETURN(auto ov, Overlay::Create(std::move(lowers), std::move(sl.inos), oo));
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

// What a COPY/ADD/APP/RUN step works from: its text (history, cache key),
// its cache key, and for the copies the resolved sources and destination.
struct Builder::StepInput {
  std::string text;
  Sha256 key;
  std::vector<CopySource> sources;
  std::string dest;
  bool copied = false;  // the copy ran already (into the step's upper dir)...
  Status copy_status;   // ...with this outcome (reported unless the cache hits)
  Placeholders placeholders;  // the copy's files whose data the import reads from the context
  std::optional<TempDir> memory;  // holds the upper dir of placeholders, in /dev/shm
  std::string upper;              // the step's upper dir ("": tmp/upper)
};

// COPY/ADD: the sources after substitution (${ARCH}: the target
// architecture, unless an ARG/ENV says otherwise), resolved in the context.
Status Builder::PrepareCopy(const Instruction& in, const Vars& vars, const std::string& tmp,
                            StepInput* si) {
  std::vector<std::string> srcs;
  Vars with_arch = {{"ARCH", st_.arch}};
  for (const auto& kv : vars) with_arch.push_back(kv);
  for (size_t i = 0; i + 1 < in.args.size(); i++) srcs.push_back(Expand(in.args[i], with_arch));
  si->dest = Expand(in.args.back(), vars);
  si->text = in.keyword;  // COPY, or ADD (which unpacks local archives)
  for (const auto& s : srcs) si->text += " " + s;
  si->text += " " + si->dest;
  auto resolved = ResolveSources(o_.context, srcs, tmp + "/downloads", o_.download);
  if (!resolved.ok()) return resolved.status().Prefix(Where(in));
  si->sources = std::move(*resolved);
  // A directory gives its contents (buildah's COPY): no name of its own
  // (which also keys the cache apart from cimg's earlier `cp -r` rule).
  for (auto& src : si->sources) {
    struct stat st;
    if (::lstat(src.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) src.name.clear();
  }
  return Status::Ok();
}

// APP/CNI/CSI name src...: local://PATH in the context (wildcards as COPY),
// http(s) URLs downloaded; into application/apps/NAME/, a directory's
// contents (buildah's COPY, which sealer hands these to). The app's type
// and launch files are sealer's (builder/app.h).
Status Builder::PrepareApp(const Instruction& in, const Vars& vars, const std::string& tmp,
                           StepInput* si) {
  const std::string& name = in.args[0];
  std::vector<std::string> srcs;
  Vars with_arch = {{"ARCH", st_.arch}};
  for (const auto& kv : vars) with_arch.push_back(kv);
  for (size_t i = 1; i < in.args.size(); i++) {
    std::string src = Expand(in.args[i], with_arch);
    srcs.push_back(src.starts_with("local://") ? src.substr(8) : src);
  }
  si->dest = std::string(kSealerAppRoot) + name + "/";
  si->text = in.keyword + " " + name;
  for (const auto& s : srcs) si->text += " " + s;
  auto resolved = ResolveSources(o_.context, srcs, tmp + "/downloads", o_.download);
  if (!resolved.ok()) return resolved.status().Prefix(Where(in));
  si->sources = std::move(*resolved);
  for (auto& s : si->sources) {
    struct stat st;
    if (::lstat(s.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) s.name.clear();  // contents
  }
  auto app = DetectApp(name, si->sources);
  if (!app.ok()) return app.status().Prefix(Where(in));
  RegisterApp(in, std::move(*app));
  return Status::Ok();
}

// An APP replaces one of the same name (sealer's map), keeping its place.
void Builder::RegisterApp(const Instruction& in, SealerApp app) {
  st_.app_lines[app.name] = in.line;
  if (in.keyword == "CNI" || in.keyword == "CSI")
    st_.labels[std::string(in.keyword == "CNI" ? kLabelSealerCni : kLabelSealerCsi) + "-" +
               in.args[0]] = "true";
  for (auto& a : st_.ext.applications)
    if (a.name == app.name) {
      a = std::move(app);
      return;
    }
  st_.ext.applications.push_back(std::move(app));
}

Status Builder::LayerStep(const Instruction& in) {
  Vars vars = st_.args;
  for (const auto& kv : st_.env) vars.push_back(kv);
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(work_.path(), "step-"));
  StepInput si;
  si.key.Update("cimg-build-v1\n" + ChainKey(st_.diff_ids).ToString() + "\n");
  if (in.keyword == "COPY" || in.keyword == "ADD") {
    RETURN_IF_ERROR(PrepareCopy(in, vars, tmp.path(), &si));
  } else if (in.keyword != "RUN") {  // APP, CNI, CSI
    RETURN_IF_ERROR(PrepareApp(in, vars, tmp.path(), &si));
  } else {
    // RUN sees the target architecture too (unless an ARG/ENV names ARCH).
    bool has_arch = false;
    for (const auto& kv : vars) has_arch |= kv.first == "ARCH";
    if (!has_arch) vars.emplace_back("ARCH", st_.arch);
    si.text = "RUN " + in.raw;
    si.key.Update(si.text + "\n");
    for (const auto& [k, v] : vars) si.key.Update(k + "=" + v + "\n");
    return RunLayerStep(in, si, tmp.path());
  }
  RETURN_IF_ERROR(DigestAndCopy(in, tmp.path(), &si));
  return RunLayerStep(in, si, tmp.path());
}

// The sources' digest (the cache key's inputs). When no cache entry of this
// step's text on these parent layers can exist (its "seen" marker is absent,
// or --no-cache), the copy runs meanwhile, on another thread: the context is
// read once from disk, not once for the digest and again for the copy. (A
// cache hit found after all, from a cache older than the markers, drops the
// copy.)
Status Builder::DigestAndCopy(const Instruction& in, const std::string& tmp, StepInput* si) {
  Sha256 seen;
  seen.Update("cimg-build-seen-v1\n" + ChainKey(st_.diff_ids).ToString() + "\n" + si->text + "\n");
  seen_key_ = seen.Finish();
  bool speculate = o_.no_cache;
  if (!speculate) {
    auto marker = store_.GetBuildCache(seen_key_);
    speculate = marker.ok() && !marker->has_value();
  }
  Status digested;
  Digest inputs;
  auto digest = [&] {
    DigestCacheStats stats;
    auto d = DigestSources(si->sources, &digests_, &stats);
    if (d.ok()) inputs = *d;
    digested = d.status();
    LogInfo(Where(in) + ": inputs: " + std::to_string(stats.hashed) + " files hashed, " +
            std::to_string(stats.cached) + " from the digest cache");
  };
  if (speculate) {
    std::thread t(digest);
    Status copied = CopyStep(in, *si, tmp);
    t.join();
    RETURN_IF_ERROR(digested);
    si->copied = true;
    si->copy_status = std::move(copied);
  } else {
    digest();
    RETURN_IF_ERROR(digested);
  }
  si->key.Update(si->text + "\n" + inputs.ToString() + "\n");
  return Status::Ok();
}

// COPY, ADD, APP: no mount; the files go into the upper dir directly, with
// the overlay's rules (builder/upper_root.h), over the image so far; the
// context's regular files as placeholders (builder/placeholder.h): the upper
// dir goes straight to the import (RunLayerStep), or is dropped on a cache hit.
Status Builder::CopyStep(const Instruction& in, StepInput& si, const std::string& tmp) {
  std::string upper = tmp + "/upper";
  const std::string empty = tmp + "/empty";
  if (!o_.copy_data_into_upper && !CopyWritesData(si.sources, in.keyword == "ADD")) {
    ASSIGN_OR_RETURN(si.memory, MemoryUpperDir());
    if (si.memory) {
      upper = si.memory->path() + "/upper";
      LogInfo(Where(in) + ": upper dir of placeholders in memory: " + upper);
    }
  }
  si.upper = upper;
  for (const auto& d : {upper, empty}) RETURN_IF_ERROR(MakeDirs(d, 0755));
  ASSIGN_OR_RETURN(StepLower sl, OpenLower(empty));
  UniqueFd fd(::open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Status::IOError(upper);
  UpperRoot root(fd.get(), st_.diff_ids.empty() ? nullptr : sl.lower.get());
  if (!o_.copy_data_into_upper) root.set_placeholders(&si.placeholders);
  return CopyInto(root, si.sources, si.dest, in.keyword == "ADD").Prefix(Where(in));
}

// The step from the cache, else run on a mount and its upper dir imported.
Status Builder::RunLayerStep(const Instruction& in, StepInput& si, const std::string& tmp) {
  const std::string& text = si.text;
  Digest cache_key = si.key.Finish();
  if (auto hit = cache_.Lookup(cache_key, &st_.leases)) {
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
    // A hit on a copy made in vain (a cache older than the markers): marked now.
    return si.copied ? store_.PutBuildCache(seen_key_, "{\"seen\":true}") : Status::Ok();
  }
  if (in.keyword == "RUN") {
    RETURN_IF_ERROR(OnMount(tmp, [&](const std::string& rootfs) { return RunCommand(in, rootfs); }));
  } else {
    RETURN_IF_ERROR(si.copied ? si.copy_status : CopyStep(in, si, tmp));
  }
  std::string diff;
  const std::string upper = si.upper.empty() ? tmp + "/upper" : si.upper;
  if (!DirEmpty(upper)) {
    if (o_.before_import) o_.before_import(in.keyword);
    auto imported = Import(upper, &si.placeholders);
    // A context file that changed since the copy: the line of the step too.
    if (!imported.ok() && imported.status().code() == Status::Code::kAborted)
      return imported.status().Prefix(Where(in));
    ASSIGN_OR_RETURN(LayerSummary ls, std::move(imported));
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
  RETURN_IF_ERROR(cache_.Put(cache_key, diff, st_.created));
  if (in.keyword == "RUN") return Status::Ok();
  return store_.PutBuildCache(seen_key_, "{\"seen\":true}");  // DigestAndCopy's marker
}

// What CollectImages gathers: the images to collect, the archives of
// --build-mode all, the step's text and cache key, and a cached layer.
struct Builder::Collection {
  std::vector<std::string> extra, ignored;  // --image-list, --ignored-image-list
  Platform platform;
  std::vector<std::string> names;
  std::vector<CopySource> archives;
  std::string text;
  Digest key;
  std::optional<Digest> cached;  // the collected layer, from the cache (leased)
};

Status Builder::CollectImages() {
  Collection c;
  if (!o_.image_list.empty()) {
    ASSIGN_OR_RETURN(c.extra, ReadImageList(o_.image_list));
  }
  if (!o_.ignored_image_list.empty()) {
    ASSIGN_OR_RETURN(c.ignored, ReadImageList(o_.ignored_image_list));
  }
  if (c.extra.empty() && !st_.diff_ids.empty()) {
    // Nothing to look at (no manifests/, charts/, images/): no mount.
    ASSIGN_OR_RETURN(LayerStack stack, OpenLayerStack(store_, st_.diff_ids));  // leased
    bool any = false;
    for (const char* d : {"manifests", "charts", "images"}) any |= stack.Lookup(d).has_value();
    if (!any) return Status::Ok();
  }
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(work_.path(), "images-"));
  c.platform = target_.arch.empty() ? Platform::Host() : target_;
  RETURN_IF_ERROR(OnMount(tmp.path(), [&](const std::string& rootfs) -> Status {
    RETURN_IF_ERROR(FindCollection(rootfs, &c));
    if (c.names.empty() && c.archives.empty()) return Status::Ok();
    if (auto hit = cache_.Lookup(c.key, &st_.leases); hit && hit->layer) {
      c.cached = *hit->layer;
      if (!hit->created.empty()) st_.created = hit->created;
      return Status::Ok();
    }
    // registry/ is written in the upper dir directly when the image so far
    // has none (else through the mount, which then merges with it). The
    // mount never looks at registry/ again and is gone before the import,
    // so none of its caches can serve stale data.
    struct stat rst;
    if (::lstat((rootfs + "/registry").c_str(), &rst) == 0 || errno != ENOENT)
      return FetchCollection(rootfs + "/registry", tmp.path(), &c);
    const std::string direct = tmp.path() + "/upper/registry";
    if (::mkdir(direct.c_str(), 0755) != 0) return Status::IOError(direct);
    return FetchCollection(direct, tmp.path(), &c);
  }));
  if (c.names.empty()) return Status::Ok();
  return AddCollectedLayer(tmp.path() + "/upper", c);
}

// The images the rootfs names (plus --image-list, less --ignored-image-list),
// the archives under images/ (--build-mode all), and the step's cache key.
Status Builder::FindCollection(const std::string& rootfs, Collection* c) {
  ASSIGN_OR_RETURN(std::vector<std::string> found, FindImages(rootfs));
  std::set<std::string> all(found.begin(), found.end());
  all.insert(c->extra.begin(), c->extra.end());
  for (const auto& i : c->ignored) all.erase(i);
  c->names.assign(all.begin(), all.end());
  if (o_.build_mode == "all") {
    auto files = ListDir(rootfs + "/images");
    if (files.ok())
      for (const auto& f : *files) {
        struct stat ast;
        std::string p = rootfs + "/images/" + f;
        if (::lstat(p.c_str(), &ast) == 0 && S_ISREG(ast.st_mode) &&
            (f.ends_with(".tar") || f.ends_with(".tar.gz") || f.ends_with(".tgz")))
          c->archives.push_back(CopySource{"images/" + f, p, f});
      }
  }
  if (c->names.empty() && c->archives.empty()) return Status::Ok();
  c->text = "COLLECT IMAGES";
  for (const auto& n : c->names) c->text += " " + n;
  for (const auto& a : c->archives) c->text += " " + a.display;
  Sha256 h;
  h.Update("cimg-build-v1\n" + ChainKey(st_.diff_ids).ToString() + "\n" + c->text + "\n" +
           c->platform.ToString());
  if (!c->archives.empty()) {
    // Read in the rootfs, a mount: no digest cache (a mount's device and
    // inode numbers come back for other files after it is gone).
    ASSIGN_OR_RETURN(Digest ad, DigestSources(c->archives));
    h.Update(ad.ToString());
  }
  c->key = h.Finish();
  return Status::Ok();
}

// Copies the images (from their registries) and the archives' images (read
// in the rootfs) into the directory `registry`: the rootfs's registry/.
Status Builder::FetchCollection(const std::string& registry, const std::string& tmp, Collection* c) {
  registry::DistributionLayout layout(registry);
  ASSIGN_OR_RETURN(auto conf, Registries());
  auto log = [this](const std::string& s) { Log(" --> " + s); };
  for (const auto& n : c->names) {
    // Named as the kubelet will ask for it (short names are docker.io's, as
    // in Kubernetes manifests); fetched where registries.conf says.
    auto ref = registry::Reference::Parse(n);
    if (!ref.ok()) return ref.status().Prefix("container image");
    auto conn = registry::ConnectForPull({*ref}, *conf, o_.registry, log);
    if (!conn.ok()) return conn.status().Prefix(n);
    ASSIGN_OR_RETURN(auto policy, registry::PolicyOf(registry::PullFromRegistryOptions()));
    RETURN_IF_ERROR(registry::CheckPullPolicy(*policy, *conn));
    Log(" --> " + n + " -> registry/" + ref->repository + (ref->tag.empty() ? "" : ":" + ref->tag) +
        " (from " + conn->served_by + ")");
    RETURN_IF_ERROR(CopyToBuiltinRegistry(*conn->client, conn->remote, *ref, c->platform, layout).Prefix(n));
  }
  for (const auto& a : c->archives) {
    ASSIGN_OR_RETURN(std::vector<std::string> loaded,
                     registry::LoadArchiveToLayout(a.path, c->platform, layout, tmp));
    for (const auto& l : loaded) {
      Log(" --> " + a.display + ": " + l + " -> registry/" + l);
      c->names.push_back(l);
    }
  }
  return Status::Ok();
}

// The collected layer (cached, or imported from `upper`) onto the image.
Status Builder::AddCollectedLayer(const std::string& upper, const Collection& c) {
  std::vector<std::string> names = c.names;
  std::sort(names.begin(), names.end());
  res_.images = names;
  st_.labels[kLabelImages] = json(names).dump();
  Log("STEP: collect " + std::to_string(names.size()) + " container images into registry/");
  if (c.cached) {
    Log(" --> cached");
    res_.cached++;
    st_.diff_ids.push_back(*c.cached);
    res_.layers++;
  } else {
    // Fixed times: the layer of the same images is the same bytes in every
    // build, so deploy sends nothing for it when it is rebuilt.
    RETURN_IF_ERROR(ZeroTimes(upper));
    ASSIGN_OR_RETURN(LayerSummary ls, Import(upper));
    st_.diff_ids.push_back(ls.diff_id);
    res_.layers++;
    st_.created = NowRfc3339();
    RETURN_IF_ERROR(cache_.Put(c.key, ls.diff_id.ToString(), st_.created));
  }
  st_.history.push_back({{"created", st_.created}, {"created_by", c.text}, {"empty_layer", false}});
  return Status::Ok();
}

// Reads and parses the Kubefile, checks the context, creates the work dir.
Status Builder::Start() {
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
  target_ = o_.platform;
  st_.arch = o_.platform.arch.empty() ? Platform::Host().arch : o_.platform.arch;
  ASSIGN_OR_RETURN(work_, WorkDir::Create(store_.root(), "build-"));
  return Status::Ok();
}

// Build args given but never declared are reported, as docker does.
void Builder::WarnUndeclaredArgs() {
  for (const auto& [k, v] : o_.build_args) {
    bool declared = false;
    for (const auto& in : kf_.instructions) declared |= in.keyword == "ARG" && in.args[0] == k;
    if (!declared) Log("warning: --build-arg " + k + " is not declared by an ARG of the Kubefile");
  }
}

// ARG, ENV, LABEL, MAINTAINER, CMD, CMDS, LAUNCH, KUBEVERSION, APPCMDS,
// APPENV: the config only.
Status Builder::ApplyConfigStep(const Instruction& in) {
  const std::string& k = in.keyword;
  Vars vars = st_.args;
  for (const auto& kv : st_.env) vars.push_back(kv);
  if (k == "ARG") {
    std::string v = in.arg_has_default ? Expand(in.args[1], vars) : "";
    for (const auto& [bk, bv] : o_.build_args)
      if (bk == in.args[0]) v = bv;
    SetVar(&st_.args, in.args[0], v);
  } else if (k == "ENV") {
    for (size_t a = 0; a + 1 < in.args.size(); a += 2) {
      std::string v = Expand(in.args[a + 1], vars);
      SetVar(&st_.env, in.args[a], v);
      st_.ext.env[in.args[a]] = v;  // sealer's global env: this Kubefile's ENV
    }
    st_.history.push_back({{"created", st_.created}, {"created_by", "ENV " + in.raw}, {"empty_layer", true}});
  } else if (k == "LABEL") {
    for (size_t a = 0; a + 1 < in.args.size(); a += 2)
      st_.labels[Expand(in.args[a], vars)] = Expand(in.args[a + 1], vars);
    st_.history.push_back({{"created", st_.created}, {"created_by", "LABEL " + in.raw}, {"empty_layer", true}});
  } else if (k == "MAINTAINER") {
    st_.author = in.raw;
  } else if (k == "CMD") {
    st_.cmds.push_back(in.raw);
    st_.ext.launch_cmds.push_back(in.raw);  // sealer: CMD and CMDS are launch.cmds
  } else if (k == "CMDS") {
    st_.cmds_launch = in.args;
    st_.ext.launch_cmds.insert(st_.ext.launch_cmds.end(), in.args.begin(), in.args.end());
  } else if (k == "KUBEVERSION") {
    st_.labels[kLabelSealerKubeVersion] = Expand(in.args[0], vars);
  } else {
    return ApplyAppStep(in);
  }
  return Status::Ok();
}

// LAUNCH, APPCMDS, APPENV: of apps this Kubefile or its FROM image declares.
Status Builder::ApplyAppStep(const Instruction& in) {
  const std::string& k = in.keyword;
  if (k == "LAUNCH") {
    for (const auto& a : in.args) RETURN_IF_ERROR(CheckApp(in, a));
    st_.launch = in.args;
    st_.ext.launch_apps = in.args;
    return Status::Ok();
  }
  RETURN_IF_ERROR(CheckApp(in, in.args[0]));
  SealerApp* app = nullptr;
  for (auto& a : st_.ext.applications)
    if (a.name == in.args[0]) app = &a;
  if (k == "APPCMDS") {
    app->cmds.assign(in.args.begin() + 1, in.args.end());
  } else {  // APPENV: added to (and overriding) the app's earlier ones
    Vars vars = st_.args;
    for (const auto& kv : st_.env) vars.push_back(kv);
    for (size_t a = 1; a + 1 < in.args.size(); a += 2) app->env[in.args[a]] = Expand(in.args[a + 1], vars);
  }
  return Status::Ok();
}

Status Builder::CheckApp(const Instruction& in, const std::string& name) const {
  if (st_.ext.App(name)) return Status::Ok();
  std::string known;
  for (const auto& a : st_.ext.applications) known += (known.empty() ? "" : ", ") + a.name;
  return Status::Invalid(Where(in) + ": " + in.keyword + ": application \"" + name +
                         "\" does not exist in the image (declare it with APP; known: " +
                         (known.empty() ? "none" : known) + ")");
}

// sealer: an app whose type could not be detected needs APPCMDS.
Status Builder::CheckAppsLaunchable() const {
  for (const auto& a : st_.ext.applications) {
    if (!a.type.empty() || !a.cmds.empty()) continue;
    auto line = st_.app_lines.find(a.name);
    return Status::Invalid(kf_.path + ":" + std::to_string(line == st_.app_lines.end() ? 1 : line->second) +
                           ": APP " + a.name +
                           ": its type is not detected (not a helm chart, nor only .yaml/.yml "
                           "files, nor only .sh files): give it an APPCMDS");
  }
  return Status::Ok();
}

// The image config of what the build holds.
std::string Builder::ImageConfig() const {
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
  return cfg.dump();
}

// The manifest annotations sealer writes (transport/sealer_image.h), so that
// sealer deploys the image and cimg deploy launches its apps.
std::map<std::string, std::string> Builder::ImageAnnotations() const {
  SealerImageExtension ext = st_.ext;
  ext.sealer_version = kSealerVersionWritten;
  ext.buildah_version = "";
  std::map<std::string, std::string> a = {{kSealerImageExtension, ext.ToJson()}};
  if (!res_.images.empty()) {
    std::vector<SealerContainerImage> list;
    for (const auto& n : res_.images) {
      auto ref = registry::Reference::Parse(n);
      list.push_back({ref.ok() ? ref->ToString() : n, "", st_.os, st_.arch, target_.variant});
    }
    a[kSealerContainerImages] = SealerContainerImagesJson(list);
  }
  return a;
}

Result<BuildResult> Builder::Run() {
  std::string profile;  // checked before the build, kept with the image
  if (!o_.profile.empty()) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(o_.profile, 64 << 20));
    ASSIGN_OR_RETURN(ReadProfile p, ReadProfile::ParseText(text, o_.profile));
    profile = p.ToAnnotation();
  }
  RETURN_IF_ERROR(Start());
  WarnUndeclaredArgs();
  const size_t n = kf_.instructions.size();
  for (size_t i = 0; i < n; i++) {
    const Instruction& in = kf_.instructions[i];
    Log("STEP " + std::to_string(i + 1) + "/" + std::to_string(n) + ": " + in.keyword + " " + in.raw);
    if (in.keyword == "FROM") {
      RETURN_IF_ERROR(From(in));
      if (!target_.arch.empty()) st_.arch = target_.arch;
      continue;
    }
    res_.steps++;
    static const std::set<std::string> kLayerSteps = {"COPY", "ADD", "RUN", "APP", "CNI", "CSI"};
    if (kLayerSteps.count(in.keyword))
      RETURN_IF_ERROR(LayerStep(in));
    else
      RETURN_IF_ERROR(ApplyConfigStep(in));
  }
  RETURN_IF_ERROR(CheckAppsLaunchable());
  if (o_.collect_images) RETURN_IF_ERROR(CollectImages());
  if (st_.created.empty()) st_.created = NowRfc3339();
  std::map<std::string, std::string> annotations = ImageAnnotations();
  if (!profile.empty()) annotations[kReadProfileAnnotation] = profile;
  ASSIGN_OR_RETURN(res_.image, store_.CreateImage(o_.tag, ImageConfig(), "build:" + o_.context,
                                                  st_.imported, annotations));
  return res_;
}

}  // namespace

Result<BuildResult> Build(Store& store, const BuildOptions& o) {
  Builder b(store, o);
  return b.Run();
}

}  // namespace cfs::builder
