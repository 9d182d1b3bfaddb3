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
};

// The image's config; `name` names it in errors. Env keys become `export
// KEY=...` on the hosts, so a key that is not a shell name is refused (an
// image from anywhere must not run commands by its config).
Result<ClusterImage> ReadClusterImage(const ImageDetails& d, const std::string& name);

}  // namespace cfs::deploy
