// Client::UploadBlob: a blob from a file into a repository (a session, or
// a cross-repository mount; monolithic up to kMonolithicMax, chunked PATCHes
// above), a failed session restarted within the retry window.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/client.h"
#include "base/io.h"
#include "registry/client_impl.h"

namespace cfs::registry {

namespace {

using http::Request;
using http::ResolveLocation;
using http::Response;
using http::UrlEscape;
using http::WithQuery;

// Blobs up to this size go up in one PUT; larger ones in PATCHes of
// kUploadChunk, then an empty PUT.
constexpr uint64_t kMonolithicMax = 32ull << 20;
constexpr uint64_t kUploadChunk = 32ull << 20;

// One upload of blob d from fd to repo: a session started (or the blob
// mounted from another repository), PATCHes above kMonolithicMax, then the
// closing PUT.
class BlobUpload {
 public:
  BlobUpload(Client::Impl& m, const std::string& repo, const Descriptor& d, int fd,
             const TransferProgress& progress, const std::string& what)
      : m_(m), repo_(repo), d_(d), fd_(fd), progress_(progress), what_(what) {}

  // POSTs a new session (with a cross-repository mount from mount_from when
  // given): its location, or "" when the registry mounted the blob.
  Result<std::string> Start(const std::string& mount_from) {
    Request start;
    start.method = "POST";
    start.url = m_.Base() + "/v2/" + repo_ + "/blobs/uploads/";
    if (!mount_from.empty() && mount_from != repo_)
      start.url += "?mount=" + d_.digest.ToString() + "&from=" + UrlEscape(mount_from);
    ASSIGN_OR_RETURN(Response r, m_.Do(start, PushScope(repo_)));
    if (r.status == 201) return std::string();  // mounted from the other repository
    if (r.status != 202) return m_.Unexpected(what_, r);
    std::string loc = r.Header("location");
    if (loc.empty()) return Status::Invalid(what_ + ": registry gave no upload location");
    return ResolveLocation(start.url, loc);
  }

  // Sends the blob to the session at loc: PATCHes of kUploadChunk when it
  // is over kMonolithicMax, then the PUT that closes the session.
  Status Send(std::string loc) {
    uint64_t off = 0;
    while (d_.size > kMonolithicMax && off < d_.size) {
      uint64_t n = std::min<uint64_t>(kUploadChunk, d_.size - off);
      Request p = Body("PATCH", loc, off, n);
      p.headers.push_back("Content-Range: " + std::to_string(off) + "-" +
                          std::to_string(off + n - 1));
      ASSIGN_OR_RETURN(Response pr, m_.Do(p, PushScope(repo_)));
      if (pr.status != 202) return m_.Unexpected(what_, pr);
      off += n;
      std::string next = pr.Header("location");
      if (!next.empty()) loc = ResolveLocation(loc, next);
    }
    Request put = Body("PUT", WithQuery(loc, "digest=" + UrlEscape(d_.digest.ToString())), off,
                       d_.size - off);
    ASSIGN_OR_RETURN(Response pr, m_.Do(put, PushScope(repo_)));
    if (pr.status != 201 && pr.status != 204) return m_.Unexpected(what_, pr);
    std::string hd = pr.Header("docker-content-digest");
    if (!hd.empty() && hd != d_.digest.ToString())
      return Status::Corruption("registry computed " + hd);
    if (progress_) progress_(d_.size, d_.size);
    return Status::Ok();
  }

 private:
  // A request sending bytes [off, off + len) of the blob (none when len is 0).
  Request Body(const std::string& method, const std::string& url, uint64_t off, uint64_t len) {
    Request rq;
    rq.method = method;
    rq.url = url;
    rq.headers.push_back("Content-Type: application/octet-stream");
    if (len == 0) return rq;
    rq.body_fd = fd_;
    rq.body_off = off;
    rq.body_len = len;
    if (progress_)
      rq.upload_progress = [this, off](uint64_t done, uint64_t) { progress_(off + done, d_.size); };
    return rq;
  }

  Client::Impl& m_;
  const std::string& repo_;
  const Descriptor& d_;
  const int fd_;
  const TransferProgress& progress_;
  const std::string& what_;
};

}  // namespace

Status Client::UploadBlob(const std::string& repo, const Descriptor& d, const std::string& path,
                          const std::string& mount_from, const TransferProgress& progress) {
  Impl& m = *impl_;
  const std::string what = m.registry + "/" + repo + ": upload of blob " + d.digest.ToString();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::IOError(path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::IOError(path);
  if (static_cast<uint64_t>(st.st_size) != d.size)
    return Status::Invalid(what + ": file " + path + " has " + std::to_string(st.st_size) +
                           " bytes, want " + std::to_string(d.size));
  BlobUpload upload(m, repo, d, fd.get(), progress, what);
  for (int attempt = 0;; attempt++) {
    // Another session starts only within the retry window of this one's start.
    const auto limit = m.RetryLimit(Impl::Clock::time_point::max());
    ASSIGN_OR_RETURN(std::string loc, upload.Start(mount_from));
    if (loc.empty()) return Status::Ok();  // mounted
    Status failed = upload.Send(std::move(loc));
    if (failed.ok()) return Status::Ok();
    // A failed session is abandoned (the registry expires it); a new one
    // starts from the beginning.
    bool again = failed.code() == Status::Code::kUnavailable;
    if (!again || attempt >= m.opts.retries || !m.Backoff(attempt, nullptr, limit))
      return failed.Prefix(what);
  }
}

Status Client::UploadBytes(const std::string& repo, const std::string& bytes,
                           const std::string& media_type, const std::string& tmp_dir) {
  Descriptor d{media_type, Digest::Of(bytes), bytes.size(), {}, {}};
  ASSIGN_OR_RETURN(auto have, HeadBlob(repo, d.digest, true));
  if (have) return Status::Ok();
  std::string path = tmp_dir + "/blob-" + RandomHex(8);
  RETURN_IF_ERROR(WriteFileAtomic(path, bytes, 0600));
  Status s = UploadBlob(repo, d, path);
  ::unlink(path.c_str());
  return s;
}

}  // namespace cfs::registry
