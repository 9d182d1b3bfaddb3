// The images a deploy sends, grouped by platform: one part for a
// single-platform image (every host), one per platform in use for a
// multi-platform image (deploy/host_platform.h), each with the hosts that
// run it. Each part's rootfs travels as its own stream (rootfs_sync.h), so
// hosts of one platform share a stream and fan-out relays stay within it.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/cluster_image.h"
#include "deploy/host_runner.h"
#include "store/image_stack.h"
#include "store/store.h"

namespace cfs::deploy {

struct PlatformPart {
  std::string platform;       // the list's platform; "" for a single-platform image
  ClusterImage img;           // the image (a list's child) these hosts run
  ImageStack image;           // its layers, leased
  std::vector<size_t> hosts;  // indexes into run.cluster().Hosts()
};

// The parts for deploying `image` (a name in store) to every host of the
// cluster. A list's hosts are reached first, read-only, to read their
// `uname -m`; a host no image of the list fits refuses the deploy (naming
// host, machine and the list's platforms) before any host is changed.
Result<std::vector<PlatformPart>> PlanPlatforms(HostRunner& run, Store& store,
                                                const std::string& image);

// The part that host index i is in.
const PlatformPart& PartOf(const std::vector<PlatformPart>& parts, size_t i);

}  // namespace cfs::deploy
