// Client::GetReferrers: the OCI distribution-spec v1.1 referrers API
// (GET /v2/<repo>/referrers/<digest>), which answers an OCI image index of
// the manifests whose subject is <digest>, possibly in pages: each page
// names the next in a `Link: <URL>; rel="next"` header, and the pages'
// "manifests" are put together into one index.
#include <nlohmann/json.hpp>

#include "registry/client.h"
#include "registry/client_impl.h"

namespace cfs::registry {

namespace {

using nlohmann::json;

constexpr size_t kMaxReferrersIndex = 4 << 20;  // per page
constexpr int kMaxReferrersPages = 64;

// The URL of the rel="next" entry of a Link header ("" when there is none).
std::string NextLink(const std::string& link) {
  size_t at = 0;
  while (at < link.size()) {
    size_t open = link.find('<', at), close = link.find('>', open);
    if (open == std::string::npos || close == std::string::npos) return "";
    size_t end = link.find(',', close);
    std::string params =
        link.substr(close + 1, end == std::string::npos ? std::string::npos : end - close - 1);
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos)
      return link.substr(open + 1, close - open - 1);
    if (end == std::string::npos) return "";
    at = end + 1;
  }
  return "";
}

// Appends the "manifests" of a later page to index.
Status AppendPage(json* index, const std::string& body, const std::string& what) {
  json page = json::parse(body, nullptr, false);
  if (!index->is_object() || !(*index)["manifests"].is_array() || !page.is_object() ||
      !page.contains("manifests") || !page["manifests"].is_array())
    return Status::Invalid(what + ": a page of the referrers index is not an OCI index");
  for (auto& m : page["manifests"]) (*index)["manifests"].push_back(std::move(m));
  return Status::Ok();
}

}  // namespace

Result<std::optional<std::string>> Client::GetReferrers(const std::string& repo,
                                                        const Digest& subject) {
  Impl& m = *impl_;
  const std::string what = m.registry + "/" + repo + ": referrers of " + subject.ToString();
  http::Request rq;
  rq.url = m.Base() + "/v2/" + repo + "/referrers/" + subject.ToString();
  rq.headers.push_back(std::string("Accept: ") + oci::kMediaTypeOciIndex);
  rq.max_body = kMaxReferrersIndex;
  auto r = m.Do(rq, PullScope(repo));
  if (!r.ok()) return r.status().Prefix(what);
  if (r->status != 200) return std::optional<std::string>();
  std::string next = NextLink(r->Header("link"));
  if (next.empty()) return std::optional<std::string>(std::move(r->body));
  json index = json::parse(r->body, nullptr, false);
  for (int page = 1; !next.empty(); page++) {
    if (page >= kMaxReferrersPages)
      return Status::Invalid(what + ": more than " + std::to_string(kMaxReferrersPages) +
                             " pages of referrers");
    rq.url = http::ResolveLocation(rq.url, next);
    ASSIGN_OR_RETURN(http::Response p, m.Do(rq, PullScope(repo)));
    if (p.status != 200) return m.Unexpected(what, p);
    RETURN_IF_ERROR(AppendPage(&index, p.body, what));
    next = NextLink(p.Header("link"));
  }
  return std::optional<std::string>(index.dump());
}

}  // namespace cfs::registry
