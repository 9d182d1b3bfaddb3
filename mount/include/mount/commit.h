// cimg commit: a new image made of a live mount's image and the changes in
// its upper dir (one more layer).
#pragma once

#include <string>

#include "base/status.h"
#include "mount/mount_state.h"
#include "store/store.h"

namespace cfs::mount {

struct CommitResult {
  ImageDetails image;  // the image stored
  LayerSummary layer;  // the layer the upper dir became
};

// The record of the clusterfs mount at mnt (as the user gave it), checked
// to be what a commit needs: a writable mount of one stored image. Refuses,
// naming the reason: a path that is no clusterfs mount, a read-only mount, a
// mount of anything else.
Result<MountState> CommittableMount(const std::string& mnt);

// Commits mount m (from CommittableMount), served from store, as image
// `name`: the mount's image plus its upper dir as a new layer, with a history
// entry "cimg commit MNT" and comment `message` when not empty. Invalid when
// m is a mount of another store.
Result<CommitResult> CommitMount(Store& store, const MountState& m, const std::string& name,
                                 const std::string& message, const ProgressFn& progress);

}  // namespace cfs::mount
