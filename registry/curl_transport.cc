#include "registry/curl_transport.h"

#include "base/strings.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "base/log.h"

namespace cfs::registry::http {

namespace {

constexpr char kUserAgent[] = "cimg/0.1 (clusterfs)";

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct CallCtx {
  CURL* curl;
  const Request* rq;
  Response* resp;
  const Canceller* cancel;
  bool cancelled = false, past_deadline = false;  // why OnXfer aborted
  uint64_t body_pos = 0;
  bool first_body = true;
  uint64_t skip = 0;
};

size_t OnHeader(char* buf, size_t size, size_t n, void* ud) {
  auto* ctx = static_cast<CallCtx*>(ud);
  std::string_view line(buf, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    ctx->resp->headers.clear();  // a new response (after 100 Continue)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string_view::npos)
    ctx->resp->headers.emplace_back(Lower(std::string(line.substr(0, colon))),
                                    Trim(line.substr(colon + 1)));
  return size * n;
}

size_t OnBody(char* buf, size_t size, size_t n, void* ud) {
  auto* ctx = static_cast<CallCtx*>(ud);
  size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(ctx->curl, CURLINFO_RESPONSE_CODE, &code);
  if (ctx->rq->sink && code >= 200 && code < 300) {
    if (ctx->first_body) {
      ctx->first_body = false;
      if (code == 200) ctx->skip = ctx->rq->resume_from;
    }
    if (ctx->skip) {
      size_t k = static_cast<size_t>(std::min<uint64_t>(ctx->skip, len));
      ctx->skip -= k;
      if (k == len) return len;
      buf += k;
      len -= k;
      Status s = ctx->rq->sink->Write(buf, len);
      if (!s.ok()) {
        ctx->resp->sink_status = s;
        return 0;
      }
      ctx->resp->sink_bytes += len;
      return size * n;
    }
    Status s = ctx->rq->sink->Write(buf, len);
    if (!s.ok()) {
      ctx->resp->sink_status = s;
      return 0;  // aborts the transfer
    }
    ctx->resp->sink_bytes += len;
    return len;
  }
  if (ctx->resp->body.size() + len > ctx->rq->max_body) {
    ctx->resp->sink_status = Status::Invalid("response body larger than " +
                                             std::to_string(ctx->rq->max_body) + " bytes");
    return 0;
  }
  ctx->resp->body.append(buf, len);
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* ud) {
  auto* ctx = static_cast<CallCtx*>(ud);
  const Request& rq = *ctx->rq;
  size_t want = size * n;
  if (rq.body_fd >= 0) {
    uint64_t left = rq.body_len - ctx->body_pos;
    size_t k = static_cast<size_t>(std::min<uint64_t>(left, want));
    if (k == 0) return 0;
    ssize_t got = ::pread(rq.body_fd, buf, k, static_cast<off_t>(rq.body_off + ctx->body_pos));
    if (got <= 0) return CURL_READFUNC_ABORT;
    ctx->body_pos += static_cast<uint64_t>(got);
    return static_cast<size_t>(got);
  }
  size_t k = std::min<size_t>(want, rq.body.size() - ctx->body_pos);
  std::memcpy(buf, rq.body.data() + ctx->body_pos, k);
  ctx->body_pos += k;
  return k;
}

// Called by curl about once a second, in every phase (connect included):
// non-zero aborts the transfer.
int OnXfer(void* ud, curl_off_t, curl_off_t, curl_off_t ultotal, curl_off_t ulnow) {
  auto* ctx = static_cast<CallCtx*>(ud);
  if (ctx->cancel && ctx->cancel->cancelled()) {
    ctx->cancelled = true;
    return 1;
  }
  if (std::chrono::steady_clock::now() >= ctx->rq->deadline) {
    ctx->past_deadline = true;
    return 1;
  }
  if (ctx->rq->upload_progress && ulnow > 0)
    ctx->rq->upload_progress(static_cast<uint64_t>(ulnow), static_cast<uint64_t>(ultotal));
  return 0;
}

}  // namespace

// Bytes of all *.crt in dir plus the system bundle; "" when dir has none.
std::string CaBundle(const std::string& dir, std::string* client_cert, std::string* client_key) {
  std::string extra;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return "";
  std::vector<std::string> names;
  while (auto* e = ::readdir(d)) names.push_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    auto ends = [&](const char* suf) {
      std::string s(suf);
      return n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
    };
    if (ends(".crt")) {
      auto b = ReadFile(dir + "/" + n, 4 << 20);
      if (b.ok()) extra += *b + "\n";
    } else if (ends(".cert")) {
      std::string key = n.substr(0, n.size() - 5) + ".key";
      if (PathExists(dir + "/" + key)) {
        *client_cert = dir + "/" + n;
        *client_key = dir + "/" + key;
      }
    }
  }
  if (extra.empty()) return "";
  for (const char* sys : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"}) {
    auto b = ReadFile(sys, 16 << 20);
    if (b.ok()) return *b + "\n" + extra;
  }
  return extra;
}


Outcome OutcomeOf(CURLcode c) {
  switch (c) {
    case CURLE_OK:
      return Outcome::kOk;
    case CURLE_COULDNT_RESOLVE_HOST:
      return Outcome::kResolveFailed;
    case CURLE_COULDNT_CONNECT:
      return Outcome::kConnectFailed;
    case CURLE_OPERATION_TIMEDOUT:
      return Outcome::kTimedOut;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return Outcome::kCut;
    case CURLE_SSL_CONNECT_ERROR:
      return Outcome::kTlsHandshake;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return Outcome::kTlsVerify;
    case CURLE_ABORTED_BY_CALLBACK:
    default:
      return Outcome::kFailed;
  }
}

CurlTransport::CurlTransport(TransportOptions o) : opts_(std::move(o)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlTransport::~CurlTransport() {
  MutexLock l(&pool_mu_);
  for (CURL* c : pool_) curl_easy_cleanup(c);
}

CURL* CurlTransport::TakeHandle() {
  {
    MutexLock l(&pool_mu_);
    if (!pool_.empty()) {
      CURL* c = pool_.back();
      pool_.pop_back();
      curl_easy_reset(c);
      return c;
    }
  }
  return curl_easy_init();
}

void CurlTransport::ReturnHandle(CURL* c) {
  MutexLock l(&pool_mu_);
  if (pool_.size() < 8) {
    pool_.push_back(c);
    return;
  }
  curl_easy_cleanup(c);
}

struct curl_slist* CurlTransport::Setup(CURL* c, const Request& rq, void* ctx, char* errbuf) {
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_URL, rq.url.c_str());
  curl_easy_setopt(c, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(opts_.connect_timeout_s));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, opts_.low_speed_bps);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(opts_.stall_timeout_s));
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnXfer);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, ctx);
  if (rq.deadline != std::chrono::steady_clock::time_point::max()) {
    // A backstop for OnXfer's check (curl's own timer, to the millisecond).
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        rq.deadline - std::chrono::steady_clock::now());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<int64_t>(1, left.count())));
  }
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, ctx);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, ctx);
  if (!opts_.tls_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!opts_.ca_blob.empty()) {
    curl_blob b{const_cast<char*>(opts_.ca_blob.data()), opts_.ca_blob.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
  }
  if (!opts_.client_cert.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, opts_.client_cert.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, opts_.client_key.c_str());
  }
  struct curl_slist* hdrs = nullptr;
  for (const auto& h : rq.headers) hdrs = curl_slist_append(hdrs, h.c_str());
  if (!rq.auth.empty()) hdrs = curl_slist_append(hdrs, rq.auth.c_str());
  bool has_body = rq.method == "PUT" || rq.method == "POST" || rq.method == "PATCH";
  if (has_body) hdrs = curl_slist_append(hdrs, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  if (rq.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    uint64_t len = rq.body_fd >= 0 ? rq.body_len : rq.body.size();
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq.method.c_str());
    curl_easy_setopt(c, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(c, CURLOPT_READDATA, ctx);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(len));
  } else if (rq.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq.method.c_str());
  }
  return hdrs;
}

Exchange CurlTransport::Perform(const Request& rq) {
  Exchange ex;
  CURL* c = TakeHandle();
  if (!c) {
    ex.outcome = Outcome::kFailed;
    ex.error = "curl_easy_init failed";
    return ex;
  }
  CallCtx ctx{c, &rq, &ex.resp, rq.cancel};
  char errbuf[CURL_ERROR_SIZE] = {0};
  struct curl_slist* hdrs = Setup(c, rq, &ctx, errbuf);
  CURLcode code;
  if (rq.cancel && rq.cancel->cancelled()) {
    code = CURLE_ABORTED_BY_CALLBACK;
    ctx.cancelled = true;
  } else {
    code = curl_easy_perform(c);
  }
  ex.outcome = OutcomeOf(code);
  if (code != CURLE_OK && ctx.cancelled) {
    ex.outcome = Outcome::kCancelled;
    std::snprintf(errbuf, sizeof errbuf, "cancelled (the mount is going away)");
  } else if (code != CURLE_OK && (ctx.past_deadline || (code == CURLE_OPERATION_TIMEDOUT &&
                                                        std::chrono::steady_clock::now() >=
                                                            rq.deadline))) {
    ex.outcome = Outcome::kTimedOut;
    std::snprintf(errbuf, sizeof errbuf, "no complete answer before the deadline");
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ex.resp.status);
  curl_off_t up = 0, down = 0;
  curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
  curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
  Count(static_cast<uint64_t>(up), static_cast<uint64_t>(down));
  if (code != CURLE_OK) ex.error = errbuf[0] ? errbuf : curl_easy_strerror(code);
  curl_slist_free_all(hdrs);
  ReturnHandle(c);
  if (LogEnabled(LogLevel::kDebug)) {
    // Never the query (a redirect to storage signs it) nor the headers.
    LogDebug("http: " + rq.method + " " + LoggableUrl(rq.url) + " -> " + std::to_string(ex.resp.status) +
             " (" + std::to_string(down) + " bytes in, " + std::to_string(up) + " out)" +
             (code == CURLE_OK ? "" : " error: " + ex.error));
  }
  return ex;
}

}  // namespace cfs::registry::http
