// What deploy reads of a cluster image: its ID, its config's Env, the
// commands cimg build recorded in the config's labels (builder/builder.h),
// and sealer's image extension, the manifest annotation
// "sealer.image.extension" (transport/sealer_image.h) that sealer and cimg
// build write.
//
// Which commands run: an image with any of the io.cimg.* command labels
// (built by cimg) runs those; one without them (built by sealer) runs the
// extension's launch.cmds as its CMDs, and, only when it has none (sealer's
// rule: commands replace app launches), launches launch.app_names. A LAUNCH
// app the extension describes is launched as sealer does (deploy/app_launch.h);
// one it does not (images of earlier cimg) by deploy/host/launch.sh. What
// the Clusterfile changes of this is deploy/launch_plan.h.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"
#include "transport/sealer_image.h"

namespace cfs::deploy {

struct ClusterImage {
  std::string id;                          // config digest
  std::map<std::string, std::string> env;  // config Env
  std::vector<std::string> cmds;           // label io.cimg.cmds
  std::vector<std::string> cmds_launch;    // label io.cimg.cmds-launch
  std::vector<std::string> launch;         // label io.cimg.launch
  // The image runs commands of its own that, as in sealer, replace app
  // launches: a sealer-built image's launch.cmds, a cimg image's CMDS.
  bool commands_replace_apps = false;
  bool has_extension = false;              // the manifest has sealer.image.extension
  SealerImageExtension extension;
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
