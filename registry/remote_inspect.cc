#include "registry/remote_inspect.h"

#include <cstdlib>

#include "registry/image_io.h"

namespace cfs::registry {

Result<RemoteInspect> InspectRegistryImage(const std::string& name, const RemoteInspectOptions& o) {
  PullFromRegistryOptions po;
  po.registries = o.registries;
  ASSIGN_OR_RETURN(auto conf, RegistriesOf(po));
  ASSIGN_OR_RETURN(auto candidates, conf->Resolve(name));
  ASSIGN_OR_RETURN(ConnectedPull c, ConnectForPull(candidates, *conf, o.client, o.log));
  RemoteInspect r;
  r.logical = c.logical;
  r.served_by = c.served_by;
  if (o.raw) {
    ASSIGN_OR_RETURN(r.served, c.client->GetManifest(c.remote.repository, c.remote.ManifestRef()));
  } else {
    const char* tmp = std::getenv("TMPDIR");
    ASSIGN_OR_RETURN(auto src, OpenRegistrySource(c.client, c.remote, tmp && *tmp ? tmp : "/tmp"));
    ASSIGN_OR_RETURN(r.image, src->Resolve(o.platform));
  }
  r.stats = c.client->stats();
  return r;
}

}  // namespace cfs::registry
