// OCI distribution (registry API v2) client over an HTTP transport (libcurl
// by default).
//
// One Client talks to one registry host. It finds out the scheme (https, or
// plain http only when tls_verify is off), authenticates (anonymous, Bearer
// tokens from the WWW-Authenticate challenge with per-repository scopes,
// refreshed on 401; Basic), follows redirects to blob storage without the
// Authorization header, retries what may pass on a second try (5xx, 429,
// timeouts, resets) with backoff, and verifies every byte it returns against
// its digest. Thread-safe: transfers may run in parallel.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "registry/auth.h"
#include "base/digest.h"
#include "transport/image_source.h"
#include "base/io.h"
#include "transport/oci_metadata.h"
#include "base/status.h"

namespace cfs::registry {

namespace http {
class Transport;
}

struct ClientOptions {
  bool tls_verify = true;  // false: plain http or unverified https allowed
  // CA certificates (*.crt) and a client certificate (*.cert + *.key) in the
  // containers-tools layout. "" = /etc/containers/certs.d/HOST[:PORT], then
  // /etc/docker/certs.d/HOST[:PORT], when present.
  std::string cert_dir;
  std::optional<Credentials> creds;  // given on the command line; else the auth file's
  std::string auth_file;             // "" = FindCredentials's order (auth.h)
  // Every network wait is bounded: a try fails when the TCP + TLS handshake
  // takes more than connect_timeout_s, or when fewer than low_speed_bps
  // bytes/s move over stall_timeout_s seconds (waiting for the first byte
  // of the answer included). A call tries again what may pass (5xx, 429,
  // timeouts, resets) at most `retries` more times, and starts no new try
  // later than retry_window_s after its first (a blob download: after its
  // latest progress). So a registry that never answers fails a call within
  // about retry_window_s + stall_timeout_s.
  int retries = 4;
  int connect_timeout_s = 15;
  int stall_timeout_s = 30;
  long low_speed_bps = 1024;
  int retry_window_s = 60;
  int backoff_ms = 250;  // first retry delay; doubles each time (at most 15 s)
  // What performs the HTTP exchanges (registry/http.h). null: libcurl, with
  // the TLS and timeout options above. Tests give a fake registry
  // (registry/testing/fake_transport.h); the timeouts are then its to model.
  std::shared_ptr<http::Transport> transport;
};

struct FetchedManifest {
  std::string bytes;
  std::string media_type;
  Digest digest;  // sha256 of bytes, checked against the reference/header
};

using Deadline = std::chrono::steady_clock::time_point;
constexpr Deadline kNoDeadline = Deadline::max();

// Called with bytes done so far (and the total when known) during transfers.
using TransferProgress = std::function<void(uint64_t done, uint64_t total)>;

class Client {
 public:
  // registry: "host[:port]" ("docker.io" means Docker Hub). Contacts the
  // registry (GET /v2/) to learn its scheme and how it authenticates.
  static Result<std::unique_ptr<Client>> Create(const std::string& registry,
                                                const ClientOptions& o);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& registry() const;
  // "https" or "http".
  const std::string& scheme() const;

  // Checks the credentials (given or stored) are accepted: the /v2/ endpoint
  // for Basic registries, a token for `repository:probe:pull` otherwise.
  // Denied with a one-line reason when they are not.
  Status CheckLogin();

  // ref: a tag or "sha256:…". Accepts OCI manifests and indexes and Docker
  // schema2 manifests and manifest lists (schema1 is Unsupported).
  Result<FetchedManifest> GetManifest(const std::string& repo, const std::string& ref);
  // The OCI 1.1 referrers index of manifest subject (distribution-spec
  // v1.1: GET /v2/<repo>/referrers/<digest>, pull scope): its bytes when the
  // registry answers 200 (pages named by `Link: <URL>; rel="next"` read and
  // their "manifests" put together; at most 4 MiB a page, 64 pages; a page
  // after the first that fails is an error); nullopt when it answers any other
  // status (registries without the API answer 404, 400 or 405: the caller
  // falls back to the "sha256-<hex>" tag). Errors only when the registry
  // cannot be reached or the body is too long.
  Result<std::optional<std::string>> GetReferrers(const std::string& repo, const Digest& subject);
  // Returns the digest the registry reports (checked against ours).
  // oci_subject (may be null) receives the OCI-Subject header of the answer
  // ("" when absent): a registry with the OCI 1.1 referrers API names the
  // subject of a manifest that has one.
  Status PutManifest(const std::string& repo, const std::string& ref,
                     const std::string& media_type, const std::string& bytes,
                     std::string* oci_subject = nullptr);

  // The blob's size when the repository has it, nullopt when not.
  Result<std::optional<uint64_t>> HeadBlob(const std::string& repo, const Digest& d,
                                           bool for_push = false);
  // A small blob (configs) into memory, verified; at most max bytes.
  Result<std::string> GetBlob(const std::string& repo, const Descriptor& d, size_t max = 64 << 20);
  // Streams a blob into out, resuming with Range requests after a cut;
  // verifies size and digest at the end (Corruption: the caller discards
  // what out received).
  Status FetchBlob(const std::string& repo, const Descriptor& d, ByteSink& out,
                   const TransferProgress& progress = nullptr);
  // Bytes [offset, offset+length) of a blob with one Range request (after
  // retries). Unsupported when the registry answers without honouring Range;
  // Unavailable when no try succeeded before `deadline` (the transfer in
  // flight then is aborted). The caller verifies the bytes (chunk digests).
  Result<std::string> GetBlobRange(const std::string& repo, const Digest& d, uint64_t offset,
                                   uint64_t length, Deadline deadline = kNoDeadline);
  // Uploads the file at path as blob d (monolithic up to 32 MiB, chunked
  // PATCHes above), after trying a cross-repository mount from mount_from
  // when that is non-empty.
  Status UploadBlob(const std::string& repo, const Descriptor& d, const std::string& path,
                    const std::string& mount_from = "",
                    const TransferProgress& progress = nullptr);
  // Uploads a small blob held in memory (spooled to a file under tmp_dir
  // meanwhile), unless the repository has it.
  Status UploadBytes(const std::string& repo, const std::string& bytes,
                     const std::string& media_type, const std::string& tmp_dir);

  // The image manifest for platform: ref's manifest, or the one an index
  // (several levels at most) chooses for platform; parsed and checked to be
  // an image manifest. name says what to call it in messages.
  Result<std::pair<FetchedManifest, oci::Manifest>> ResolveImageManifest(
      const std::string& repo, const std::string& ref, const Platform& platform,
      const std::string& name);

  // Aborts every transfer of this client within about a second and makes
  // every call from now on fail at once (Aborted). For an unmount: nothing
  // undoes it. Thread-safe.
  void Cancel();

  struct Stats {
    uint64_t requests = 0, bytes_down = 0, bytes_up = 0, retries = 0;
  };
  Stats stats() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cfs::registry
