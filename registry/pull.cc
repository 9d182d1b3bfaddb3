#include "registry/pull.h"

#include <climits>
#include <cstdlib>

#include "registry/image_io.h"
#include "registry/sigstore_attachments.h"
#include "store/work_dir.h"

namespace cfs::registry {

namespace {

// The client for one pull source: its endpoint's insecure setting turns TLS
// verification off for it alone.
Result<std::shared_ptr<Client>> Connect(const PullSource& s, const ClientOptions& o) {
  ClientOptions co = o;
  if (s.insecure) co.tls_verify = false;
  ASSIGN_OR_RETURN(auto c, Client::Create(s.remote.registry, co));
  return std::shared_ptr<Client>(std::move(c));
}

}  // namespace

Result<ConnectedPull> ConnectForPull(const std::vector<Reference>& candidates,
                                     const RegistriesConf& conf, const ClientOptions& o,
                                     const std::function<void(const std::string&)>& log) {
  std::vector<std::pair<Reference, PullSource>> tries;
  std::string errors;
  auto fail = [&](const std::string& e) {
    errors += (errors.empty() ? "" : "; ") + e;
    if (log) log(e);
  };
  for (const auto& c : candidates) {
    auto sources = conf.PullSources(c);
    if (!sources.ok()) {
      if (candidates.size() == 1) return sources.status();
      fail(sources.status().message());
      continue;
    }
    for (auto& s : *sources) tries.push_back({c, std::move(s)});
  }
  for (size_t i = 0; i < tries.size(); i++) {
    const auto& [logical, src] = tries[i];
    const bool last = i + 1 == tries.size();
    const std::string what = src.remote.ToString() + (src.mirror ? " (mirror)" : "");
    auto client = Connect(src, o);
    if (client.ok() && !last) {
      // Probe: only an endpoint that has the image serves it.
      auto m = (*client)->GetManifest(src.remote.repository, src.remote.ManifestRef());
      if (!m.ok()) client = m.status();
    }
    if (!client.ok()) {
      if (last && errors.empty()) return client.status();
      fail(what + ": " + client.status().message());
      continue;
    }
    return ConnectedPull{std::move(*client), logical, src.remote, src.Describe()};
  }
  if (tries.empty() && errors.empty()) return Status::Invalid("no image name to pull");
  return Status::Unavailable("no registry served " + candidates.front().ToString() + ": " + errors);
}

Result<std::shared_ptr<const RegistriesConf>> RegistriesOf(const PullFromRegistryOptions& o) {
  if (o.registries) return o.registries;
  ASSIGN_OR_RETURN(RegistriesConf c, RegistriesConf::LoadDefault());
  return std::shared_ptr<const RegistriesConf>(std::make_shared<RegistriesConf>(std::move(c)));
}

Result<std::shared_ptr<const SignaturePolicy>> PolicyOf(const PullFromRegistryOptions& o) {
  if (o.policy) return o.policy;
  ASSIGN_OR_RETURN(SignaturePolicy p, SignaturePolicy::LoadDefault());
  return std::shared_ptr<const SignaturePolicy>(std::make_shared<SignaturePolicy>(std::move(p)));
}

Status CheckPullPolicy(const SignaturePolicy& policy, ConnectedPull& c) {
  PolicyScope scope = policy.ForDocker(c.logical);
  if (scope.AcceptsAnything()) return Status::Ok();
  PolicyImage image;
  image.name = DockerPolicyIdentity(c.logical);
  image.transport = "docker";
  image.reference = c.logical;
  bool signed_ = false;
  for (const auto& r : *scope.requirements) signed_ |= r.type == PolicyRequirement::Type::kSigstoreSigned;
  if (signed_) {
    ASSIGN_OR_RETURN(FetchedManifest m, c.client->GetManifest(c.remote.repository, c.remote.ManifestRef()));
    image.manifest_digest = m.digest;
    image.signatures = [&c, d = m.digest] {
      return sigstore::FetchSignatures(*c.client, c.remote.repository, d);
    };
  }
  RETURN_IF_ERROR(SignaturePolicy::Check(scope, image));
  if (signed_) c.remote.digest = image.manifest_digest;
  return Status::Ok();
}

Status CheckLocalPolicy(const SignaturePolicy& policy, const std::string& source) {
  const size_t colon = source.find(':');
  const std::string transport = source.substr(0, colon);
  std::string path = source.substr(colon + 1);
  if (transport != "docker-archive") path = path.substr(0, path.find(':'));
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real)) path = real;
  PolicyScope scope = policy.ForLocal(transport, path);
  if (scope.AcceptsAnything()) return Status::Ok();
  PolicyImage image;
  image.name = source;
  image.transport = transport;
  return SignaturePolicy::Check(scope, image);
}

Result<PullResult> PullFromRegistry(Store& store, const std::string& name, PullFromRegistryOptions& o) {
  ASSIGN_OR_RETURN(auto policy, PolicyOf(o));
  ConnectedPull c;
  if (o.client) {
    ASSIGN_OR_RETURN(c.logical, Reference::Parse(name));
    c.remote = c.logical;
    c.client = o.client;
    o.served_by.clear();
  } else {
    ASSIGN_OR_RETURN(auto conf, RegistriesOf(o));
    ASSIGN_OR_RETURN(auto candidates, conf->Resolve(name));
    ASSIGN_OR_RETURN(c, ConnectForPull(candidates, *conf, o.client_options, o.log));
    o.client = c.client;
    o.served_by = c.served_by;
    const bool moved = c.remote.registry != c.logical.registry || c.remote.repository != c.logical.repository;
    if (o.log && moved) o.log(c.logical.ToString() + ": served by " + c.served_by);
  }
  RETURN_IF_ERROR(CheckPullPolicy(*policy, c));
  const Reference& logical = c.logical;
  const Reference& remote = c.remote;
  WorkDir work;  // declared before the reader: removed after it is gone
  std::string scratch = o.scratch_dir;
  if (scratch.empty()) {
    ASSIGN_OR_RETURN(work, WorkDir::Create(store.root(), "pull-"));
    scratch = work.path();
  }
  ASSIGN_OR_RETURN(auto src, OpenRegistrySource(o.client, remote, scratch, o.parallel));
  auto pulled = store.PullFrom(*src, o.source.empty() ? "docker://" + logical.ToString() : o.source,
                               logical.LocalName(), o.pull);
  src.reset();  // joins its transfer threads first
  return pulled;
}

Result<PullResult> PullFromSource(Store& store, const std::string& source,
                                  PullFromRegistryOptions& o) {
  if (source.empty()) return Status::Invalid("no source recorded");
  for (const char* t : {"oci:", "oci-archive:", "docker-archive:"}) {
    if (source.rfind(t, 0) != 0) continue;
    ASSIGN_OR_RETURN(auto policy, PolicyOf(o));
    RETURN_IF_ERROR(CheckLocalPolicy(*policy, source));
    return store.Pull(source, o.pull);
  }
  if (!IsRegistryReference(source))
    return Status::Invalid("\"" + source + "\" is not a source to pull from");
  return PullFromRegistry(store, source, o);
}

Result<PullResult> PullAgainFromRecordedSource(Store& store, const std::string& recorded,
                                               PullFromRegistryOptions& o) {
  if (recorded.rfind("docker://", 0) != 0 && IsRegistryReference(recorded))
    return Status::Invalid("\"" + recorded + "\" was built or committed here: no source to pull from");
  return PullFromSource(store, recorded, o);
}

Result<ConnectedPull> ConnectForRead(const std::vector<Reference>& candidates, const RegistriesConf& conf,
                                     const ClientOptions& o,
                                     const std::function<void(const std::string&)>& log) {
  ASSIGN_OR_RETURN(ConnectedPull conn, ConnectForPull(candidates, conf, o, log));
  ASSIGN_OR_RETURN(auto policy, PolicyOf(PullFromRegistryOptions()));
  RETURN_IF_ERROR(CheckPullPolicy(*policy, conn));
  return conn;
}

}  // namespace cfs::registry
