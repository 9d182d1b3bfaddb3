// What deploy reads of a cluster image's config: its ID, its Env and the
// commands cimg build recorded in its labels (builder/builder.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace cfs::deploy {

struct ClusterImage {
  std::string id;                          // config digest
  std::map<std::string, std::string> env;  // config Env
  std::vector<std::string> cmds;           // label io.cimg.cmds
  std::vector<std::string> cmds_launch;    // label io.cimg.cmds-launch
  std::vector<std::string> launch;         // label io.cimg.launch
  Platform platform;                       // config os/architecture/variant
};

// Ok when a host whose `uname -m` is `machine` runs img: its platform
// matches (an image whose config names no architecture runs anywhere).
// Otherwise Invalid naming the host, its machine and the image's platform.
Status CheckHostPlatform(const ClusterImage& img, const std::string& image_name,
                         const std::string& host, const std::string& machine);

// The image's config; `name` names it in errors. Env keys become `export
// KEY=...` on the hosts, so a key that is not a shell name is refused (an
// image from anywhere must not run commands by its config).
Result<ClusterImage> ReadClusterImage(const ImageDetails& d, const std::string& name);

}  // namespace cfs::deploy
