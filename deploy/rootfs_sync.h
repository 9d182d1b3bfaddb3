// PlanHosts and SyncRootfs: bring every host's /var/lib/cimg/<cluster>/rootfs
// to the image's merged rootfs over SSH (deploy.h, step 2), with the plans,
// host records, deltas and tar streams of rootfs_transfer.h.
//
//   0. PlanHosts, before any host is reached: every host's plan (its
//      templates rendered with its env), so a template that fails for one
//      host fails the deploy with no host touched;
//   1. per host: read its record, compute the delta, delete what is gone;
//   2. the entries from the store that several hosts need alike: one stream,
//      read and compressed once, for each group of such hosts (batches of at
//      most `parallel` hosts, waves of at most `parallel` hosts in all);
//   3. per host: its rendered files, then its new record.
// A host that fails its transfer is dropped from a shared stream (its old
// record stays: a re-run redoes what differs); the others finish and keep
// their records; then SyncRootfs fails naming the failed hosts.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "base/status.h"
#include "deploy/deploy_plan.h"
#include "deploy/host_runner.h"
#include "deploy/rootfs_transfer.h"
#include "layer/layer_stack.h"
#include "store/store.h"

namespace cfs::deploy {

// Every host's plan, plans[i] for all[i] (host env and role), made
// `parallel` at a time on local threads; talks to no host. `open` gives each
// thread its chunk source (the store's, in production). apps: the env of
// the apps whose *.tmpl files are rendered and the filters of the apps'
// files (deploy/launch_plan.h); its overrides are not used (the
// Clusterfile's Config documents are added here).
using OpenChunks = std::function<Result<std::unique_ptr<ChunkSource>>()>;
Result<std::vector<RootfsPlan>> PlanHosts(HostRunner& run, const LayerStack& stack,
                                          const OpenChunks& open,
                                          const std::vector<HostCtx*>& all,
                                          const PlanExtras& apps = {});

// What SyncRootfs would do, doing none of it (deploy_plan.h): each host's
// record and chunk lists read and its delta computed as SyncRootfs does
// (result[i] for all[i]), and the streams it would send (batches of hosts
// that need the same entries, relayed or not as with `--fanout`). Reads from
// the hosts only. REQUIRES as SyncRootfs; plans are left as they were.
Result<std::vector<RootfsHostPlan>> PlanSync(HostRunner& run, Store& store,
                                             const LayerStack& stack,
                                             const std::vector<HostCtx*>& all,
                                             std::vector<RootfsPlan>* plans,
                                             std::vector<StreamPlan>* streams);

// REQUIRES: every host of `all` connected (HostRunner::Connect); plans[i]
// all[i]'s plan from PlanHosts. On success, plans[i] is what all[i] holds
// now; the hosts' reports (files and data bytes) are filled in.
Status SyncRootfs(HostRunner& run, Store& store, const LayerStack& stack,
                  const std::vector<HostCtx*>& all, std::vector<RootfsPlan>* plans);

}  // namespace cfs::deploy
