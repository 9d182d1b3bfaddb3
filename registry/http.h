// HTTP exchanges for the registry client: one request, one response -- no
// auth, no retries, no redirects (client.cc adds those). `Transport` is the
// interface; curl_transport.h is the real one over libcurl,
// testing/fake_transport.h a registry in memory with injected faults.
// Private to registry/.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/io.h"
#include "registry/cancel.h"

namespace cfs::registry::http {

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value" lines
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
  // The exchange fails (Outcome::kTimedOut, "deadline" in the error) at
  // this time, whatever its phase. Default: none.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  // When set and cancelled, the exchange is aborted (Outcome::kCancelled)
  // within about a second, or not started.
  const Canceller* cancel = nullptr;
};

struct Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  uint64_t sink_bytes = 0;  // bytes Request::sink accepted
  Status sink_status;       // the sink's failure, which aborted the exchange
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return "";
  }
};

// How an exchange ended, short of a complete response.
enum class Outcome {
  kOk,             // a complete response (whatever its status)
  kResolveFailed,  // no such host name
  kConnectFailed,  // TCP connect refused or unreachable
  kTimedOut,       // the deadline, or a stall (too few bytes/s), or connect timeout
  kCut,            // the connection broke or closed mid-exchange
  kTlsHandshake,   // TLS handshake failed (e.g. a plain-http peer)
  kTlsVerify,      // the peer's certificate (or ours) was refused
  kCancelled,      // Request::cancel fired
  kFailed,         // anything else (a sink failure, out of memory, ...)
};

// The outcome of one exchange: transport failure or a response.
struct Exchange {
  Outcome outcome = Outcome::kOk;
  std::string error;  // one line, when outcome != kOk
  Response resp;
  bool ok() const { return outcome == Outcome::kOk; }
};

// Failures another try may pass: resolve, connect, timeouts, cuts.
bool TransientOutcome(Outcome o);
// Statuses worth another try: 408, 429, 5xx except 501.
bool TransientStatus(long s);
// The "errors" array of a registry error body, as one line ("" if none).
std::string RegistryErrors(const std::string& body);
// Resolves a Location header against the URL it answered.
std::string ResolveLocation(const std::string& base, const std::string& loc);
// url + "?kv" or "&kv".
std::string WithQuery(const std::string& url, const std::string& kv);
std::string UrlEscape(const std::string& s);
// Decodes %XX escapes (the inverse of UrlEscape; "+" stays "+").
std::string UrlUnescape(const std::string& s);

// Performs exchanges. Implementations are thread-safe (a Client runs
// transfers in parallel) and count what they moved.
class Transport {
 public:
  virtual ~Transport() = default;
  // One exchange: no retries, no redirects.
  virtual Exchange Perform(const Request& rq) = 0;
  uint64_t requests() const { return n_requests_.load(); }
  uint64_t bytes_down() const { return n_down_.load(); }
  uint64_t bytes_up() const { return n_up_.load(); }

 protected:
  void Count(uint64_t up, uint64_t down) {
    n_requests_++;
    n_up_ += up;
    n_down_ += down;
  }

 private:
  std::atomic<uint64_t> n_requests_{0}, n_down_{0}, n_up_{0};
};

}  // namespace cfs::registry::http
