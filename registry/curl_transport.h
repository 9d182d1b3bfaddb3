// The real http::Transport: libcurl easy handles, pooled so connections are
// reused. Private to registry/.
#pragma once

#include <curl/curl.h>

#include <string>
#include <vector>

#include "base/thread_annotations.h"
#include "registry/http.h"

namespace cfs::registry::http {

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
};

// Bytes of all *.crt in dir plus the system bundle ("" when dir has none);
// sets the client certificate pair (*.cert + *.key) when there is one.
std::string CaBundle(const std::string& dir, std::string* client_cert, std::string* client_key);

// curl's code as an Outcome.
Outcome OutcomeOf(CURLcode c);

// Thread-safe. Request::cancel is checked by curl's progress callback, about
// once a second.
class CurlTransport : public Transport {
 public:
  explicit CurlTransport(TransportOptions o);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;
  Exchange Perform(const Request& rq) override;

 private:
  CURL* TakeHandle();
  void ReturnHandle(CURL* c);
  // Sets the options of rq (and of the transport) on c; returns the header
  // list the caller frees after the transfer.
  struct curl_slist* Setup(CURL* c, const Request& rq, void* ctx, char* errbuf);
  const TransportOptions opts_;
  Mutex pool_mu_;
  std::vector<CURL*> pool_ GUARDED_BY(pool_mu_);
};

}  // namespace cfs::registry::http
