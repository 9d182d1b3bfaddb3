// Per-host platforms of a multi-platform cluster image (an image list,
// store/store.h ImageListDetails): each host gets the list's image for the
// platform its `uname -m` names (Platform::FromMachine), as podman run picks
// from a manifest list; hosts no image fits refuse the whole deploy.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"

namespace cfs::deploy {

// A host as deploy reached it: its address and what `uname -m` printed.
struct HostMachine {
  std::string ip;
  std::string machine;
};

// For each host, the index in `children` of the first image whose platform
// fits its machine (arm64 without a variant fits aarch64, arm/v7 armv7l).
// Invalid naming every host no image fits, with its machine, and the
// list's platforms, so the operator sees them all at once.
Result<std::vector<size_t>> ChooseHostImages(const std::vector<ImageListChild>& children,
                                             const std::vector<HostMachine>& hosts,
                                             const std::string& list_name);

}  // namespace cfs::deploy
