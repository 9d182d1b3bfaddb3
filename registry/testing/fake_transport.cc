#include "registry/testing/fake_transport.h"

#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <cstdlib>

namespace cfs::registry::testing {

using http::Exchange;
using http::Outcome;
using http::Request;

namespace {

constexpr char kHost[] = "fake.test";
constexpr size_t kPiece = 16 << 10;  // bytes per sink write, as curl hands them

std::string ErrorBody(const std::string& code, const std::string& message) {
  return "{\"errors\":[{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}]}";
}

FakeTransport::Answer ErrorAnswer(long status, const std::string& code, const std::string& message) {
  FakeTransport::Answer a;
  a.status = status;
  a.headers.emplace_back("content-type", "application/json");
  a.body = ErrorBody(code, message);
  return a;
}

// The value of key in a query "a=1&b=2" ("" when absent), unescaped.
std::string QueryParam(const std::string& query, const std::string& key) {
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t amp = query.find('&', pos);
    std::string kv = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (kv.rfind(key + "=", 0) == 0) return http::UrlUnescape(kv.substr(key.size() + 1));
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return "";
}

// The value of header `name` ("Name: value" lines, name case-insensitive).
std::string RequestHeader(const Request& rq, const std::string& name) {
  for (const auto& h : rq.headers) {
    if (h.size() > name.size() && h[name.size()] == ':' &&
        strncasecmp(h.c_str(), name.c_str(), name.size()) == 0) {
      size_t v = name.size() + 1;
      while (v < h.size() && h[v] == ' ') v++;
      return h.substr(v);
    }
  }
  return "";
}

std::string RequestBody(const Request& rq) {
  if (rq.body_fd < 0) return rq.body;
  std::string out(rq.body_len, '\0');
  ssize_t got = ::pread(rq.body_fd, out.data(), out.size(), static_cast<off_t>(rq.body_off));
  out.resize(got > 0 ? static_cast<size_t>(got) : 0);
  return out;
}

// Splits "scheme://host/path?query".
void SplitUrl(const std::string& url, std::string* path, std::string* query) {
  size_t start = url.find("://");
  start = url.find('/', start == std::string::npos ? 0 : start + 3);
  std::string rest = start == std::string::npos ? "/" : url.substr(start);
  size_t q = rest.find('?');
  *path = rest.substr(0, q);
  *query = q == std::string::npos ? "" : rest.substr(q + 1);
}

}  // namespace

Digest FakeTransport::PutBlob(const std::string& repo, const std::string& bytes) {
  MutexLock l(&mu_);
  Digest d = Digest::Of(bytes);
  repos_[repo].blobs[d] = bytes;
  return d;
}

void FakeTransport::PutRawBlob(const std::string& repo, const Digest& d,
                               const std::string& bytes) {
  MutexLock l(&mu_);
  repos_[repo].blobs[d] = bytes;
}

Digest FakeTransport::PutManifest(const std::string& repo, const std::string& tag,
                                  const std::string& media_type, const std::string& bytes) {
  MutexLock l(&mu_);
  Digest d = Digest::Of(bytes);
  repos_[repo].manifests[d] = {media_type, bytes};
  if (!tag.empty()) repos_[repo].tags[tag] = d;
  return d;
}

std::optional<std::string> FakeTransport::Blob(const std::string& repo, const Digest& d) {
  MutexLock l(&mu_);
  auto& blobs = repos_[repo].blobs;
  auto it = blobs.find(d);
  if (it == blobs.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> FakeTransport::ManifestByTag(const std::string& repo,
                                                        const std::string& tag) {
  MutexLock l(&mu_);
  Repo& r = repos_[repo];
  auto it = r.tags.find(tag);
  if (it == r.tags.end()) return std::nullopt;
  return r.manifests[it->second].second;
}

void FakeTransport::RequireBearer(bool on) {
  MutexLock l(&mu_);
  bearer_ = on;
}
void FakeTransport::ExpireTokensAfter(int uses) {
  MutexLock l(&mu_);
  token_limit_ = uses;
}
void FakeTransport::RejectAllTokens(bool on) {
  MutexLock l(&mu_);
  reject_tokens_ = on;
}
void FakeTransport::IgnoreRange(bool on) {
  MutexLock l(&mu_);
  ignore_range_ = on;
}
void FakeTransport::SupportReferrers(bool on) {
  MutexLock l(&mu_);
  referrers_api_ = on;
}
void FakeTransport::PageReferrers(size_t per_page) {
  MutexLock l(&mu_);
  referrers_page_ = per_page;
}
void FakeTransport::AddFault(Fault f) {
  MutexLock l(&mu_);
  faults_.push_back(std::move(f));
}

std::vector<std::string> FakeTransport::Log() {
  MutexLock l(&mu_);
  return log_;
}

int FakeTransport::Seen(const std::string& needle) {
  MutexLock l(&mu_);
  return static_cast<int>(std::count_if(log_.begin(), log_.end(), [&](const std::string& s) {
    return s.find(needle) != std::string::npos;
  }));
}

int FakeTransport::tokens_issued() {
  MutexLock l(&mu_);
  return n_tokens_;
}

std::vector<std::chrono::steady_clock::time_point> FakeTransport::stalled_deadlines() {
  MutexLock l(&mu_);
  return stalled_;
}

std::optional<Fault> FakeTransport::TakeFault(const std::string& method, const std::string& path) {
  for (Fault& f : faults_) {
    if (!f.method.empty() && f.method != method) continue;
    if (!f.path_contains.empty() && path.find(f.path_contains) == std::string::npos) continue;
    if (f.times == 0) continue;
    if (f.skip > 0) {
      f.skip--;
      return std::nullopt;
    }
    if (f.times > 0) f.times--;
    return f;
  }
  return std::nullopt;
}

FakeTransport::Answer FakeTransport::Token() {
  std::string tok = "tok-" + std::to_string(++n_tokens_);
  token_uses_[tok] = token_limit_ > 0 ? token_limit_ : -1;
  Answer a;
  a.headers.emplace_back("content-type", "application/json");
  a.body = "{\"token\":\"" + tok + "\",\"expires_in\":300}";
  return a;
}

std::optional<FakeTransport::Answer> FakeTransport::CheckAuth(const Request& rq,
                                                             const std::string& repo) {
  if (!bearer_) return std::nullopt;
  const std::string prefix = "Authorization: Bearer ";
  if (rq.auth.rfind(prefix, 0) == 0 && !reject_tokens_) {
    auto it = token_uses_.find(rq.auth.substr(prefix.size()));
    if (it != token_uses_.end() && it->second != 0) {
      if (it->second > 0) it->second--;
      return std::nullopt;
    }
  }
  Answer a = ErrorAnswer(401, "UNAUTHORIZED", "authentication required");
  a.headers.emplace_back("www-authenticate", std::string("Bearer realm=\"") + kRealm +
                                                 "\",service=\"" + kHost + "\"");
  return a;
}

FakeTransport::Answer FakeTransport::Manifest(const std::string& method, const std::string& repo,
                                              const std::string& ref, const Request& rq) {
  Repo& r = repos_[repo];
  if (method == "PUT") {
    Digest d = Digest::Of(rq.body);
    std::string type = RequestHeader(rq, "Content-Type");
    r.manifests[d] = {type, rq.body};
    if (ref.rfind("sha256:", 0) != 0) r.tags[ref] = d;
    Answer a;
    a.status = 201;
    a.headers.emplace_back("docker-content-digest", d.ToString());
    auto j = nlohmann::json::parse(rq.body, nullptr, false);
    if (referrers_api_ && j.is_object() && j.contains("subject") && j["subject"].is_object())
      a.headers.emplace_back("oci-subject", j["subject"].value("digest", ""));
    return a;
  }
  auto d = Digest::Parse(ref);
  std::optional<Digest> key;
  if (d.ok() && r.manifests.count(*d)) key = *d;
  if (!d.ok() && r.tags.count(ref)) key = r.tags[ref];
  if (!key) return ErrorAnswer(404, "MANIFEST_UNKNOWN", "manifest unknown");
  const auto& [type, bytes] = r.manifests[*key];
  Answer a;
  a.headers.emplace_back("content-type", type);
  a.headers.emplace_back("docker-content-digest", key->ToString());
  a.headers.emplace_back("content-length", std::to_string(bytes.size()));
  a.body = bytes;
  return a;
}

FakeTransport::Answer FakeTransport::ReferrersGet(const std::string& repo, const std::string& ref,
                                                  const std::string& query) {
  if (!referrers_api_) return ErrorAnswer(404, "NOT_FOUND", "no such endpoint");
  auto subject = Digest::Parse(ref);
  if (!subject.ok()) return ErrorAnswer(400, "DIGEST_INVALID", "not a digest");
  const std::string last = QueryParam(query, "last");
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", "application/vnd.oci.image.index.v1+json"},
                          {"manifests", nlohmann::json::array()}};
  Answer a;
  for (const auto& [d, tm] : repos_[repo].manifests) {
    auto j = nlohmann::json::parse(tm.second, nullptr, false);
    if (!j.is_object() || !j.contains("subject") || !j["subject"].is_object() ||
        j["subject"].value("digest", "") != subject->ToString() || d.ToString() <= last)
      continue;
    if (referrers_page_ && index["manifests"].size() == referrers_page_) {
      const std::string& prev = index["manifests"].back()["digest"].get_ref<const std::string&>();
      a.headers.emplace_back("link", "</v2/" + repo + "/referrers/" + ref + "?last=" + prev +
                                         ">; rel=\"next\"");
      break;
    }
    index["manifests"].push_back({{"mediaType", tm.first},
                                  {"digest", d.ToString()},
                                  {"size", tm.second.size()},
                                  {"artifactType", j.value("artifactType", "")}});
  }
  a.headers.emplace_back("content-type", "application/vnd.oci.image.index.v1+json");
  a.body = index.dump();
  return a;
}

FakeTransport::Answer FakeTransport::BlobGet(const Request& rq, const std::string& repo,
                                             const std::string& ref) {
  auto d = Digest::Parse(ref);
  Repo& r = repos_[repo];
  if (!d.ok() || !r.blobs.count(*d)) return ErrorAnswer(404, "BLOB_UNKNOWN", "blob unknown");
  const std::string& blob = r.blobs[*d];
  Answer a;
  a.headers.emplace_back("docker-content-digest", d->ToString());
  std::string range = RequestHeader(rq, "Range");
  if (range.rfind("bytes=", 0) != 0 || ignore_range_) {
    a.headers.emplace_back("content-length", std::to_string(blob.size()));
    a.body = blob;
    return a;
  }
  uint64_t first = std::strtoull(range.c_str() + 6, nullptr, 10);
  size_t dash = range.find('-');
  uint64_t last = blob.empty() ? 0 : blob.size() - 1;
  if (dash != std::string::npos && dash + 1 < range.size())
    last = std::min<uint64_t>(last, std::strtoull(range.c_str() + dash + 1, nullptr, 10));
  if (first >= blob.size() || last < first)
    return ErrorAnswer(416, "RANGE_INVALID", "range not satisfiable");
  a.status = 206;
  a.headers.emplace_back("content-range", "bytes " + std::to_string(first) + "-" +
                                              std::to_string(last) + "/" +
                                              std::to_string(blob.size()));
  a.body = blob.substr(first, last - first + 1);
  a.headers.emplace_back("content-length", std::to_string(a.body.size()));
  return a;
}

FakeTransport::Answer FakeTransport::UploadStart(const std::string& repo,
                                                 const std::string& query) {
  std::string from = QueryParam(query, "from");
  auto mount = Digest::Parse(QueryParam(query, "mount"));
  if (!from.empty() && mount.ok() && repos_[from].blobs.count(*mount)) {
    repos_[repo].blobs[*mount] = repos_[from].blobs[*mount];
    Answer a;
    a.status = 201;
    a.headers.emplace_back("docker-content-digest", mount->ToString());
    return a;
  }
  std::string id = "u" + std::to_string(++n_uploads_);
  uploads_[id] = Upload{repo, ""};
  Answer a;
  a.status = 202;
  a.headers.emplace_back("location", "/v2/" + repo + "/blobs/uploads/" + id);
  return a;
}

FakeTransport::Answer FakeTransport::UploadData(const Request& rq, const std::string& id,
                                                const std::string& query) {
  auto it = uploads_.find(id);
  if (it == uploads_.end()) return ErrorAnswer(404, "BLOB_UPLOAD_UNKNOWN", "upload unknown");
  Upload& u = it->second;
  u.data += RequestBody(rq);
  Answer a;
  if (rq.method == "PATCH") {
    a.status = 202;
    a.headers.emplace_back("location", "/v2/" + u.repo + "/blobs/uploads/" + id);
    return a;
  }
  auto want = Digest::Parse(QueryParam(query, "digest"));
  Digest got = Digest::Of(u.data);
  if (!want.ok() || *want != got) return ErrorAnswer(400, "DIGEST_INVALID", "digest mismatch");
  repos_[u.repo].blobs[got] = std::move(u.data);
  uploads_.erase(it);
  a.status = 201;
  a.headers.emplace_back("docker-content-digest", got.ToString());
  return a;
}

FakeTransport::Answer FakeTransport::Route(const Request& rq, const std::string& path,
                                           const std::string& query) {
  if (rq.url.rfind(kRealm, 0) == 0) return Token();
  if (path.rfind("/v2/", 0) != 0) return ErrorAnswer(404, "NOT_FOUND", "no such endpoint");
  if (auto denied = CheckAuth(rq, "")) return *denied;
  if (path == "/v2/") return Answer{};
  std::string rest = path.substr(4);
  size_t k;
  if ((k = rest.rfind("/manifests/")) != std::string::npos)
    return Manifest(rq.method, rest.substr(0, k), rest.substr(k + 11), rq);
  if ((k = rest.rfind("/referrers/")) != std::string::npos && rq.method == "GET")
    return ReferrersGet(rest.substr(0, k), rest.substr(k + 11), query);
  if ((k = rest.rfind("/blobs/uploads/")) != std::string::npos) {
    std::string id = rest.substr(k + 15);
    if (id.empty() && rq.method == "POST") return UploadStart(rest.substr(0, k), query);
    if (rq.method == "PATCH" || rq.method == "PUT") return UploadData(rq, id, query);
  } else if ((k = rest.rfind("/blobs/")) != std::string::npos &&
             (rq.method == "GET" || rq.method == "HEAD")) {
    return BlobGet(rq, rest.substr(0, k), rest.substr(k + 7));
  }
  return ErrorAnswer(405, "UNSUPPORTED", "method not allowed");
}

namespace {

// Hands the answer to rq as a transport would: the body to rq.sink for a
// 2xx answer (after resume_from bytes of a full 200), else into resp.body;
// a cut or a sink failure ends it early.
Exchange Deliver(const Request& rq, FakeTransport::Answer a, uint64_t* down) {
  Exchange ex;
  ex.resp.status = a.status;
  ex.resp.headers = std::move(a.headers);
  if (rq.method == "HEAD") a.body.clear();
  uint64_t send = a.cut_after ? std::min<uint64_t>(*a.cut_after, a.body.size()) : a.body.size();
  *down = send;
  if (rq.sink && a.status >= 200 && a.status < 300) {
    uint64_t pos = a.status == 200 ? std::min<uint64_t>(rq.resume_from, send) : 0;
    while (pos < send) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kPiece, send - pos));
      Status s = rq.sink->Write(a.body.data() + pos, n);
      if (!s.ok()) {
        ex.resp.sink_status = s;
        ex.outcome = Outcome::kFailed;
        ex.error = "failure writing output";
        return ex;
      }
      ex.resp.sink_bytes += n;
      pos += n;
    }
  } else if (send > rq.max_body) {
    ex.resp.sink_status = Status::Invalid("response body larger than " +
                                          std::to_string(rq.max_body) + " bytes");
    ex.outcome = Outcome::kFailed;
    ex.error = "failure writing output";
    return ex;
  } else {
    ex.resp.body = a.body.substr(0, send);
  }
  if (send < a.body.size()) {
    ex.outcome = Outcome::kCut;
    ex.error = "connection cut after " + std::to_string(send) + " of " +
               std::to_string(a.body.size()) + " bytes";
  }
  return ex;
}

Exchange Stalled(const Request& rq) {
  Exchange ex;
  if (rq.cancel && rq.cancel->cancelled()) {
    ex.outcome = Outcome::kCancelled;
    ex.error = "cancelled (the mount is going away)";
  } else {
    ex.outcome = Outcome::kTimedOut;
    ex.error = rq.deadline != std::chrono::steady_clock::time_point::max()
                   ? "no complete answer before the deadline"
                   : "no bytes moved within the stall timeout";
  }
  return ex;
}

}  // namespace

Exchange FakeTransport::Perform(const Request& rq) {
  std::string path, query;
  SplitUrl(rq.url, &path, &query);
  Answer a;
  {
    MutexLock l(&mu_);
    bool token = rq.url.rfind(kRealm, 0) == 0;
    std::string range = RequestHeader(rq, "Range");
    log_.push_back(rq.method + " " + (token ? "/token" : path) +
                   (range.empty() ? "" : " Range: " + range));
    std::optional<Fault> f = TakeFault(rq.method, token ? "/token" : path);
    if (rq.cancel && rq.cancel->cancelled()) {
      a.stall = true;
    } else if (f && f->kind == Fault::Kind::kStall) {
      a.stall = true;
      stalled_.push_back(rq.deadline);
    } else if (f && f->kind == Fault::Kind::kStatus) {
      a = ErrorAnswer(f->status, "FAULT", "injected status");
      if (!f->retry_after.empty()) a.headers.emplace_back("retry-after", f->retry_after);
    } else {
      a = Route(rq, path, query);
      if (f && f->kind == Fault::Kind::kCut) a.cut_after = f->cut_after;
    }
  }
  if (a.stall) {
    Count(0, 0);
    return Stalled(rq);
  }
  uint64_t down = 0;
  Exchange ex = Deliver(rq, std::move(a), &down);
  Count(rq.body_fd >= 0 ? rq.body_len : rq.body.size(), down);
  return ex;
}

}  // namespace cfs::registry::testing
