#include "builder/copy.h"

#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/io.h"
#include "builder/archive.h"
#include "builder/rootfs_path.h"
#include "builder/upper_root.h"

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

// "a/b/c" components; ".." refused; "." and empty dropped.
Result<std::vector<std::string>> Components(const std::string& p) {
  std::vector<std::string> out = SplitComponents(p);
  for (const auto& c : out)
    if (c == "..") return Status::Invalid("COPY: destination \"" + p + "\" leaves the rootfs (..)");
  return out;
}

using Dir = UpperRoot::Dir;

// Opens (creating as needed, mode 0755) the directory rel in the rootfs.
Result<Dir> MakeDirs(UpperRoot& root, const std::string& rel) {
  Dir d;
  if (int err = root.OpenDir("", rel, UpperRoot::Scope::kInRoot, &d)) {
    errno = err;
    if (err == ENOTDIR) return Status::IOError("COPY: " + rel + " is not a directory");
    return Status::IOError("COPY: " + (rel.empty() ? std::string("/") : rel));
  }
  return d;
}

// Room for a new non-directory name in d (never a directory's place).
Status Clear(UpperRoot& root, const Dir& d, const std::string& name, const std::string& shown) {
  int err = root.ClearForNonDir(d, name);
  if (err == EISDIR) return Status::Invalid("COPY: " + shown + " is a directory in the rootfs");
  if (err) {
    errno = err;
    return Status::IOError("COPY: replace " + shown);
  }
  return Status::Ok();
}

// The data of in into out: in the kernel (copy_file_range) when it can,
// else read and written.
Status CopyData(int in, int out, const std::string& src) {
  for (;;) {
    ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t{1} << 30, 0);
    if (n > 0) continue;
    if (n == 0) return Status::Ok();
    if (errno == EINTR) continue;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
      return Status::IOError("COPY: read " + src);
    break;
  }
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("COPY: read " + src);
    }
    if (n == 0) return Status::Ok();
    RETURN_IF_ERROR(WriteAll(out, buf.data(), static_cast<size_t>(n)));
  }
}

// local: src is in the context (not a download), so it may become a
// placeholder when root records them (builder/placeholder.h).
Status CopyFile(UpperRoot& root, const std::string& src, const struct stat& st, const Dir& dir,
                const std::string& name, const std::string& shown, bool local) {
  UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!in.valid()) return Status::IOError("COPY: " + src);
  // Never write through a symlink or into a directory of that name.
  RETURN_IF_ERROR(Clear(root, dir, name, shown));
  UniqueFd out(::openat(dir.fd.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 07777));
  if (!out.valid()) return Status::IOError("COPY: create " + shown);
  Placeholders* ph = local ? root.placeholders() : nullptr;
  RETURN_IF_ERROR(ph ? ph->Make(in.get(), out.get(), src, dir.path.empty() ? name : dir.path + "/" + name)
                     : CopyData(in.get(), out.get(), src));
  if (::fchown(out.get(), 0, 0) != 0 && errno != EPERM) return Status::IOError("COPY: chown " + shown);
  if (::fchmod(out.get(), st.st_mode & 07777) != 0) return Status::IOError("COPY: chmod " + shown);
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  ::futimens(out.get(), ts);
  return Status::Ok();
}

Status CopyLink(UpperRoot& root, const std::string& src, const Dir& dir, const std::string& name,
                const std::string& shown) {
  std::string target(4096, '\0');
  ssize_t n = ::readlink(src.c_str(), target.data(), target.size());
  if (n < 0) return Status::IOError("COPY: readlink " + src);
  target.resize(static_cast<size_t>(n));
  RETURN_IF_ERROR(Clear(root, dir, name, shown));
  const int dir_fd = dir.fd.get();
  if (::symlinkat(target.c_str(), dir_fd, name.c_str()) != 0) return Status::IOError("COPY: symlink " + shown);
  ::fchownat(dir_fd, name.c_str(), 0, 0, AT_SYMLINK_NOFOLLOW);
  struct stat st;
  if (::lstat(src.c_str(), &st) == 0) {
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::utimensat(dir_fd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
  return Status::Ok();
}

// Copies src (any type) as dir/name; dest_rel is its rootfs path.
Status CopyAny(UpperRoot& root, const std::string& src, const Dir& dir, const std::string& name,
               const std::string& dest_rel, bool local = true);

// Copies the entries of directory src into the rootfs directory dest_rel.
Status CopyDirContents(UpperRoot& root, const std::string& src, const std::string& dest_rel,
                       Dir* out = nullptr) {
  ASSIGN_OR_RETURN(auto comps, Components(dest_rel));
  ASSIGN_OR_RETURN(Dir d, MakeDirs(root, JoinComponents(comps, comps.size())));
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(src));
  for (const auto& n : names)
    RETURN_IF_ERROR(CopyAny(root, src + "/" + n, d, n, dest_rel.empty() ? n : dest_rel + "/" + n));
  if (out) *out = std::move(d);
  return Status::Ok();
}

Status CopyAny(UpperRoot& root, const std::string& src, const Dir& dir, const std::string& name,
               const std::string& dest_rel, bool local) {
  struct stat st;
  if (::lstat(src.c_str(), &st) != 0) return Status::IOError("COPY: " + src);
  if (S_ISLNK(st.st_mode)) return CopyLink(root, src, dir, name, dest_rel);
  if (S_ISREG(st.st_mode)) return CopyFile(root, src, st, dir, name, dest_rel, local);
  if (S_ISDIR(st.st_mode)) {
    if (int err = root.MakeDir(dir, name, st.st_mode & 07777)) {
      errno = err;
      return Status::IOError("COPY: mkdir " + dest_rel);
    }
    Dir d;
    RETURN_IF_ERROR(CopyDirContents(root, src, dest_rel, &d));
    ::fchown(d.fd.get(), 0, 0);
    ::fchmod(d.fd.get(), st.st_mode & 07777);
    // Last: copying the contents changed the directory's times.
    struct timespec ts[2] = {st.st_atim, st.st_mtim};
    ::futimens(d.fd.get(), ts);
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

namespace {

// One entry of the sources' walk, in order: its name and mode, then a
// symlink's target or (file >= 0) a regular file's digest and size.
struct InputEntry {
  std::string head, link;
  int file = -1;  // index into the walk's files
};

Status WalkInputs(const std::string& path, const std::string& rel, bool remote,
                  std::vector<InputEntry>* entries, std::vector<DigestCache::File>* files) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Status::IOError(path);
  InputEntry e{rel + "\n" + std::to_string(st.st_mode) + "\n", "", -1};
  if (S_ISLNK(st.st_mode)) {
    std::string t(4096, '\0');
    ssize_t n = ::readlink(path.c_str(), t.data(), t.size());
    if (n < 0) return Status::IOError(path);
    t.resize(static_cast<size_t>(n));
    e.link = t + "\n";
  } else if (S_ISREG(st.st_mode)) {
    e.file = static_cast<int>(files->size());
    files->push_back(DigestCache::File{path, st, remote});
  }
  entries->push_back(std::move(e));
  if (!S_ISDIR(st.st_mode)) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(path));
  for (const auto& n : names)
    RETURN_IF_ERROR(WalkInputs(path + "/" + n, rel + "/" + n, remote, entries, files));
  return Status::Ok();
}

Result<std::vector<FileDigest>> HashAll(const std::vector<DigestCache::File>& files,
                                        DigestCacheStats* stats) {
  std::vector<FileDigest> out;
  out.reserve(files.size());
  for (const auto& f : files) {
    ASSIGN_OR_RETURN(FileDigest d, HashFile(f.path));
    out.push_back(d);
  }
  if (stats) stats->hashed += files.size();
  return out;
}

}  // namespace

Result<Digest> DigestSources(const std::vector<CopySource>& srcs, DigestCache* cache,
                             DigestCacheStats* stats) {
  std::vector<InputEntry> entries;
  std::vector<DigestCache::File> files;
  for (const auto& s : srcs)
    RETURN_IF_ERROR(WalkInputs(s.path, s.display + ">" + s.name, s.remote, &entries, &files));
  std::vector<FileDigest> digests;
  if (cache) {
    ASSIGN_OR_RETURN(digests, cache->Digests(files, stats));
  } else {
    ASSIGN_OR_RETURN(digests, HashAll(files, stats));
  }
  Sha256 h;
  h.Update("cimg-inputs-v2\n");
  for (const auto& e : entries) {
    h.Update(e.head);
    h.Update(e.link);
    if (e.file < 0) continue;
    const FileDigest& d = digests[static_cast<size_t>(e.file)];
    h.Update(d.sha256.Hex() + "\n" + std::to_string(d.size) + "\n");
  }
  return h.Finish();
}

namespace {

// ADD (unpack_archives) unpacks a local source that reads as a tar archive.
bool Unpacks(const CopySource& s, bool unpack_archives) {
  return unpack_archives && !s.remote && IsTarArchive(s.path);
}

}  // namespace

bool CopyWritesData(const std::vector<CopySource>& srcs, bool unpack_archives) {
  for (const auto& s : srcs)
    if (s.remote || Unpacks(s, unpack_archives)) return true;
  return false;
}

Status CopyInto(UpperRoot& root, const std::vector<CopySource>& srcs, const std::string& dest_in,
                bool unpack_archives) {
  std::string dest = dest_in;
  auto is_dir = [](const CopySource& s) {
    struct stat st;
    return ::lstat(s.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  };
  auto unpacks = [&](const CopySource& s) { return Unpacks(s, unpack_archives); };
  bool dir_dest = dest.empty() || dest.back() == '/' || dest == "." || srcs.size() > 1;
  ASSIGN_OR_RETURN(auto comps, Components(dest));
  std::string dest_rel = JoinComponents(comps, comps.size());
  if (!dir_dest && !srcs.empty()) {
    if (is_dir(srcs[0]) || unpacks(srcs[0])) dir_dest = true;
    if (root.IsDir(dest_rel)) dir_dest = true;
  }
  if (dir_dest) {
    ASSIGN_OR_RETURN(Dir d, MakeDirs(root, dest_rel));
    for (const auto& s : srcs) {
      if (is_dir(s)) {
        RETURN_IF_ERROR(CopyDirContents(root, s.path, dest_rel));
      } else if (unpacks(s)) {
        RETURN_IF_ERROR(UnpackTarArchive(s.path, root, d, "ADD " + s.display));
      } else {
        RETURN_IF_ERROR(CopyAny(root, s.path, d, s.name, dest_rel.empty() ? s.name : dest_rel + "/" + s.name,
                                !s.remote));
      }
    }
    return Status::Ok();
  }
  if (comps.empty()) return Status::Invalid("COPY: empty destination");
  ASSIGN_OR_RETURN(Dir parent, MakeDirs(root, JoinComponents(comps, comps.size() - 1)));
  return CopyAny(root, srcs[0].path, parent, comps.back(), dest_rel, !srcs[0].remote);
}

Status CopyInto(int root_fd, const std::vector<CopySource>& srcs, const std::string& dest,
                bool unpack_archives) {
  UpperRoot root(root_fd, nullptr);
  return CopyInto(root, srcs, dest, unpack_archives);
}

}  // namespace cfs::builder
