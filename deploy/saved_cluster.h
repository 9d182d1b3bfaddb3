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

// How the last deploy (or scale-up) of a saved cluster went, kept next to
// its Clusterfile (<clusters_dir>/<name>/state, JSON) for `cimg clusters`.
struct ClusterState {
  std::string state;   // "deploying" (or one that died mid-way), "deployed", "failed"
  std::string image;   // the image of that deploy
  std::string detail;  // why it failed (one line); else empty
  int64_t updated = 0; // unix seconds of the change
};
Status SaveClusterState(const std::string& clusters_dir, const std::string& name,
                        const ClusterState& st);
// NotFound for a cluster saved before states were kept.
Result<ClusterState> LoadClusterState(const std::string& clusters_dir, const std::string& name);

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
