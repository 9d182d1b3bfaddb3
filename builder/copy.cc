#include "builder/copy.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/io.h"
#include "builder/archive.h"
#include "builder/rootfs_path.h"

namespace cfs::builder {

namespace {

std::string RealPathOf(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  if (!r) return "";
  std::string s(r);
  ::free(r);
  return s;
}

bool Inside(const std::string& root, const std::string& p) {
  return p == root || (p.size() > root.size() && p.compare(0, root.size(), root) == 0 &&
                       p[root.size()] == '/');
}

// openat2(dirfd, path, flags, RESOLVE_IN_ROOT): path resolved as if dirfd
// were "/".
int OpenIn(int root_fd, const std::string& path, int flags, mode_t mode = 0) {
  return OpenResolved(root_fd, path, flags, RESOLVE_IN_ROOT, mode);
}

// "a/b/c" components; ".." refused; "." and empty dropped.
Result<std::vector<std::string>> Components(const std::string& p) {
  std::vector<std::string> out = SplitComponents(p);
  for (const auto& c : out)
    if (c == "..") return Status::Invalid("COPY: destination \"" + p + "\" leaves the rootfs (..)");
  return out;
}

// Opens (creating as needed, mode 0755) the directory comps[0..n) in the rootfs.
Result<UniqueFd> MakeDirs(int root_fd, const std::vector<std::string>& comps, size_t n) {
  UniqueFd cur(OpenIn(root_fd, "", O_PATH | O_DIRECTORY));
  if (!cur.valid()) return Status::IOError("rootfs");
  for (size_t i = 0; i < n; i++) {
    std::string p = JoinComponents(comps, i + 1);
    int fd = OpenIn(root_fd, p, O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
      UniqueFd parent(OpenIn(root_fd, JoinComponents(comps, i), O_PATH | O_DIRECTORY));
      if (!parent.valid()) return Status::IOError("COPY: " + JoinComponents(comps, i));
      if (::mkdirat(parent.get(), comps[i].c_str(), 0755) != 0 && errno != EEXIST)
        return Status::IOError("COPY: mkdir " + p);
      fd = OpenIn(root_fd, p, O_PATH | O_DIRECTORY);
    }
    if (fd < 0) return Status::IOError("COPY: " + p + " is not a directory");
    cur.Reset(fd);
  }
  return cur;
}

Status CopyFile(const std::string& src, const struct stat& st, int dir_fd, const std::string& name,
                const std::string& shown) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return Status::IOError("COPY: " + src);
  // Never write through a symlink or into a directory of that name.
  struct stat old;
  if (::fstatat(dir_fd, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(old.st_mode))
      return Status::Invalid("COPY: " + shown + " is a directory in the rootfs");
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0) return Status::IOError("COPY: replace " + shown);
  }
  UniqueFd out(::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 07777));
  if (!out.valid()) return Status::IOError("COPY: create " + shown);
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("COPY: read " + src);
    }
    if (n == 0) break;
    RETURN_IF_ERROR(WriteAll(out.get(), buf.data(), static_cast<size_t>(n)));
  }
  if (::fchown(out.get(), 0, 0) != 0 && errno != EPERM) return Status::IOError("COPY: chown " + shown);
  if (::fchmod(out.get(), st.st_mode & 07777) != 0) return Status::IOError("COPY: chmod " + shown);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ::futimens(out.get(), ts);
  return Status::Ok();
}

Status CopyLink(const std::string& src, int dir_fd, const std::string& name, const std::string& shown) {
  std::string target(4096, '\0');
  ssize_t n = ::readlink(src.c_str(), target.data(), target.size());
  if (n < 0) return Status::IOError("COPY: readlink " + src);
  target.resize(static_cast<size_t>(n));
  struct stat old;
  if (::fstatat(dir_fd, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISDIR(old.st_mode)) return Status::Invalid("COPY: " + shown + " is a directory in the rootfs");
    if (::unlinkat(dir_fd, name.c_str(), 0) != 0) return Status::IOError("COPY: replace " + shown);
  }
  if (::symlinkat(target.c_str(), dir_fd, name.c_str()) != 0) return Status::IOError("COPY: symlink " + shown);
  ::fchownat(dir_fd, name.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW);
  struct stat st;
  if (::lstat(src.c_str(), &st) == 0) {
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::utimensat(dir_fd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
  return Status::Ok();
}

// Copies src (any type) as dir_fd/name; dest_rel is its rootfs path.
Status CopyAny(int root_fd, const std::string& src, int dir_fd, const std::string& name,
               const std::string& dest_rel);

// Copies the entries of directory src into the rootfs directory dest_rel.
Status CopyDirContents(int root_fd, const std::string& src, const std::string& dest_rel) {
  ASSIGN_OR_RETURN(auto comps, Components(dest_rel));
  ASSIGN_OR_RETURN(UniqueFd dir, MakeDirs(root_fd, comps, comps.size()));
  // An O_PATH fd cannot be used for *at() creation on all kernels: reopen.
  UniqueFd d(OpenIn(root_fd, dest_rel, O_RDONLY | O_DIRECTORY));
  if (!d.valid()) return Status::IOError("COPY: " + dest_rel);
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(src));
  for (const auto& n : names)
    RETURN_IF_ERROR(CopyAny(root_fd, src + "/" + n, d.get(), n,
                            dest_rel.empty() ? n : dest_rel + "/" + n));
  return Status::Ok();
}

Status CopyAny(int root_fd, const std::string& src, int dir_fd, const std::string& name,
               const std::string& dest_rel) {
  struct stat st;
  if (::lstat(src.c_str(), &st) != 0) return Status::IOError("COPY: " + src);
  if (S_ISLNK(st.st_mode)) return CopyLink(src, dir_fd, name, dest_rel);
  if (S_ISREG(st.st_mode)) return CopyFile(src, st, dir_fd, name, dest_rel);
  if (S_ISDIR(st.st_mode)) {
    struct stat old;
    if (::fstatat(dir_fd, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(old.st_mode)) {
      if (::unlinkat(dir_fd, name.c_str(), 0) != 0) return Status::IOError("COPY: replace " + dest_rel);
    }
    if (::mkdirat(dir_fd, name.c_str(), st.st_mode & 07777) != 0 && errno != EEXIST)
      return Status::IOError("COPY: mkdir " + dest_rel);
    RETURN_IF_ERROR(CopyDirContents(root_fd, src, dest_rel));
    UniqueFd d(OpenIn(root_fd, dest_rel, O_RDONLY | O_DIRECTORY));
    if (d.valid()) {
      ::fchown(d.get(), 0, 0);
      ::fchmod(d.get(), st.st_mode & 07777);
      // Last: copying the contents changed the directory's times.
      struct timespec ts[2] = {st.st_atim, st.st_mtim};
      ::futimens(d.get(), ts);
    }
    return Status::Ok();
  }
  return Status::Unsupported("COPY: " + src + ": only files, directories and symlinks are copied");
}

// Where a download goes, and how much of it there may be.
struct Sink {
  int fd;
  uint64_t written = 0, max;
  bool too_large = false;
};

size_t OnData(char* p, size_t size, size_t n, void* ud) {
  auto* sink = static_cast<Sink*>(ud);
  if (sink->written + size * n > sink->max) {
    sink->too_large = true;
    return 0;  // curl fails the transfer
  }
  sink->written += size * n;
  return WriteAll(sink->fd, p, size * n).ok() ? size * n : 0;
}

std::string Bytes(uint64_t n) {
  if (n % (1u << 30) == 0) return std::to_string(n >> 30) + " GiB";
  if (n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

// Runs the transfer of url into sink within limits.
Status Fetch(const std::string& url, Sink* sink, const DownloadLimits& limits) {
  CURL* c = curl_easy_init();
  if (!c) return Status::IOError("curl", ENOMEM);
  char err[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, limits.timeout_s);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, limits.low_speed_bytes);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, limits.low_speed_s);
  // A Content-Length over the limit fails before any byte is written.
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limits.max_bytes));
  CURLcode rc = curl_easy_perform(c);
  curl_easy_cleanup(c);
  if (rc == CURLE_OK) return Status::Ok();
  if (sink->too_large || rc == CURLE_FILESIZE_EXCEEDED)
    return Status::Invalid("COPY: " + url + ": larger than the download limit of " +
                           Bytes(limits.max_bytes) + " (cimg build --max-download)");
  if (rc == CURLE_OPERATION_TIMEDOUT)
    return Status::Unavailable("COPY: " + url + ": timed out (" + (err[0] ? err : "") +
                               "; cimg build --download-timeout)");
  return Status::Unavailable("COPY: " + url + ": " + (err[0] ? err : curl_easy_strerror(rc)));
}

Result<CopySource> Download(const std::string& url, const std::string& tmp_dir,
                            const DownloadLimits& limits) {
  std::string path = url;
  auto q = path.find_first_of("?#");
  if (q != std::string::npos) path = path.substr(0, q);
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.empty()) return Status::Invalid("COPY: " + url + ": the URL names no file");
  RETURN_IF_ERROR(cfs::MakeDirs(tmp_dir));
  std::string out = tmp_dir + "/" + Digest::Of(url).Hex().substr(0, 16) + "-" + name;
  UniqueFd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::IOError(out);
  Sink sink{fd.get(), 0, limits.max_bytes};
  Status st = Fetch(url, &sink, limits);
  if (!st.ok()) {
    ::unlink(out.c_str());  // no partial download stays behind
    return st;
  }
  return CopySource{url, out, name, true};
}

}  // namespace

Result<std::vector<CopySource>> ResolveSources(const std::string& context,
                                               const std::vector<std::string>& srcs,
                                               const std::string& tmp_dir,
                                               const DownloadLimits& limits) {
  std::string root = RealPathOf(context);
  if (root.empty()) return Status::NotFound("build context " + context + " does not exist");
  std::vector<CopySource> out;
  for (const auto& s : srcs) {
    if (s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0) {
      ASSIGN_OR_RETURN(CopySource d, Download(s, tmp_dir, limits));
      out.push_back(std::move(d));
      continue;
    }
    if (!s.empty() && s[0] == '/')
      return Status::Invalid("COPY: source \"" + s + "\" is absolute (sources are relative to the context)");
    glob_t g;
    std::memset(&g, 0, sizeof g);
    std::string pattern = root + "/" + s;
    int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
    std::vector<std::string> matches;
    if (rc == 0)
      for (size_t i = 0; i < g.gl_pathc; i++) matches.push_back(g.gl_pathv[i]);
    ::globfree(&g);
    if (matches.empty()) return Status::NotFound("COPY: source \"" + s + "\" not found in the context");
    std::sort(matches.begin(), matches.end());
    for (auto m : matches) {
      while (m.size() > 1 && m.back() == '/') m.pop_back();
      // The source itself may be a symlink (copied as one); what leads to it may not leave.
      std::string dir = m.substr(0, m.rfind('/'));
      std::string base = m.substr(m.rfind('/') + 1);
      std::string real_dir = RealPathOf(dir);
      if (real_dir.empty() || !Inside(root, real_dir) || base == "..")
        return Status::Invalid("COPY: source \"" + s + "\" is outside the build context");
      std::string p = real_dir + "/" + base;
      if (base == ".") p = real_dir;
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) return Status::IOError("COPY: " + p);
      std::string name = p == root ? "" : p.substr(p.rfind('/') + 1);
      out.push_back(CopySource{s, p, name});
    }
  }
  return out;
}

Result<Digest> DigestSources(const std::vector<CopySource>& srcs) {
  Sha256 h;
  std::function<Status(const std::string&, const std::string&)> walk =
      [&](const std::string& path, const std::string& rel) -> Status {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Status::IOError(path);
    std::string head = rel + "\n" + std::to_string(st.st_mode) + "\n";
    h.Update(head);
    if (S_ISLNK(st.st_mode)) {
      std::string t(4096, '\0');
      ssize_t n = ::readlink(path.c_str(), t.data(), t.size());
      if (n < 0) return Status::IOError(path);
      t.resize(static_cast<size_t>(n));
      h.Update(t + "\n");
    } else if (S_ISREG(st.st_mode)) {
      ASSIGN_OR_RETURN(auto src, FdSource::Open(path));
      std::string buf(1 << 20, '\0');
      for (;;) {
        ASSIGN_OR_RETURN(size_t n, src->Read(buf.data(), buf.size()));
        if (n == 0) break;
        h.Update(buf.data(), n);
      }
      h.Update(std::string("\n") + std::to_string(st.st_size) + "\n");
    } else if (S_ISDIR(st.st_mode)) {
      ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(path));
      for (const auto& n : names) RETURN_IF_ERROR(walk(path + "/" + n, rel + "/" + n));
    }
    return Status::Ok();
  };
  for (const auto& s : srcs) RETURN_IF_ERROR(walk(s.path, s.display + ">" + s.name));
  return h.Finish();
}

Status CopyInto(int root_fd, const std::vector<CopySource>& srcs, const std::string& dest_in,
                bool unpack_archives) {
  std::string dest = dest_in;
  auto is_dir = [](const CopySource& s) {
    struct stat st;
    return ::lstat(s.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  auto unpacks = [&](const CopySource& s) { return unpack_archives && !s.remote && IsTarArchive(s.path); };
  bool dir_dest = dest.empty() || dest.back() == '/' || dest == "." || srcs.size() > 1;
  ASSIGN_OR_RETURN(auto comps, Components(dest));
  std::string dest_rel = JoinComponents(comps, comps.size());
  if (!dir_dest && !srcs.empty()) {
    if (is_dir(srcs[0]) || unpacks(srcs[0])) dir_dest = true;
    UniqueFd existing(OpenIn(root_fd, dest_rel, O_PATH | O_DIRECTORY));
    if (existing.valid()) dir_dest = true;
  }
  if (dir_dest) {
    ASSIGN_OR_RETURN(UniqueFd d0, MakeDirs(root_fd, comps, comps.size()));
    UniqueFd d(OpenIn(root_fd, dest_rel, O_RDONLY | O_DIRECTORY));
    if (!d.valid()) return Status::IOError("COPY: " + dest_rel);
    for (const auto& s : srcs) {
      if (is_dir(s)) {
        RETURN_IF_ERROR(CopyDirContents(root_fd, s.path, dest_rel));
      } else if (unpacks(s)) {
        RETURN_IF_ERROR(UnpackTarArchive(s.path, d.get(), "ADD " + s.display));
      } else {
        RETURN_IF_ERROR(CopyAny(root_fd, s.path, d.get(), s.name,
                                dest_rel.empty() ? s.name : dest_rel + "/" + s.name));
      }
    }
    return Status::Ok();
  }
  if (comps.empty()) return Status::Invalid("COPY: empty destination");
  ASSIGN_OR_RETURN(UniqueFd p0, MakeDirs(root_fd, comps, comps.size() - 1));
  UniqueFd parent(OpenIn(root_fd, JoinComponents(comps, comps.size() - 1), O_RDONLY | O_DIRECTORY));
  if (!parent.valid()) return Status::IOError("COPY: " + dest_rel);
  return CopyAny(root_fd, srcs[0].path, parent.get(), comps.back(), dest_rel);
}

}  // namespace cfs::builder
