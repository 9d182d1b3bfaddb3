// PullFromRegistry: an image from a registry into the store -- the one way
// cimg pull, fsck --repair, deploy (an IMAGE the store lacks) and build
// (FROM) fetch a registry image -- and ConnectForPull, the endpoint choice
// through registries.conf that lazy mounts and image collection share, and
// CheckPullPolicy, policy.json's verdict on what they are about to read.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "registry/client.h"
#include "registry/policy.h"
#include "registry/reference.h"
#include "registry/registries_conf.h"
#include "store/store.h"

namespace cfs::registry {

// A registry image reachable for reading.
struct ConnectedPull {
  std::shared_ptr<Client> client;  // talks to the endpoint that answered
  Reference logical;  // the name asked for (after short-name resolution)
  Reference remote;   // the same image at that endpoint (mirror or rewrite)
  std::string served_by;  // PullSource::Describe() of the endpoint
};

// For each candidate (RegistriesConf::Resolve) in order, each of its pull
// sources in order (the mirrors registries.conf allows, then the primary
// location): the first endpoint that answers with the image's manifest.
// An insecure endpoint gets tls_verify off (o.tls_verify=false stays off for
// all). log (may be null) hears one line per endpoint that failed. The last
// endpoint is not probed (its errors come from the pull itself). When none
// answers: the errors of each, on one line; a blocked name: Denied by name.
Result<ConnectedPull> ConnectForPull(const std::vector<Reference>& candidates,
                                     const RegistriesConf& conf, const ClientOptions& o,
                                     const std::function<void(const std::string&)>& log = nullptr);

struct PullFromRegistryOptions {
  // The client to use, as is: no registries.conf (the caller chose the
  // endpoint). Default: one chosen by ConnectForPull, left here after the
  // pull (the caller may read its stats).
  std::shared_ptr<Client> client;
  ClientOptions client_options;
  // The registries.conf to follow. Default: RegistriesConf::LoadDefault().
  std::shared_ptr<const RegistriesConf> registries;
  // The policy.json to enforce. Default: SignaturePolicy::LoadDefault().
  std::shared_ptr<const SignaturePolicy> policy;
  // Where the image came from, after the pull: "mirror HOST" or the
  // registry's location (PullSource::Describe), "" with a given client.
  std::string served_by;
  // Hears the endpoints that failed, and which one served when that is not
  // the name's own registry and repository (a mirror, a rewrite). May be null.
  std::function<void(const std::string&)> log;
  // Layer blobs fetched at once.
  int parallel = 3;
  // Where the blobs wait until stored. Default: a work dir of the store
  // (gc leaves it alone while the pull lives), removed when the pull ends.
  std::string scratch_dir;
  // Recorded as where the image came from. Default: "docker://" + the name
  // pulled (after short-name resolution; never a mirror's).
  std::string source;
  // as_name: the local name, Default: the pulled name's LocalName();
  // platform, progress.
  PullOptions pull;
};

// Pulls the image a user named (name: [docker://]REF, short names resolved
// by registries.conf) through ConnectForPull, unless o.client is given (then
// name is parsed and read from o.client as is).
Result<PullResult> PullFromRegistry(Store& store, const std::string& name, PullFromRegistryOptions& o);

// A pull from any source cimg names: a registry reference
// ([docker://]REGISTRY/REPO[:TAG|@DIGEST], or a short name) through
// PullFromRegistry; oci:, oci-archive: and docker-archive: through
// Store::Pull with o.pull. Invalid for anything else (an empty source: "no
// source recorded").
Result<PullResult> PullFromSource(Store& store, const std::string& source,
                                  PullFromRegistryOptions& o);

// Pulls an image again from the source its store record names (fsck
// --repair): a pull records "docker://REF" or the local transport it read;
// a build or a commit records "build:..." / "commit:...", which no pull can
// reach: Invalid, as is an empty source ("no source recorded").
Result<PullResult> PullAgainFromRecordedSource(Store& store, const std::string& recorded,
                                               PullFromRegistryOptions& o);

// The configuration o names, else the default one.
Result<std::shared_ptr<const RegistriesConf>> RegistriesOf(const PullFromRegistryOptions& o);
// The policy o names, else the default one.
Result<std::shared_ptr<const SignaturePolicy>> PolicyOf(const PullFromRegistryOptions& o);

// policy.json for a registry image about to be read through c: the
// requirements that apply to c.logical (the name asked for, never a
// mirror's). When one is sigstoreSigned, the manifest c.remote names is
// fetched, its signatures (from the endpoint that serves it) are checked,
// and c.remote is pinned to that manifest's digest, so what was checked is
// what is read. Denied with one line naming the policy entry otherwise.
// Every registry read -- pull, build FROM and image collection, lazy
// mounts, deploy -- passes here.
Status CheckPullPolicy(const SignaturePolicy& policy, ConnectedPull& c);

// ConnectForPull, then CheckPullPolicy under the default policy.json: what
// reads an image without pulling it (lazy mounts, cimg ls/cat/cp/export)
// connects through this.
Result<ConnectedPull> ConnectForRead(const std::vector<Reference>& candidates, const RegistriesConf& conf,
                                     const ClientOptions& o,
                                     const std::function<void(const std::string&)>& log = nullptr);
// The same for a local source (oci:DIR, oci-archive:FILE, docker-archive:FILE):
// accept or reject only (no signatures are read from them).
Status CheckLocalPolicy(const SignaturePolicy& policy, const std::string& source);

}  // namespace cfs::registry
