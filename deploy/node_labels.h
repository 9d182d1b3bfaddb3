// The labels and taints of spec.hosts[] (sealer pkg/cluster-runtime
// installer.go setNodeLabels/setNodeTaints), set once the cluster is up, on
// master0 with the image's kubectl, on the node whose InternalIP is the
// host's IP:
// - labels are added to the node's (an existing key is overwritten);
// - taints in kubectl's syntax: "key=value:Effect", "key:Effect" and
//   "key=:Effect" add (Effect NoSchedule, PreferNoSchedule or NoExecute),
//   "key-" removes every taint with that key, "key:Effect-" that one taint.
//   As in sealer, the taints a host lists to add *replace* the node's taints
//   (a master's node-role taint goes unless listed); removals apply first.
// Recorded as step "node-labels-<ip>" on master0 with the digest of what was
// set, so a re-deploy sets them again only when they changed.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/host_runner.h"

namespace cfs::deploy {

struct Taint {
  std::string key, value, effect;  // effect "" only for a removal by key
  bool remove = false;
};

// One taint of spec.hosts[].taints; kInvalidArgument naming it otherwise.
Result<Taint> ParseTaint(const std::string& text);

// The JSON merge patch that sets a node's taints to `adds`.
std::string TaintsPatch(const std::vector<Taint>& adds);

// REQUIRES: the cluster is up (kubeadm init/join done), m0 is master0.
Status SetNodeLabels(HostRunner& run, HostCtx& m0, const std::vector<HostCtx*>& all);

}  // namespace cfs::deploy
