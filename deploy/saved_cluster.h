// The clusters deployed from here: cimg keeps each one's applied Clusterfile
// at <clusters_dir>/<name>/Clusterfile (mode 0600: it may hold passwords),
// so that delete, scale-up and scale-down need only the cluster's name, and
// a re-deploy that leaves out hosts is noticed. Also how scale-up and
// scale-down change a cluster's Clusterfile.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/clusterfile.h"

namespace cfs::deploy {

// <clusters_dir>/<name>/Clusterfile.
std::string SavedClusterfile(const std::string& clusters_dir, const std::string& name);

// Saves cf as the applied Clusterfile of cluster cf.name (atomically).
Status SaveCluster(const std::string& clusters_dir, const Clusterfile& cf);

// The saved Clusterfile of cluster `name`; NotFound when none was deployed
// from here.
Result<Clusterfile> LoadSavedCluster(const std::string& clusters_dir, const std::string& name);

// A Clusterfile cimg saved (the saved one, Clusterfile.previous): one
// without kRegistryDefaultsAnnotation was saved by a cimg before sealer's
// registry defaults and reads with the old ones (UseLegacyRegistryDefaults).
Result<Clusterfile> LoadSavedClusterfile(const std::string& path);

// A Clusterfile given for cluster cf->name (a re-deploy, an upgrade, a
// delete): when the cluster was deployed with the old registry defaults
// (plain HTTP, master0 only), cf's registry keeps them where it leaves
// insecure / ha out, so a re-deploy does not switch the cluster to TLS.
Status KeepDeployedRegistryDefaults(const std::string& clusters_dir, Clusterfile* cf);

// An image as a cluster records it: the name it was given by, and what a
// re-tag of that name cannot change (its image ID and manifest digest).
struct ImageRecord {
  std::string name;      // as given (e.g. "test/cluster:1")
  std::string id;        // image ID (config digest), "sha256:..."
  std::string manifest;  // manifest digest, "sha256:..." (what the store resolves)
  bool empty() const { return id.empty(); }
};

// How the last deploy, scale-up, upgrade or rollback of a saved cluster went,
// kept next to its Clusterfile (<clusters_dir>/<name>/state, JSON) for
// `cimg clusters`, `cimg upgrade` and `cimg rollback` (deploy/image_history.h).
//
// The file: {"state", "image", "detail", "updated"} (every version), and
// "image_id", "manifest", "previous": {"name", "id", "manifest"},
// "operation" (cimg upgrade/rollback); a file without them reads as empty.
struct ClusterState {
  // "deploying" (or one that died mid-way), "deployed", "failed",
  // "upgrading", "upgraded", "rolling-back", "rolled-back"
  std::string state;
  std::string image;   // the image of that deploy (its name)
  std::string detail;  // why it failed (one line); else empty
  int64_t updated = 0; // unix seconds of the change
  std::string image_id{}, manifest{};  // that image's ID and manifest digest
  ImageRecord previous{};  // the image the last upgrade left (rollback's target)
  std::string operation{}; // the last upgrade or rollback: "upgrade-N" / "rollback-N"
};
Status SaveClusterState(const std::string& clusters_dir, const std::string& name,
                        const ClusterState& st);
// NotFound for a cluster saved before states were kept.
Result<ClusterState> LoadClusterState(const std::string& clusters_dir, const std::string& name);

// <clusters_dir>/<name>/Clusterfile.previous: the Clusterfile the cluster
// had before its last upgrade (what a rollback deploys again).
std::string PreviousClusterfile(const std::string& clusters_dir, const std::string& name);
// Copies the saved Clusterfile of `name` to PreviousClusterfile (atomically).
Status KeepPreviousClusterfile(const std::string& clusters_dir, const std::string& name);

// The names of the clusters saved in clusters_dir, sorted (none when the
// directory does not exist).
Result<std::vector<std::string>> ListSavedClusters(const std::string& clusters_dir);

// Removes the saved Clusterfile of cluster `name`, its registry CA
// (registry-tls/) and its directory.
void ForgetCluster(const std::string& clusters_dir, const std::string& name);

// The hosts of the saved cluster cf.name that cf leaves out (none when the
// cluster was not deployed from here); *saved receives the saved Clusterfile.
Result<std::vector<std::string>> DroppedHosts(const std::string& clusters_dir,
                                              const Clusterfile& cf, Clusterfile* saved);

// cf with `groups` added (each host new to the cluster and given once),
// checked as a Clusterfile is.
Result<Clusterfile> WithHostsAdded(const Clusterfile& cf, const std::vector<HostGroup>& groups);

// cf without the hosts `ips` (each in the cluster, none master0; groups left
// empty are dropped).
Result<Clusterfile> WithHostsRemoved(const Clusterfile& cf, const std::vector<std::string>& ips);

}  // namespace cfs::deploy
