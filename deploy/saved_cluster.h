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

// Removes the saved Clusterfile of cluster `name` (and its directory).
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
