// clusterfs: mount cluster images (and plain directories) as an overlay.
//
//   clusterfs mount [--root DIR] [--upper DIR --work DIR] [-o OPTS] [-f] IMAGE|none MNT
//   clusterfs umount MNT
//   clusterfs IMAGE|none MNT -o OPTS      (what mount.fuse3 runs for
//                                          `mount -t fuse.clusterfs`)
// Argument parsing, printing and process handling only; the mount is
// mount/ (mount/image_mount.h), the filesystem fs/.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "base/io.h"
#include "mount/image_mount.h"
#include "mount/mount_state.h"
#include "mount/mount_table.h"
#include "tools/version.h"

namespace {

using cfs::Result;
using cfs::Status;

struct MountArgs {
  std::string root, upper, work, source, mountpoint;
  std::vector<std::string> opts;  // -o, possibly several
  bool foreground = false, debug = false;
  // From -o:
  std::vector<std::string> lowerdirs;  // top first, unescaped
  std::vector<std::string> fuse_opts;  // passed to the kernel mount
  bool allow_other = false, read_only = false, sync_copy_up = true;
  size_t cache_mb = 16;
  size_t readahead_kb = 1024;
  // Lazy mounts of registry images.
  bool tls_verify = true;
  std::string cert_dir, creds, authfile, prefetch = "none", log_file;
  std::string record_profile;
};

// Log lines of the mount: to --log FILE when given; also to stderr in the
// foreground and before the mount is ready; else to syslog.
std::string g_log_file;
bool g_log_stderr = true;
void LogLine(const std::string& s) {
  if (!g_log_file.empty()) {
    if (FILE* f = std::fopen(g_log_file.c_str(), "a")) {
      std::fprintf(f, "%s\n", s.c_str());
      std::fclose(f);
    }
  }
  if (g_log_stderr) {
    std::fprintf(stderr, "clusterfs: %s\n", s.c_str());
  } else if (g_log_file.empty()) {
    ::syslog(LOG_INFO, "%s", s.c_str());
  }
}

std::string RealPath(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  if (r == nullptr) return p;
  std::string s(r);
  ::free(r);
  return s;
}

// Splits "a:b\:c" on unescaped ':' (the kernel's lowerdir syntax).
std::vector<std::string> SplitLowers(const std::string& v) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      out.back() += v[++i];
    } else if (v[i] == ':') {
      out.emplace_back();
    } else {
      out.back() += v[i];
    }
  }
  return out;
}

Status ParseOptions(MountArgs* a) {
  static const char* kPassThrough[] = {"ro", "rw", "suid", "nosuid", "dev", "nodev", "exec",
                                       "noexec", "atime", "noatime", "relatime", "norelatime",
                                       "strictatime", "nodiratime", "diratime", "sync", "async",
                                       "dirsync", "lazytime", "nolazytime"};
  static const char* kIgnored[] = {"defaults", "auto", "noauto", "user", "nouser", "users",
                                   "_netdev", "nofail", "owner", "group", "comment"};
  for (const auto& group : a->opts) {
    std::stringstream ss(group);
    std::string o;
    while (std::getline(ss, o, ',')) {
      if (o.empty()) continue;
      std::string key = o.substr(0, o.find('=')), val;
      if (o.find('=') != std::string::npos) val = o.substr(o.find('=') + 1);
      if (key == "lowerdir") {
        for (auto& l : SplitLowers(val)) {
          if (l.empty()) return Status::Invalid("empty entry in lowerdir=" + val);
          a->lowerdirs.push_back(l);
        }
      } else if (key == "upperdir") {
        a->upper = val;
      } else if (key == "workdir") {
        a->work = val;
      } else if (key == "root") {
        a->root = val;
      } else if (key == "cache_mb") {
        a->cache_mb = std::strtoull(val.c_str(), nullptr, 10);
      } else if (key == "readahead_kb") {
        a->readahead_kb = std::strtoull(val.c_str(), nullptr, 10);
      } else if (key == "tls_verify" || key == "tls-verify") {
        if (val != "true" && val != "false" && val != "1" && val != "0")
          return Status::Invalid("tls_verify= takes true or false");
        a->tls_verify = val == "true" || val == "1";
      } else if (key == "cert_dir") {
        a->cert_dir = val;
      } else if (key == "authfile") {
        a->authfile = val;
      } else if (key == "prefetch") {
        a->prefetch = val;
      } else if (key == "log") {
        a->log_file = val;
      } else if (key == "allow_other") {
        a->allow_other = true;
      } else if (key == "volatile") {
        a->sync_copy_up = false;
      } else if (key.rfind("x-", 0) == 0 ||
                 std::find(std::begin(kIgnored), std::end(kIgnored), key) != std::end(kIgnored)) {
        continue;
      } else if (std::find(std::begin(kPassThrough), std::end(kPassThrough), o) !=
                 std::end(kPassThrough)) {
        if (o == "ro") a->read_only = true;
        if (o != "rw" && o != "lazytime" && o != "nolazytime") a->fuse_opts.push_back(o);
      } else {
        return Status::Invalid("unknown mount option '" + o + "'");
      }
    }
  }
  return Status::Ok();
}

Status CheckEnvironment(const MountArgs& a) {
  struct stat st;
  if (::stat("/dev/fuse", &st) != 0 || !S_ISCHR(st.st_mode)) {
    return Status::Invalid(
        "/dev/fuse is missing or not a character device (load the fuse module; in a container "
        "pass --device /dev/fuse)");
  }
  if (::stat(a.mountpoint.c_str(), &st) != 0) {
    return Status::NotFound("mountpoint " + a.mountpoint + ": " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) return Status::Invalid("mountpoint " + a.mountpoint + ": not a directory");
  if (cfs::mount::IsMountPoint(RealPath(a.mountpoint))) {
    return Status::Invalid("mountpoint " + a.mountpoint +
                           " is busy: something is already mounted there");
  }
  if (a.upper.empty() != a.work.empty()) {
    return Status::Invalid("--upper and --work (upperdir= and workdir=) go together");
  }
  if (!a.upper.empty()) {
    struct stat us, ws;
    if (::stat(a.upper.c_str(), &us) != 0 || !S_ISDIR(us.st_mode)) {
      return Status::Invalid("upper dir " + a.upper + ": not a directory");
    }
    if (::stat(a.work.c_str(), &ws) != 0 || !S_ISDIR(ws.st_mode)) {
      return Status::Invalid("work dir " + a.work + ": not a directory");
    }
    if (us.st_dev != ws.st_dev) {
      return Status::Invalid("upper dir " + a.upper + " and work dir " + a.work +
                             " are on different filesystems (they must share one)");
    }
    std::string ru = RealPath(a.upper) + "/", rw = RealPath(a.work) + "/";
    if (ru.rfind(rw, 0) == 0 || rw.rfind(ru, 0) == 0) {
      return Status::Invalid("upper dir and work dir must not be inside each other");
    }
    if (a.read_only) return Status::Invalid("-o ro with an upper dir: drop one of them");
  }
  return Status::Ok();
}

// A lowerdir entry (or IMAGE) starting with '/' or '.' is a path, never an
// image reference: it must be an existing directory (or IMAGE is refused), so
// a typo is an error naming it, not a store lookup that creates a store.
Status CheckPathLike(const MountArgs& a) {
  auto path_like = [](const std::string& s) { return !s.empty() && (s[0] == '/' || s[0] == '.'); };
  for (const auto& l : a.lowerdirs) {
    if (!path_like(l)) continue;
    struct stat st;
    if (::stat(l.c_str(), &st) != 0)
      return Status::NotFound("lowerdir " + l + ": " + std::strerror(errno) +
                              " (a lowerdir entry starting with '/' or '.' is a directory)");
    if (!S_ISDIR(st.st_mode)) return Status::Invalid("lowerdir " + l + ": not a directory");
  }
  if (path_like(a.source))
    return Status::Invalid("IMAGE " + a.source + " is a path: give a directory as -o lowerdir=" +
                           a.source + " with IMAGE 'none'");
  return Status::Ok();
}

std::string PidFile(const std::string& mnt) {
  cfs::mount::MakeMountRecordDir();
  return cfs::mount::MountRecordPath(RealPath(mnt), ".pid");
}

// What the mount library needs of the arguments.
cfs::mount::ImageMountOptions MountOptionsOf(const MountArgs& a) {
  cfs::mount::ImageMountOptions o;
  o.root = a.root;
  o.source = a.source;
  o.lowerdirs = a.lowerdirs;
  o.mountpoint = a.mountpoint;
  o.upper = a.upper;
  o.work = a.work;
  o.sync_copy_up = a.sync_copy_up;
  o.allow_other = a.allow_other;
  o.fuse_opts = a.fuse_opts;
  o.debug = a.debug;
  o.cache_mb = a.cache_mb;
  o.readahead_kb = a.readahead_kb;
  o.tls_verify = a.tls_verify;
  o.cert_dir = a.cert_dir;
  o.auth_file = a.authfile;
  o.creds = a.creds;
  o.prefetch_all = a.prefetch == "all";
  o.record_profile = a.record_profile;
  o.log = LogLine;
  return o;
}

// Logs the chunk cache's counters (when the log is read: in the foreground
// or to --log FILE).
void LogCacheStats(const MountArgs& a, const cfs::mount::ImageMount& m) {
  auto st = m.cache_stats();
  if (!st || !(a.foreground || a.debug || !g_log_file.empty())) return;
  LogLine("chunk cache: " + std::to_string(st->hits) + " hits, " + std::to_string(st->misses) +
          " misses (" + std::to_string(st->taken) + " taken from the read-ahead queue), " +
          std::to_string(st->prefetched) + " chunks read ahead");
}

// Builds the overlay and mounts it; calls ready(error) once the mount is
// live (empty error) or failed; then serves until unmounted, the pid file
// beside the mount's record.
int Serve(const MountArgs& a, const std::function<void(const std::string&)>& ready) {
  // A long-lived daemon with many threads: few malloc arenas and an early
  // return of freed memory keep its RSS near what it really uses.
  ::mallopt(M_ARENA_MAX, 2);
  ::mallopt(M_MMAP_THRESHOLD, 512 << 10);  // chunks (<= 256 KiB) stay in the arenas
  ::mallopt(M_TRIM_THRESHOLD, 1 << 20);
  auto fail = [&](const Status& s) {
    ready(s.message());
    return 1;
  };
  auto m = cfs::mount::ImageMount::Prepare(MountOptionsOf(a));
  if (!m.ok()) return fail(m.status());
  ::malloc_trim(0);  // give back what building the layer stacks needed transiently
  if (Status s = (*m)->Mount(); !s.ok()) return fail(s);
  std::string pidfile = PidFile(a.mountpoint);
  (void)cfs::WriteFileAtomic(pidfile, std::to_string(::getpid()) + "\n");
  ready("");
  if (!a.foreground && !a.debug) g_log_stderr = false;
  Status served = (*m)->Serve();
  LogCacheStats(a, **m);
  ::unlink(pidfile.c_str());
  return served.ok() ? 0 : 1;
}

// Checks the arguments and makes their paths absolute (the daemon changes
// to "/"); 0, or the exit status after printing why.
int PrepareArgs(MountArgs* a) {
  auto fail = [](const Status& s, int rc) {
    std::fprintf(stderr, "clusterfs: %s\n", s.message().c_str());
    return rc;
  };
  if (Status s = ParseOptions(a); !s.ok()) return fail(s, 2);
  if (Status s = CheckEnvironment(*a); !s.ok()) return fail(s, 1);
  a->mountpoint = RealPath(a->mountpoint);
  if (!a->upper.empty()) {
    a->upper = RealPath(a->upper);
    a->work = RealPath(a->work);
  }
  if (Status s = CheckPathLike(*a); !s.ok()) return fail(s, 1);
  for (auto& l : a->lowerdirs) {
    struct stat st;
    if (::stat(l.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) l = RealPath(l);
  }
  if (!a->root.empty()) a->root = RealPath(a->root);
  if (!a->log_file.empty()) {
    if (a->log_file[0] != '/') a->log_file = RealPath(".") + "/" + a->log_file;
    g_log_file = a->log_file;
  }
  if (!a->record_profile.empty() && a->record_profile[0] != '/')
    a->record_profile = RealPath(".") + "/" + a->record_profile;
  if (a->prefetch != "all" && a->prefetch != "none")
    return fail(Status::Invalid("prefetch= takes all or none"), 2);
  return 0;
}

// The mount daemon: serves in a child of its own session, its stdio on
// /dev/null once the mount is live; the child reports "OK" or the error on fd.
[[noreturn]] void RunDaemon(const MountArgs& a, int fd) {
  ::setsid();
  if (::chdir("/") != 0) _exit(1);
  int rc = Serve(a, [fd](const std::string& err) {
    std::string msg = err.empty() ? "OK" : err;
    (void)!::write(fd, msg.data(), msg.size());
    ::close(fd);
    if (err.empty()) {
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
        if (null > 2) ::close(null);
      }
    }
  });
  _exit(rc);
}

int DoMount(MountArgs a) {
  if (int rc = PrepareArgs(&a); rc != 0) return rc;
  if (a.foreground || a.debug) {
    return Serve(a, [](const std::string& err) {
      if (!err.empty()) std::fprintf(stderr, "clusterfs: %s\n", err.c_str());
    });
  }
  // Fork before any thread exists (the store starts RocksDB threads); the
  // parent returns once the child reports the mount live, or its error.
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    std::perror("clusterfs: pipe");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("clusterfs: fork");
    return 1;
  }
  if (pid == 0) {
    ::close(p[0]);
    RunDaemon(a, p[1]);
  }
  ::close(p[1]);
  std::string msg;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    msg.append(buf, n);
  }
  ::close(p[0]);
  if (msg == "OK") return 0;
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (msg.empty()) msg = "the mount process died before the mount was ready";
  std::fprintf(stderr, "clusterfs: %s\n", msg.c_str());
  return 1;
}

// Waits up to `seconds` for process pid to exit: true when it has (or
// never existed).
bool WaitExit(pid_t pid, int seconds) {
  cfs::UniqueFd pfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pfd.valid()) return errno == ESRCH;
  struct pollfd p = {pfd.get(), POLLIN, 0};
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;  // readable: it exited
    if (n < 0 && errno != EINTR) return ::kill(pid, 0) != 0;
  }
}

int DoUmount(const std::string& mnt) {
  std::string real = RealPath(mnt);
  std::string pidfile = PidFile(real);
  pid_t pid = 0;
  if (auto s = cfs::ReadFile(pidfile); s.ok()) pid = std::atoi(s->c_str());
  if (!cfs::mount::IsMountPoint(real)) {
    std::fprintf(stderr, "clusterfs: %s is not mounted\n", mnt.c_str());
    return 1;
  }
  if (::geteuid() == 0) {
    if (::umount2(real.c_str(), 0) != 0) {
      std::fprintf(stderr, "clusterfs: unmounting %s: %s\n", mnt.c_str(), std::strerror(errno));
      return 1;
    }
  } else {
    std::string cmd = "fusermount3 -u -- '" + real + "'";
    if (std::system(cmd.c_str()) != 0) return 1;
  }
  // Wait for the daemon to finish (it releases its store lease on exit); it
  // cancels its registry transfers when the connection ends, so this is
  // quick whatever the registry does.
  if (pid > 0 && !WaitExit(pid, 20)) {
    std::fprintf(stderr, "clusterfs: %s is unmounted, but its daemon (pid %d) is still running after 20 s\n",
                 mnt.c_str(), static_cast<int>(pid));
    return 1;
  }
  return 0;
}

// Blanks the password of --creds USER:PASS in this process's own argv (what
// ps and /proc/PID/cmdline show), before the daemon is forked from it: the
// daemon has the credentials in memory only. (The command line showed them
// until now; the auth file, `cimg login`, avoids even that.)
void HideCredentials(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    char* v = nullptr;
    if (std::strcmp(argv[i], "--creds") == 0 && i + 1 < argc) v = argv[i + 1];
    else if (std::strncmp(argv[i], "--creds=", 8) == 0) v = argv[i] + 8;
    if (!v) continue;
    char* colon = std::strchr(v, ':');
    if (colon) std::memset(colon + 1, 0, std::strlen(colon + 1));  // the final NUL stays
  }
}

// The mount's options for registry images and profiles.
void AddRegistryOptions(CLI::App* mount, MountArgs& a) {
  mount->add_option("--tls-verify", a.tls_verify,
                    "Registry images: require HTTPS with verified certificates (default true)")
      ->default_str("true");
  mount->add_option("--cert-dir", a.cert_dir, "Registry images: directory with the registry's CA (*.crt)");
  mount->add_option("--creds", a.creds, "Registry images: USER[:PASSWORD] (default: the auth file)");
  mount->add_option("--authfile", a.authfile, "Auth file (default: $REGISTRY_AUTH_FILE or ~/.docker/config.json)");
  mount->add_option("--prefetch", a.prefetch,
                    "Registry images: 'all' fetches the whole image in the background, 'none' (default) "
                    "only what is read (and the image's profile first, when it has one)")
      ->check(CLI::IsMember({"all", "none"}));
  mount->add_option("--record-profile", a.record_profile,
                    "Write the file ranges read from the images, in order, to FILE at the unmount "
                    "(a bring-up profile: cimg profile attach)");
}

constexpr char kExamples[] =
    "Examples:\n"
    "  clusterfs mount demo/app:1 /mnt/app               # an image of the store, read-only\n"
    "  clusterfs mount registry.example.com/team/app:1 /mnt/app   # lazily, from a registry\n"
    "  clusterfs mount -o lowerdir=/a:/b,upperdir=/u,workdir=/w none /mnt/m\n"
    "  clusterfs umount /mnt/app\n\n"
    "clusterfs COMMAND --help shows each command's options and examples (man clusterfs-COMMAND).";

}  // namespace

int main(int argc, char** argv) {
  // The mount.fuse3 helper form: clusterfs SOURCE MNT [-o OPTS].
  std::vector<std::string> args(argv, argv + argc);
  HideCredentials(argc, argv);  // args keeps them
  if (args.size() > 1 && args[1] != "mount" && args[1] != "umount" && args[1] != "version" &&
      args[1][0] != '-') {
    args.insert(args.begin() + 1, "mount");
  }
  CLI::App app{"clusterfs: mount cluster images and directories as an overlay filesystem"};
  app.require_subcommand(1);
  app.footer(kExamples);
  app.set_version_flag("--version", cimg::VersionLine("clusterfs", cimg::CurrentVersion()),
                       "Show the version and exit");
  MountArgs a;
  auto* mount = app.add_subcommand("mount", "Mount IMAGE (or none) with optional -o lowerdir=... on MNT");
  mount->add_option("IMAGE", a.source, "Image in the store (name[:tag], ID prefix), a registry image (REGISTRY/REPO[:TAG], mounted lazily) or 'none'")->required();
  mount->add_option("MNT", a.mountpoint, "Mount point (an existing directory)")->required();
  mount->add_option("--root", a.root, "Store root (default: $CIMG_ROOT or /var/lib/cimg)");
  mount->add_option("--upper", a.upper, "Upper dir: makes the mount writable (with --work)");
  mount->add_option("--work", a.work, "Work dir, on the upper dir's filesystem");
  mount->add_option("-o", a.opts,
                    "Options: lowerdir=A:B (leftmost on top; a directory, else an image; "
                    "escape ':' as '\\:'), upperdir=, workdir=, allow_other, ro, volatile, "
                    "root=, cache_mb= (chunk cache, default 16), readahead_kb= (default 1024), and the usual mount flags")
      ->allow_extra_args(false);  // one value per -o: positionals may follow
  mount->add_flag("-f,--foreground", a.foreground, "Stay in the foreground, log to stderr");
  AddRegistryOptions(mount, a);
  mount->add_option("--log", a.log_file, "Daemon log file (default: syslog)");
  mount->add_flag("-d,--debug", a.debug, "Log every FUSE request (implies -f)");
  auto* umount = app.add_subcommand("umount", "Unmount MNT and wait for its daemon to exit");
  std::string umnt;
  umount->add_option("MNT", umnt, "Mount point")->required();
  umount->footer("Example:\n  clusterfs umount /mnt/app");
  mount->footer(
      "Examples:\n"
      "  clusterfs mount demo/app:1 /mnt/app\n"
      "  clusterfs mount --upper /tmp/u --work /tmp/w demo/app:1 /mnt/app\n"
      "  clusterfs mount -o lowerdir=/a:/b,upperdir=/u,workdir=/w none /mnt/merged\n"
      "  clusterfs mount 127.0.0.1:5000/team/app:1 /mnt/app --tls-verify=false --prefetch all");
  auto* version = app.add_subcommand("version", "Show the version, git commit and libraries");
  std::string version_format;
  version->add_option("-f,--format", version_format, "json for machine-readable output")
      ->check(CLI::IsMember({"", "json"}));
  version->footer("Examples:\n  clusterfs version --format json\n  clusterfs --version");
  std::vector<char*> cargv;
  for (auto& s : args) cargv.push_back(s.data());
  try {
    app.parse(static_cast<int>(cargv.size()), cargv.data());
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string where = "clusterfs";
    for (const auto* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::fprintf(stderr, "clusterfs: %s (see '%s --help')\n", e.what(), where.c_str());
    return 2;
  }
  if (mount->parsed()) return DoMount(a);
  if (umount->parsed()) return DoUmount(umnt);
  if (version->parsed()) {
    cimg::VersionInfo v = cimg::CurrentVersion();
    if (version_format == "json") {
      std::printf("%s\n", cimg::VersionJson(v).dump(2).c_str());
    } else {
      std::fputs(cimg::VersionText(v).c_str(), stdout);
    }
    return 0;
  }
  return 2;
}
