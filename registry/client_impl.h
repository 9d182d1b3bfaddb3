// Private to registry/: the state of a Client (Client::Impl) and the
// request machinery its calls share (auth, retries, redirects, errors).
// client.cc implements it; each file of a distribution API call group (e.g.
// blob_upload.cc) includes it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/thread_annotations.h"
#include "registry/auth.h"
#include "registry/cancel.h"
#include "registry/client.h"
#include "registry/http.h"

namespace cfs::registry {

// Token scopes of a repository.
inline std::string PullScope(const std::string& repo) { return "repository:" + repo + ":pull"; }
inline std::string PushScope(const std::string& repo) {
  return "repository:" + repo + ":pull,push";
}

class Client::Impl {
 public:
  std::string registry, host, scheme = "https";
  ClientOptions opts;
  std::shared_ptr<http::Transport> http;

  Mutex auth_mu;
  std::optional<Challenge> challenge GUARDED_BY(auth_mu);
  bool creds_loaded GUARDED_BY(auth_mu) = false;
  std::optional<Credentials> creds GUARDED_BY(auth_mu);
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  std::map<std::string, Token> tokens GUARDED_BY(auth_mu);

  std::atomic<uint64_t> n_retries{0};
  Canceller cancel;  // Client::Cancel(); the transport watches it

  using Clock = std::chrono::steady_clock;
  std::string Base() const { return scheme + "://" + host; }
  // When a call whose (latest progress or) first try starts now stops
  // trying again: the retry window, or the call's deadline if sooner.
  Clock::time_point RetryLimit(Clock::time_point deadline) const {
    return std::min(deadline, Clock::now() + std::chrono::seconds(opts.retry_window_s));
  }

  // One HTTP exchange, no retries, no redirects.
  http::Exchange Perform(http::Request rq) {
    rq.cancel = &cancel;
    return http->Perform(rq);
  }

  // Credentials for this registry (given, else the auth file's), loaded once.
  Result<std::optional<Credentials>> Creds() REQUIRES(auth_mu);
  // The Authorization line for a request on scope ("" = none).
  Result<std::string> AuthFor(const std::string& scope, bool force_new,
                              Clock::time_point deadline = Clock::time_point::max());
  Result<std::string> FetchToken(const Challenge& ch, const std::string& scope,
                                 Clock::time_point deadline = Clock::time_point::max());

  // Sends rq with auth for scope, following redirects (GET/HEAD) without the
  // Authorization header and retrying transient failures (at most
  // opts.retries more tries, none started after the retry window or
  // rq.deadline). A 401 renews the token once. Returns the final response
  // whatever its status; Unavailable when the registry cannot be reached
  // after the retries, Aborted once cancelled.
  Result<http::Response> Do(http::Request rq, const std::string& scope);
  // After a 401: takes the challenge and renews the credentials (once, or
  // again when the scheme changed) into rq->auth. True when rq should be
  // sent again.
  Result<bool> Reauthenticate(const http::Response& r, const std::string& scope, bool* renewed,
                              http::Request* rq);
  // GET /v2/: sets scheme and challenge.
  Status Probe();

  // Error for an unexpected response.
  Status Unexpected(const std::string& what, const http::Response& r);
  Status TransportError(const std::string& what, const http::Exchange& ex) const;
  // Sleeps before another try; false (no sleep) when that try would start
  // after limit, or when cancelled.
  bool Backoff(int attempt, const http::Response* r, Clock::time_point limit) {
    long ms = static_cast<long>(opts.backoff_ms) << std::min(attempt, 6);
    if (r) {
      std::string ra = r->Header("retry-after");
      if (!ra.empty() && std::all_of(ra.begin(), ra.end(), ::isdigit))
        ms = std::max(ms, std::min(30000L, std::atol(ra.c_str()) * 1000L));
    }
    ms = std::min(ms, 15000L);
    auto until = Clock::now() + std::chrono::milliseconds(ms);
    if (until >= limit || cancel.cancelled()) return false;
    n_retries++;
    return cancel.SleepUntil(until);
  }
  Status Cancelled(const std::string& what) const {
    return Status::Aborted(what + ": cancelled (the mount is going away)");
  }
};

}  // namespace cfs::registry
