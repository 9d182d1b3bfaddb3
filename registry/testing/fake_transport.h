// A test double for http::Transport: an OCI registry held in memory
// (manifests by tag and digest, blobs with Range reads, uploads with
// cross-repository mounts, an optional Bearer token flow with its token
// endpoint) that injects faults by rule: a connection cut after N bytes of
// a response, a stall, a 5xx/429 status with Retry-After, tokens that
// expire after N uses or are never accepted.
//
// Nothing waits in real time. A stall ends the exchange at once with the
// outcome the real transport gives when the request's deadline (or, with
// none, its stall timer) passes -- as if that time had gone by -- or
// kCancelled when the request's canceller fired. Test-only. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/thread_annotations.h"
#include "registry/http.h"

namespace cfs::registry::testing {

// One fault rule. A request matches when its method (if given) and the path
// of its URL (substring, if given) match; the first `skip` matching requests
// pass untouched, the next `times` get the fault (-1: all from then on).
struct Fault {
  enum class Kind {
    kCut,     // the response stops after cut_after bytes of its body; Outcome::kCut
    kStall,   // no answer until the deadline / stall timer / cancel
    kStatus,  // answers `status` (with Retry-After: retry_after when not "")
  };
  Kind kind = Kind::kStatus;
  std::string method;         // "" = any
  std::string path_contains;  // "" = any
  int skip = 0;
  int times = 1;
  uint64_t cut_after = 0;
  long status = 503;
  std::string retry_after;

  // The first `times` matching requests on paths containing path.
  static Fault Cut(std::string path, uint64_t after, int times = 1) {
    Fault f;
    f.kind = Kind::kCut;
    f.path_contains = std::move(path);
    f.cut_after = after;
    f.times = times;
    return f;
  }
  static Fault Stall(std::string path, int times = -1) {
    Fault f;
    f.kind = Kind::kStall;
    f.path_contains = std::move(path);
    f.times = times;
    return f;
  }
  static Fault Answer(std::string path, long status, int times = 1, std::string retry_after = "") {
    Fault f;
    f.kind = Kind::kStatus;
    f.path_contains = std::move(path);
    f.status = status;
    f.times = times;
    f.retry_after = std::move(retry_after);
    return f;
  }
};

class FakeTransport : public http::Transport {
 public:
  // The realm the Bearer challenge names.
  static constexpr char kRealm[] = "https://auth.fake.test/token";

  // --- content ---
  Digest PutBlob(const std::string& repo, const std::string& bytes);
  // Serves bytes as blob d whatever they hash to (a corrupt registry).
  void PutRawBlob(const std::string& repo, const Digest& d, const std::string& bytes);
  // Stores bytes under its digest and, when tag is not "", under tag.
  Digest PutManifest(const std::string& repo, const std::string& tag,
                     const std::string& media_type, const std::string& bytes);
  // A blob of repo (pushed or put); nullopt when absent.
  std::optional<std::string> Blob(const std::string& repo, const Digest& d);
  std::optional<std::string> ManifestByTag(const std::string& repo, const std::string& tag);

  // --- behaviour ---
  // Every /v2/ request needs "Authorization: Bearer T" with a token from
  // kRealm (which gives them to anyone).
  void RequireBearer(bool on);
  // A token is accepted for `uses` requests, then answered with 401 and a
  // new challenge. 0 = no limit (the default).
  void ExpireTokensAfter(int uses);
  // Tokens are issued but never accepted (a misconfigured token service).
  void RejectAllTokens(bool on);
  // Blob GETs ignore Range headers (a full 200 answer).
  void IgnoreRange(bool on);
  // The OCI 1.1 referrers API: a manifest PUT whose body has a "subject"
  // is answered with an OCI-Subject header naming it, and
  // GET /v2/<repo>/referrers/<digest> answers the index of the manifests
  // whose subject is <digest> (in digest order). Off: that GET is a 404.
  void SupportReferrers(bool on);
  // The referrers API answers per_page entries at a time, each page naming
  // the next in a Link header (rel="next", ?last=DIGEST). 0: one page.
  void PageReferrers(size_t per_page);
  void AddFault(Fault f);

  // --- what happened ---
  // "METHOD PATH[ Range: ...]" for every exchange, in order (token
  // requests as "GET /token").
  std::vector<std::string> Log();
  // Exchanges whose log line contains `needle`.
  int Seen(const std::string& needle);
  // Token requests answered.
  int tokens_issued();
  // Deadlines (as time_point::max() when none) of the exchanges stalled.
  std::vector<std::chrono::steady_clock::time_point> stalled_deadlines();

  http::Exchange Perform(const http::Request& rq) override;

  // A response before delivery (public for fake_transport.cc's helpers).
  struct Answer {
    long status = 200;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::optional<uint64_t> cut_after;  // body bytes sent before a cut
    bool stall = false;
  };

 private:
  struct Repo {
    std::map<Digest, std::string> blobs;
    std::map<Digest, std::pair<std::string, std::string>> manifests;  // digest -> (type, bytes)
    std::map<std::string, Digest> tags;
  };
  struct Upload {
    std::string repo, data;
  };
  // Answers rq (method, path and query of its URL).
  Answer Route(const http::Request& rq, const std::string& path, const std::string& query)
      REQUIRES(mu_);
  Answer Token() REQUIRES(mu_);
  std::optional<Answer> CheckAuth(const http::Request& rq, const std::string& repo) REQUIRES(mu_);
  Answer Manifest(const std::string& method, const std::string& repo, const std::string& ref,
                  const http::Request& rq) REQUIRES(mu_);
  Answer ReferrersGet(const std::string& repo, const std::string& ref, const std::string& query)
      REQUIRES(mu_);
  Answer BlobGet(const http::Request& rq, const std::string& repo, const std::string& ref)
      REQUIRES(mu_);
  Answer UploadStart(const std::string& repo, const std::string& query) REQUIRES(mu_);
  Answer UploadData(const http::Request& rq, const std::string& id, const std::string& query)
      REQUIRES(mu_);
  // The first fault matching line (after skips), consumed.
  std::optional<Fault> TakeFault(const std::string& method, const std::string& path) REQUIRES(mu_);

  Mutex mu_;
  std::map<std::string, Repo> repos_ GUARDED_BY(mu_);
  std::map<std::string, Upload> uploads_ GUARDED_BY(mu_);
  std::vector<Fault> faults_ GUARDED_BY(mu_);
  std::vector<std::string> log_ GUARDED_BY(mu_);
  std::map<std::string, int> token_uses_ GUARDED_BY(mu_);  // token -> uses left (-1: unlimited)
  std::vector<std::chrono::steady_clock::time_point> stalled_ GUARDED_BY(mu_);
  bool bearer_ GUARDED_BY(mu_) = false;
  bool reject_tokens_ GUARDED_BY(mu_) = false;
  bool ignore_range_ GUARDED_BY(mu_) = false;
  bool referrers_api_ GUARDED_BY(mu_) = false;
  size_t referrers_page_ GUARDED_BY(mu_) = 0;
  int token_limit_ GUARDED_BY(mu_) = 0;
  int n_tokens_ GUARDED_BY(mu_) = 0;
  int n_uploads_ GUARDED_BY(mu_) = 0;
};

}  // namespace cfs::registry::testing
