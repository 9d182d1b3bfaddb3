// HTTP exchanges over libcurl for the registry client: one request, one
// response -- no auth, no retries, no redirects (client.cc adds those).
// Private to registry/.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "registry/cancel.h"
#include "base/io.h"
#include "base/thread_annotations.h"

namespace cfs::registry::http {

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;
  std::string auth;  // "Authorization: …" line, never logged
  std::string body;  // request body (PUT/POST/PATCH) unless body_fd >= 0
  int body_fd = -1;
  uint64_t body_off = 0, body_len = 0;
  ByteSink* sink = nullptr;  // a 2xx response body goes here; else into Response::body
  // For a resumed GET (Range: bytes=N-): when the answer is a full 200, the
  // first N bytes are dropped before the sink sees them.
  uint64_t resume_from = 0;
  size_t max_body = 1 << 20;
  std::function<void(uint64_t done, uint64_t total)> upload_progress;
  // The exchange fails (CURLE_OPERATION_TIMEDOUT, "deadline" in the error)
  // at this time, whatever its phase. Default: none.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  uint64_t sink_bytes = 0;
  Status sink_status;
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return "";
  }
};

// curl's outcome of one exchange: transport failure (with whether another
// try may pass) or a response.
struct Exchange {
  CURLcode code = CURLE_OK;
  bool cancelled = false;  // aborted by TransportOptions::cancel
  std::string error;
  Response resp;
};

bool TransientCurl(CURLcode c);
// TLS handshake or verification failures.
bool TlsCurl(CURLcode c);
// Statuses worth another try: 408, 429, 5xx except 501.
bool TransientStatus(long s);
// The "errors" array of a registry error body, as one line ("" if none).
std::string RegistryErrors(const std::string& body);
// Resolves a Location header against the URL it answered.
std::string ResolveLocation(const std::string& base, const std::string& loc);
// url + "?kv" or "&kv".
std::string WithQuery(const std::string& url, const std::string& kv);
std::string UrlEscape(const std::string& s);
// Bytes of all *.crt in dir plus the system bundle ("" when dir has none);
// sets the client certificate pair (*.cert + *.key) when there is one.
std::string CaBundle(const std::string& dir, std::string* client_cert, std::string* client_key);

struct TransportOptions {
  bool tls_verify = true;
  std::string ca_blob;  // PEM CAs to trust (with the system's); "" = system only
  std::string client_cert, client_key;  // files
  // TCP + TLS handshake bound.
  int connect_timeout_s = 15;
  // A transfer (waiting for the first byte included) that moves fewer than
  // low_speed_bps bytes per second over stall_timeout_s seconds fails.
  int stall_timeout_s = 30;
  long low_speed_bps = 1024;
  // When set, cancelled() aborts every exchange within about a second.
  const Canceller* cancel = nullptr;
};

// A pool of curl easy handles (connections are reused). Thread-safe.
class Transport {
 public:
  explicit Transport(TransportOptions o) : opts_(std::move(o)) {}
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;
  // One exchange: no retries, no redirects.
  Exchange Perform(const Request& rq);
  uint64_t requests() const { return n_requests_.load(); }
  uint64_t bytes_down() const { return n_down_.load(); }
  uint64_t bytes_up() const { return n_up_.load(); }

 private:
  CURL* TakeHandle();
  void ReturnHandle(CURL* c);
  const TransportOptions opts_;
  Mutex pool_mu_;
  std::vector<CURL*> pool_ GUARDED_BY(pool_mu_);
  std::atomic<uint64_t> n_requests_{0}, n_down_{0}, n_up_{0};
};

}  // namespace cfs::registry::http
