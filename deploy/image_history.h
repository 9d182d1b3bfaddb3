// What `cimg upgrade` and `cimg rollback` record of a cluster's images, and
// what they may do given that record (deploy/saved_cluster.h's ClusterState).
// Pure functions of the record: the CLI reads it, plans, saves the planned
// state once every host is reached, and the Finished/Failed state at the end.
//
// The rules:
//  - an upgrade to an image other than the current one makes the current
//    one (name, image ID, manifest digest) the previous one, and the caller
//    keeps the current Clusterfile as Clusterfile.previous; an upgrade that
//    did not finish (upgrading, upgrade-failed) keeps the previous image it
//    recorded, whatever image the next attempt names;
//  - the same image again continues the last upgrade (its operation, so the
//    steps done are skipped on the hosts); after a deploy, a new operation;
//  - a rollback goes to the recorded previous image only, pinned by its
//    image ID (the config digest, which names every layer's content; a
//    re-tag of its name changes nothing, a save and load keeps it); when it
//    finishes, that image is the current one and none is previous; one that
//    did not finish is continued by the next `cimg rollback`;
//  - an upgrade is refused while a rollback is unfinished;
//  - a deploy of another image forgets the previous image (a deploy is not
//    an upgrade: rollback would not know what the Clusterfile was).
// Operations are numbered ("upgrade-3", "rollback-4"): the per-host steps
// of an upgrade or rollback are recorded with the operation, so a second
// upgrade to the same image after a rollback runs its hooks again.
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "deploy/saved_cluster.h"
#include "store/store.h"

namespace cfs::deploy {

struct UpgradePlan {
  ClusterState state;                      // to save once every host is reached
  bool keep_previous_clusterfile = false;  // save Clusterfile as Clusterfile.previous first
  bool continues = false;                  // the last upgrade's operation again
};

// `have`: the cluster's record (nullopt: none; its image_id must be known,
// the CLI fills it from the store for records of older cimg); `to`: the
// image to upgrade to. Invalid while a rollback is unfinished.
Result<UpgradePlan> PlanUpgrade(const std::string& cluster, const std::optional<ClusterState>& have,
                                const ImageRecord& to, int64_t now);

struct RollbackPlan {
  ClusterState state;  // to save once every host is reached ("rolling-back")
  ImageRecord target;  // the previous image
  bool continues = false;
};

// `asked`: the IMAGE given on the command line (empty: none); it must name
// the previous image (its name, or a prefix of its ID or manifest digest).
Result<RollbackPlan> PlanRollback(const std::string& cluster,
                                  const std::optional<ClusterState>& have, const std::string& asked,
                                  int64_t now);

// The record after the operation of `during` (an Upgrade or Rollback plan's
// state) succeeded, or failed with `detail`.
ClusterState Finished(ClusterState during, int64_t now);
ClusterState Failed(ClusterState during, const std::string& detail, int64_t now);

// The record a deploy or scale-up of `image` leaves (state "deploying",
// "deployed", "failed"): the previous image kept only while the image is
// the same.
ClusterState AfterDeploy(const std::optional<ClusterState>& have, const ImageRecord& image,
                         const std::string& state, const std::string& detail, int64_t now);

// The value per-host steps of an upgrade or rollback are recorded with.
std::string OperationStepValue(const ClusterState& during);

// `name` in the store as an ImageRecord.
Result<ImageRecord> ResolveImage(Store& store, const std::string& name);

// Ok when the store still holds `target` (by image ID), else
// NotFound naming it and how to get it back (cimg pull / cimg load).
Status CheckRollbackImage(Store& store, const std::string& cluster, const ImageRecord& target);

}  // namespace cfs::deploy
