// Client::GetReferrers: the OCI distribution-spec v1.1 referrers API
// (GET /v2/<repo>/referrers/<digest>), which answers an OCI image index of
// the manifests whose subject is <digest>.
#include "registry/client.h"
#include "registry/client_impl.h"

namespace cfs::registry {

namespace {

constexpr size_t kMaxReferrersIndex = 4 << 20;

}  // namespace

Result<std::optional<std::string>> Client::GetReferrers(const std::string& repo,
                                                        const Digest& subject) {
  Impl& m = *impl_;
  http::Request rq;
  rq.url = m.Base() + "/v2/" + repo + "/referrers/" + subject.ToString();
  rq.headers.push_back(std::string("Accept: ") + oci::kMediaTypeOciIndex);
  rq.max_body = kMaxReferrersIndex;
  auto r = m.Do(rq, PullScope(repo));
  if (!r.ok())
    return r.status().Prefix(m.registry + "/" + repo + ": referrers of " + subject.ToString());
  if (r->status != 200) return std::optional<std::string>();
  return std::optional<std::string>(std::move(r->body));
}

}  // namespace cfs::registry
