// A registry image looked at without pulling it (`cimg inspect docker://REF`,
// as `skopeo inspect`): its manifest (through an index, the one of the
// platform asked for) and its config, nothing else. The endpoint is chosen
// as a pull chooses it (ConnectForPull: registries.conf mirrors, rewrites,
// blocked names, short names).
#pragma once

#include <string>

#include "registry/client.h"
#include "registry/pull.h"
#include "registry/reference.h"
#include "transport/image_source.h"

namespace cfs::registry {

struct RemoteInspectOptions {
  ClientOptions client;
  // The registries.conf to follow. Default: RegistriesConf::LoadDefault().
  std::shared_ptr<const RegistriesConf> registries;
  Platform platform = Platform::Host();  // picks the manifest of an index
  // Only the manifest the reference names, as served (an index stays an
  // index): one request.
  bool raw = false;
  std::function<void(const std::string&)> log;  // endpoints that failed, a mirror that served
};

struct RemoteInspect {
  Reference logical;       // the name asked for, after short-name resolution
  std::string served_by;   // the endpoint that answered (PullSource::Describe)
  FetchedManifest served;  // raw: the manifest or index the reference names
  SourceImage image;       // not raw: the platform's manifest and config
  Client::Stats stats;     // what crossed the wire
};

// name: [docker://]REF. Errors as a pull's (NotFound for an unknown tag,
// Denied for a blocked name, the registry's words otherwise).
Result<RemoteInspect> InspectRegistryImage(const std::string& name, const RemoteInspectOptions& o);

}  // namespace cfs::registry
