// The SHELL plugins a cluster image carries in plugins/*.yaml and *.yml,
// which sealer runs at its upgrade and rollback phases together with the
// Clusterfile's (sealer: loadPluginsFromImage, LoadPluginsFromFile). They
// are read from the rootfs on master0 by host/read_plugins.sh, whose output
// is, for each file in name order:
//   "cimg-plugin-file SIZE NAME\n" followed by SIZE bytes (the file).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/clusterfile.h"
#include "deploy/host_runner.h"

namespace cfs::deploy {

// The Plugin documents of every file of a read_plugins.sh listing; errors
// name "plugins/NAME:LINE".
Result<std::vector<Plugin>> ParsePluginListing(const std::string& listing);

// The plugins of the image installed on m0 (HostRunner::Rootfs()).
Result<std::vector<Plugin>> ReadImagePlugins(HostRunner& run, HostCtx& m0);

// The hooks of `phase`: the image's plugins then the Clusterfile's, sorted
// by name as sealer runs them (stable: equal names keep that order).
std::vector<Plugin> HooksOf(const std::string& phase, const std::vector<Plugin>& image,
                            const std::vector<Plugin>& clusterfile);

}  // namespace cfs::deploy
