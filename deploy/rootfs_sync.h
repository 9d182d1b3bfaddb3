// SyncRootfs: brings every host's /var/lib/cimg/<cluster>/rootfs to the
// image's merged rootfs over SSH (deploy.h, step 2), with the plans, host
// records, deltas and tar streams of rootfs_transfer.h.
//
//   1. per host: plan (templates rendered for it), read its record, compute
//      the delta, delete what is gone;
//   2. the entries from the store that several hosts need alike: one stream,
//      read and compressed once, for each group of such hosts (batches of at
//      most `parallel` hosts, waves of at most `parallel` hosts in all);
//   3. per host: its rendered files, then its new record.
// A host that fails its transfer is dropped from a shared stream (its old
// record stays: a re-run redoes what differs); the others finish and keep
// their records; then SyncRootfs fails naming the failed hosts.
#pragma once

#include <vector>

#include "base/status.h"
#include "deploy/host_runner.h"
#include "deploy/rootfs_transfer.h"
#include "layer/layer_stack.h"
#include "store/store.h"

namespace cfs::deploy {

// REQUIRES: every host of `all` connected (HostRunner::Connect).
// On success, plans[i] is what all[i] holds now; the hosts' reports
// (files and data bytes) are filled in.
// app_env: the apps whose *.tmpl files are rendered (rootfs_transfer.h).
Status SyncRootfs(HostRunner& run, Store& store, const LayerStack& stack,
                  const std::vector<HostCtx*>& all, std::vector<RootfsPlan>* plans,
                  const AppEnvs& app_env = {});

}  // namespace cfs::deploy
