// The registry client: auth, redirects and retries over an http::Transport
// (curl unless ClientOptions::transport says otherwise), then the
// distribution API calls.
#include "registry/client.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "registry/cancel.h"
#include "registry/client_impl.h"
#include "registry/curl_transport.h"
#include "registry/http.h"
#include "registry/reference.h"
#include "base/thread_annotations.h"

namespace cfs::registry {

using nlohmann::json;

namespace {

using http::Exchange;
using http::Request;
using http::Response;
using http::RegistryErrors;
using http::ResolveLocation;
using http::Outcome;
using http::TransientOutcome;
using http::TransientStatus;
using http::UrlEscape;
using http::WithQuery;

constexpr char kAcceptManifests[] =
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5";
constexpr size_t kMaxManifest = 4 << 20;

}  // namespace

Status Client::Impl::TransportError(const std::string& what, const Exchange& ex) const {
  std::string msg = what + ": " + ex.error;
  if (ex.outcome == Outcome::kTlsVerify) {
    msg += " (TLS verification failed: give the registry's CA with --cert-dir DIR, or use "
           "--tls-verify=false for a registry you trust)";
  }
  return Status::Unavailable(msg);
}

Status Client::Impl::Unexpected(const std::string& what, const Response& r) {
  std::string errs = RegistryErrors(r.body);
  std::string msg = what + ": HTTP " + std::to_string(r.status) + (errs.empty() ? "" : " " + errs);
  if (r.status == 401) {
    std::string user;
    {
      MutexLock l(&auth_mu);
      auto c = Creds();
      if (c.ok() && *c) user = (*c)->username;
    }
    if (!user.empty())
      return Status::Denied(what + ": login refused for user \"" + user +
                            "\" (wrong username or password?)");
    return Status::Denied(what + ": authentication required (run cimg login " + registry +
                          ", or pass --creds)" + (errs.empty() ? "" : ": " + errs));
  }
  if (r.status == 403) return Status::Denied(what + ": access denied" + (errs.empty() ? "" : ": " + errs));
  if (r.status == 404) return Status::NotFound(msg);
  if (TransientStatus(r.status)) return Status::Unavailable(msg);
  return Status::Invalid(msg);
}

Result<std::optional<Credentials>> Client::Impl::Creds() {
  if (!creds_loaded) {
    if (opts.creds) {
      creds = opts.creds;
    } else {
      ASSIGN_OR_RETURN(creds, FindCredentials(opts.auth_file, registry));
    }
    creds_loaded = true;
  }
  return creds;
}

Result<std::string> Client::Impl::FetchToken(const Challenge& ch, const std::string& scope,
                                             Clock::time_point deadline) {
  std::string realm = ch.Param("realm");
  if (realm.empty()) return Status::Invalid(registry + ": Bearer challenge without a realm");
  if (realm.rfind("https://", 0) != 0 && realm.rfind("http://", 0) != 0)
    return Status::Invalid(registry + ": Bearer realm \"" + realm + "\" is not an http(s) URL");
  if (realm.rfind("http://", 0) == 0 && opts.tls_verify)
    return Status::Denied(registry + ": token realm " + realm +
                          " is plain http; refusing to send credentials (use --tls-verify=false)");
  std::string url = realm;
  if (!ch.Param("service").empty()) url = WithQuery(url, "service=" + UrlEscape(ch.Param("service")));
  if (!scope.empty()) url = WithQuery(url, "scope=" + UrlEscape(scope));
  Request rq;
  rq.url = url;
  std::optional<Credentials> c;
  {
    MutexLock l(&auth_mu);
    ASSIGN_OR_RETURN(c, Creds());
  }
  if (c && !c->username.empty()) {
    rq.auth = "Authorization: Basic " + Base64Encode(c->username + ":" + c->password);
    url = WithQuery(url, "account=" + UrlEscape(c->username));
    rq.url = url;
  }
  rq.deadline = deadline;
  const auto limit = RetryLimit(deadline);
  Exchange ex;
  for (int attempt = 0;; attempt++) {
    ex = Perform(rq);
    bool again = !ex.ok() ? TransientOutcome(ex.outcome) : TransientStatus(ex.resp.status);
    if (!again || attempt >= opts.retries ||
        !Backoff(attempt, ex.ok() ? &ex.resp : nullptr, limit))
      break;
  }
  const std::string what = registry + ": token from " + realm;
  if (ex.outcome == Outcome::kCancelled || cancel.cancelled()) return Cancelled(what);
  if (!ex.ok()) return TransportError(what, ex);
  if (ex.resp.status == 401 || ex.resp.status == 403) {
    if (c && !c->username.empty())
      return Status::Denied(registry + ": login refused for user \"" + c->username +
                            "\" (wrong username or password?)");
    return Status::Denied(registry + ": authentication required (run cimg login " + registry +
                          ", or pass --creds)");
  }
  if (ex.resp.status != 200) return Unexpected(what, ex.resp);
  try {
    json j = json::parse(ex.resp.body);
    std::string tok = j.value("token", "");
    if (tok.empty()) tok = j.value("access_token", "");
    if (tok.empty()) return Status::Invalid(what + ": answer has no token");
    int64_t ttl = j.contains("expires_in") && j["expires_in"].is_number_integer()
                      ? j["expires_in"].get<int64_t>()
                      : 60;
    ttl = std::max<int64_t>(ttl, 1);
    MutexLock l(&auth_mu);
    // Renew a little early (10%, at most 30 s), never later than it expires.
    auto margin = std::chrono::milliseconds(std::min<int64_t>(ttl * 100, 30000));
    tokens[scope] = Token{tok, std::chrono::steady_clock::now() + std::chrono::seconds(ttl) - margin};
    return "Authorization: Bearer " + tok;
  } catch (const std::exception& e) {
    return Status::Invalid(what + ": malformed answer: " + e.what());
  }
}

Result<std::string> Client::Impl::AuthFor(const std::string& scope, bool force_new,
                                          Clock::time_point deadline) {
  std::optional<Challenge> ch;
  {
    MutexLock l(&auth_mu);
    ch = challenge;
    if (!ch) return std::string();
    if (ch->scheme == "basic") {
      ASSIGN_OR_RETURN(auto c, Creds());
      if (!c || c->username.empty()) return std::string();
      return "Authorization: Basic " + Base64Encode(c->username + ":" + c->password);
    }
    if (ch->scheme != "bearer") return std::string();
    auto it = tokens.find(scope);
    if (!force_new && it != tokens.end() && it->second.expires > std::chrono::steady_clock::now())
      return "Authorization: Bearer " + it->second.value;
  }
  return FetchToken(*ch, scope, deadline);
}

Result<bool> Client::Impl::Reauthenticate(const Response& r, const std::string& scope,
                                          bool* renewed, Request* rq) {
  auto ch = ParseChallenge(r.Header("www-authenticate"));
  bool changed;
  {
    MutexLock l(&auth_mu);
    changed = ch && (!challenge || challenge->scheme != ch->scheme);
    if (ch) challenge = ch;
  }
  if (!ch || (!changed && *renewed)) return false;
  *renewed = true;
  if (ch->scheme == "bearer") {
    // The challenge may name the scope it wants (it may differ from ours).
    std::string want = ch->Param("scope").empty() ? scope : ch->Param("scope");
    ASSIGN_OR_RETURN(rq->auth, AuthFor(want, true, rq->deadline));
    if (want != scope) {
      MutexLock l(&auth_mu);
      if (tokens.count(want)) tokens[scope] = tokens[want];
    }
  }
  return true;
}

Result<Response> Client::Impl::Do(Request rq, const std::string& scope) {
  const std::string what = rq.method + " " + rq.url;
  const std::string origin_url = rq.url;
  bool renewed = false;
  int attempt = 0;
  std::string url = rq.url;
  int hops = 0;
  bool redirected = false;
  const auto limit = RetryLimit(rq.deadline);
  while (true) {
    if (cancel.cancelled()) return Cancelled(what);
    rq.url = url;
    if (!redirected) {
      ASSIGN_OR_RETURN(rq.auth, AuthFor(scope, false, rq.deadline));
    } else {
      rq.auth.clear();  // never send registry credentials to blob storage
    }
    Exchange ex = Perform(rq);
    if (!ex.ok()) {
      if (!ex.resp.sink_status.ok()) return ex.resp.sink_status;
      if (ex.outcome == Outcome::kCancelled) return Cancelled(what);
      // A body already handed to the sink cannot be taken back: the caller resumes.
      if (TransientOutcome(ex.outcome) && ex.resp.sink_bytes == 0 && attempt < opts.retries &&
          Backoff(attempt, nullptr, limit)) {
        attempt++;
        continue;
      }
      if (cancel.cancelled()) return Cancelled(what);
      Status s = TransportError(registry + ": " + rq.method + " " + url, ex);
      if (ex.resp.sink_bytes > 0) return Status::Unavailable(s.message() + " (after " +
                                                             std::to_string(ex.resp.sink_bytes) +
                                                             " bytes)");
      return s;
    }
    Response& r = ex.resp;
    if (r.status == 401 && !redirected) {
      ASSIGN_OR_RETURN(bool again, Reauthenticate(r, scope, &renewed, &rq));
      if (again) continue;
      return r;
    }
    if ((r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 ||
         r.status == 308) &&
        (rq.method == "GET" || rq.method == "HEAD")) {
      std::string loc = r.Header("location");
      if (loc.empty()) return Status::Invalid(what + ": redirect without a Location");
      if (++hops > 5) return Status::Invalid(what + ": more than 5 redirects");
      std::string next = ResolveLocation(url, loc);
      if (opts.tls_verify && next.rfind("http://", 0) == 0 && url.rfind("https://", 0) == 0)
        return Status::Denied(what + ": redirected from https to plain http " + next);
      url = next;
      redirected = true;
      continue;
    }
    if (TransientStatus(r.status) && r.sink_bytes == 0 && attempt < opts.retries &&
        Backoff(attempt, &r, limit)) {
      attempt++;
      // A redirect target may have expired: start over at the registry.
      url = origin_url;
      redirected = false;
      continue;
    }
    return r;
  }
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const std::string& Client::registry() const { return impl_->registry; }
const std::string& Client::scheme() const { return impl_->scheme; }

void Client::Cancel() { impl_->cancel.Cancel(); }

Client::Stats Client::stats() const {
  return Stats{impl_->http->requests(), impl_->http->bytes_down(), impl_->http->bytes_up(),
               impl_->n_retries.load()};
}

namespace {

// The curl transport for o, with the CA certificates of cert_dir (given, or
// the containers-tools directory of the registry when there is one).
Result<std::shared_ptr<http::Transport>> MakeCurlTransport(const std::string& registry,
                                                           const ClientOptions& o) {
  std::string cert_dir = o.cert_dir;
  if (cert_dir.empty()) {
    for (const char* base : {"/etc/containers/certs.d/", "/etc/docker/certs.d/"}) {
      std::string d = base + registry;
      if (PathExists(d)) {
        cert_dir = d;
        break;
      }
    }
  } else if (!PathExists(cert_dir)) {
    return Status::NotFound("--cert-dir " + cert_dir + ": no such directory");
  }
  http::TransportOptions to;
  to.tls_verify = o.tls_verify;
  to.connect_timeout_s = o.connect_timeout_s;
  to.stall_timeout_s = o.stall_timeout_s;
  to.low_speed_bps = o.low_speed_bps;
  if (!cert_dir.empty()) to.ca_blob = http::CaBundle(cert_dir, &to.client_cert, &to.client_key);
  return std::shared_ptr<http::Transport>(std::make_shared<http::CurlTransport>(std::move(to)));
}

}  // namespace

// Probes /v2/: the scheme, and the challenge that says how to authenticate.
Status Client::Impl::Probe() {
  Request rq;
  rq.url = Base() + "/v2/";
  Exchange ex;
  const auto limit = RetryLimit(Clock::time_point::max());
  for (int attempt = 0;; attempt++) {
    ex = Perform(rq);
    // A plain-http registry answers a TLS hello with garbage: try http at once.
    if (!ex.ok() && !opts.tls_verify && scheme == "https") {
      scheme = "http";
      rq.url = Base() + "/v2/";
      Exchange plain = Perform(rq);
      if (plain.ok() ||
          (ex.outcome == Outcome::kTlsHandshake && plain.outcome == Outcome::kTimedOut)) {
        // (No TLS, and plain http taken but not answered: a plain registry
        // that hangs; its error is the one to report.)
        ex = std::move(plain);
      } else {
        scheme = "https";
        rq.url = Base() + "/v2/";
      }
    }
    bool again = !ex.ok() ? TransientOutcome(ex.outcome) && ex.outcome != Outcome::kResolveFailed
                          : TransientStatus(ex.resp.status);
    if (!again || attempt >= opts.retries || !Backoff(attempt, ex.ok() ? &ex.resp : nullptr, limit))
      break;
  }
  if (!ex.ok()) {
    Status s = TransportError(registry, ex);
    if (opts.tls_verify && (ex.outcome == Outcome::kTlsHandshake || ex.outcome == Outcome::kCut)) {
      return Status::Unavailable(s.message() +
                                 " (TLS handshake failed: a plain-http registry needs "
                                 "--tls-verify=false)");
    }
    return s;
  }
  if (ex.resp.status == 401) {
    auto ch = ParseChallenge(ex.resp.Header("www-authenticate"));
    MutexLock l(&auth_mu);
    challenge = ch;
  } else if (ex.resp.status != 200) {
    return Unexpected(registry + ": GET /v2/ (is this an OCI registry?)", ex.resp);
  }
  return Status::Ok();
}

Result<std::unique_ptr<Client>> Client::Create(const std::string& registry,
                                               const ClientOptions& o) {
  auto impl = std::make_unique<Impl>();
  impl->registry = NormalizeRegistryHost(registry);
  if (impl->registry.empty()) return Status::Invalid("empty registry name");
  impl->host = impl->registry == "docker.io" ? "registry-1.docker.io" : impl->registry;
  impl->opts = o;
  impl->opts.transport = nullptr;  // held once, in impl->http
  if (o.transport) {
    impl->http = o.transport;
  } else {
    ASSIGN_OR_RETURN(impl->http, MakeCurlTransport(impl->registry, o));
  }
  RETURN_IF_ERROR(impl->Probe());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Status Client::CheckLogin() {
  Impl& m = *impl_;
  std::optional<Challenge> ch;
  {
    MutexLock l(&m.auth_mu);
    ch = m.challenge;
  }
  if (!ch) return Status::Ok();  // an open registry accepts anyone
  if (ch->scheme == "bearer") {
    ASSIGN_OR_RETURN(std::string a, m.FetchToken(*ch, ""));
    return Status::Ok();
  }
  Request rq;
  rq.url = m.Base() + "/v2/";
  ASSIGN_OR_RETURN(Response r, m.Do(rq, ""));
  if (r.status == 200) return Status::Ok();
  if (r.status == 401) {
    std::optional<Credentials> c;
    {
      MutexLock l(&m.auth_mu);
      ASSIGN_OR_RETURN(c, m.Creds());
    }
    if (c && !c->username.empty())
      return Status::Denied(m.registry + ": login refused for user \"" + c->username +
                            "\" (wrong username or password?)");
  }
  return m.Unexpected(m.registry + ": GET /v2/", r);
}

Result<FetchedManifest> Client::GetManifest(const std::string& repo, const std::string& ref) {
  Impl& m = *impl_;
  const std::string what = m.registry + "/" + repo + (ref.rfind("sha256:", 0) == 0 ? "@" : ":") + ref;
  Request rq;
  rq.url = m.Base() + "/v2/" + repo + "/manifests/" + ref;
  rq.headers.push_back(kAcceptManifests);
  rq.max_body = kMaxManifest;
  auto r = m.Do(rq, PullScope(repo));
  if (!r.ok()) return r.status().Prefix(what);
  if (r->status == 404) {
    std::string errs = RegistryErrors(r->body);
    return Status::NotFound(what + ": manifest unknown" + (errs.empty() ? "" : " (" + errs + ")"));
  }
  if (r->status != 200) return m.Unexpected(what, *r);
  FetchedManifest out;
  out.bytes = std::move(r->body);
  out.digest = Digest::Of(out.bytes);
  if (ref.rfind("sha256:", 0) == 0) {
    ASSIGN_OR_RETURN(Digest want, Digest::Parse(ref));
    if (want != out.digest)
      return Status::Corruption(what + ": manifest bytes hash to " + out.digest.ToString());
  } else {
    std::string hd = r->Header("docker-content-digest");
    auto d = Digest::Parse(hd);
    if (!hd.empty() && d.ok() && *d != out.digest)
      return Status::Corruption(what + ": manifest bytes hash to " + out.digest.ToString() +
                                ", registry says " + hd);
  }
  std::string ct = r->Header("content-type");
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  try {
    json j = json::parse(out.bytes);
    if (j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
      out.media_type = j["mediaType"].get<std::string>();
    if (j.is_object() && j.value("schemaVersion", 0) == 1)
      return Status::Unsupported(what + ": Docker schema 1 manifests are not supported");
  } catch (const std::exception& e) {
    return Status::Invalid(what + ": manifest is not JSON: " + e.what());
  }
  if (out.media_type.empty()) out.media_type = ct;
  if (out.media_type.find("prettyjws") != std::string::npos ||
      out.media_type == "application/vnd.docker.distribution.manifest.v1+json")
    return Status::Unsupported(what + ": Docker schema 1 manifests are not supported");
  return out;
}

Result<std::pair<FetchedManifest, oci::Manifest>> Client::ResolveImageManifest(
    const std::string& repo, const std::string& ref, const Platform& platform,
    const std::string& name) {
  ASSIGN_OR_RETURN(FetchedManifest m, GetManifest(repo, ref));
  for (int depth = 0; depth < 4 && oci::IsIndexMediaType(m.media_type); depth++) {
    const std::string what = name + ": index " + m.digest.ToString();
    ASSIGN_OR_RETURN(json j, oci::ParseJson(m.bytes, what));
    ASSIGN_OR_RETURN(std::vector<oci::IndexEntry> entries, oci::ParseIndex(j, what));
    ASSIGN_OR_RETURN(oci::IndexEntry chosen, oci::ChooseByPlatform(entries, platform, what));
    ASSIGN_OR_RETURN(m, GetManifest(repo, chosen.desc.digest.ToString()));
  }
  const std::string what = name + ": manifest " + m.digest.ToString();
  if (!oci::IsManifestMediaType(m.media_type))
    return Status::Unsupported(what + ": media type \"" + m.media_type +
                               "\" is not an image manifest");
  ASSIGN_OR_RETURN(json mj, oci::ParseJson(m.bytes, what));
  ASSIGN_OR_RETURN(oci::Manifest manifest, oci::ParseManifest(mj, m.media_type, what));
  return std::make_pair(std::move(m), std::move(manifest));
}

Status Client::PutManifest(const std::string& repo, const std::string& ref,
                           const std::string& media_type, const std::string& bytes,
                           std::string* oci_subject) {
  Impl& m = *impl_;
  const std::string what = m.registry + "/" + repo + ":" + ref + ": manifest upload";
  Request rq;
  rq.method = "PUT";
  rq.url = m.Base() + "/v2/" + repo + "/manifests/" + ref;
  rq.headers.push_back("Content-Type: " + media_type);
  rq.body = bytes;
  ASSIGN_OR_RETURN(Response r, m.Do(rq, PushScope(repo)));
  if (r.status != 201 && r.status != 200) return m.Unexpected(what, r);
  std::string hd = r.Header("docker-content-digest");
  if (!hd.empty() && hd != Digest::Of(bytes).ToString())
    return Status::Corruption(what + ": registry stored digest " + hd + ", we sent " +
                              Digest::Of(bytes).ToString());
  if (oci_subject) *oci_subject = r.Header("oci-subject");
  return Status::Ok();
}

Result<std::optional<uint64_t>> Client::HeadBlob(const std::string& repo, const Digest& d,
                                                 bool for_push) {
  Impl& m = *impl_;
  Request rq;
  rq.method = "HEAD";
  rq.url = m.Base() + "/v2/" + repo + "/blobs/" + d.ToString();
  ASSIGN_OR_RETURN(Response r, m.Do(rq, for_push ? PushScope(repo) : PullScope(repo)));
  if (r.status == 404) return std::optional<uint64_t>();
  if (r.status != 200) return m.Unexpected(m.registry + "/" + repo + ": blob " + d.ToString(), r);
  std::string len = r.Header("content-length");
  return std::optional<uint64_t>(len.empty() ? 0 : std::strtoull(len.c_str(), nullptr, 10));
}

Result<std::string> Client::GetBlob(const std::string& repo, const Descriptor& d, size_t max) {
  if (d.size > max)
    return Status::Invalid(impl_->registry + "/" + repo + ": blob " + d.digest.ToString() +
                           " is " + std::to_string(d.size) + " bytes, more than " +
                           std::to_string(max));
  std::string data;
  StringSink sink(&data);
  RETURN_IF_ERROR(FetchBlob(repo, d, sink));
  return data;
}

namespace {

// Hashes and counts what goes to out; drops the first `skip` bytes (a
// registry that answered a resumed request from the start).
class VerifyingSink : public ByteSink {
 public:
  VerifyingSink(ByteSink* out, uint64_t limit) : out_(out), limit_(limit) {}
  Status Write(const void* data, size_t n) override {
    auto* p = static_cast<const char*>(data);
    if (count_ + n > limit_)
      return Status::Corruption("blob longer than the " + std::to_string(limit_) +
                                " bytes its descriptor gives");
    sha_.Update(p, n);
    count_ += n;
    if (progress_) progress_(count_);
    return out_->Write(p, n);
  }
  uint64_t count() const { return count_; }
  Digest Finish() { return sha_.Finish(); }
  std::function<void(uint64_t)> progress_;

 private:
  ByteSink* out_;
  uint64_t limit_;
  uint64_t count_ = 0;
  Sha256 sha_;
};

}  // namespace

Status Client::FetchBlob(const std::string& repo, const Descriptor& d, ByteSink& out,
                         const TransferProgress& progress) {
  Impl& m = *impl_;
  const std::string what = m.registry + "/" + repo + ": blob " + d.digest.ToString();
  VerifyingSink vs(&out, d.size);
  if (progress) vs.progress_ = [&](uint64_t done) { progress(done, d.size); };
  // Retries are bounded from the latest progress: a cut after some bytes
  // resumes with a fresh count and window; Do() has already retried a
  // failure before the first byte.
  auto limit = m.RetryLimit(Impl::Clock::time_point::max());
  int cuts = 0;
  while (true) {
    Request rq;
    rq.url = m.Base() + "/v2/" + repo + "/blobs/" + d.digest.ToString();
    rq.sink = &vs;
    uint64_t have = vs.count();
    if (have > 0) {
      rq.headers.push_back("Range: bytes=" + std::to_string(have) + "-");
      rq.resume_from = have;
    }
    auto r = m.Do(rq, PullScope(repo));
    if (vs.count() > have) {
      cuts = 0;
      limit = m.RetryLimit(Impl::Clock::time_point::max());
    }
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kUnavailable && vs.count() > have &&
          m.Backoff(0, nullptr, limit))
        continue;
      return r.status().Prefix(what);
    }
    if (r->status == 404) return Status::NotFound(what + ": blob unknown to the registry");
    if (r->status == 416 && have == d.size) break;
    if (r->status != 200 && r->status != 206) return m.Unexpected(what, *r);
    if (vs.count() >= d.size) break;
    // Ended early without a transport error: treat as a cut.
    if (cuts >= m.opts.retries || !m.Backoff(cuts, nullptr, limit)) {
      if (m.cancel.cancelled()) return m.Cancelled(what);
      return Status::Unavailable(what + ": transfer ended at " + std::to_string(vs.count()) +
                                 " of " + std::to_string(d.size) + " bytes");
    }
    cuts++;
  }
  if (vs.count() != d.size)
    return Status::Corruption(what + ": got " + std::to_string(vs.count()) + " bytes, want " +
                              std::to_string(d.size));
  Digest got = vs.Finish();
  if (got != d.digest) return Status::Corruption(what + ": content hashes to " + got.ToString());
  return Status::Ok();
}

Result<std::string> Client::GetBlobRange(const std::string& repo, const Digest& d, uint64_t offset,
                                         uint64_t length, Deadline deadline) {
  Impl& m = *impl_;
  const std::string what = m.registry + "/" + repo + ": blob " + d.ToString() + " bytes " +
                           std::to_string(offset) + "+" + std::to_string(length);
  if (length == 0) return std::string();
  const auto limit = m.RetryLimit(deadline);
  for (int attempt = 0;; attempt++) {
    Request rq;
    rq.url = m.Base() + "/v2/" + repo + "/blobs/" + d.ToString();
    rq.deadline = deadline;
    rq.headers.push_back("Range: bytes=" + std::to_string(offset) + "-" +
                         std::to_string(offset + length - 1));
    // A registry that ignores Range would send the whole blob: cap it.
    struct Capped : ByteSink {
      std::string data;
      uint64_t cap = 0;
      using ByteSink::Write;
      Status Write(const void* p, size_t n) override {
        if (data.size() + n > cap) return Status::Unsupported("registry ignores Range requests");
        data.append(static_cast<const char*>(p), n);
        return Status::Ok();
      }
    } sink;
    sink.cap = length;
    rq.sink = &sink;
    auto r = m.Do(rq, PullScope(repo));
    if (!r.ok()) {
      // Do() retried what failed before the first byte; a cut after some
      // bytes is tried again here.
      if (r.status().code() == Status::Code::kUnavailable && !sink.data.empty() &&
          attempt < m.opts.retries && m.Backoff(attempt, nullptr, limit))
        continue;
      return r.status().Prefix(what);
    }
    if (r->status == 200) {
      if (offset == 0 && sink.data.size() == length) return std::move(sink.data);  // the whole blob
      return Status::Unsupported(what + ": registry ignores Range requests");
    }
    if (r->status != 206) return m.Unexpected(what, *r);
    if (sink.data.size() != length) {
      if (attempt < m.opts.retries && m.Backoff(attempt, nullptr, limit)) continue;
      return Status::Unavailable(what + ": got " + std::to_string(sink.data.size()) + " bytes");
    }
    return std::move(sink.data);
  }
}

}  // namespace cfs::registry
