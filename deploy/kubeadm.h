// Cluster bring-up with the image's kubeadm (deploy.h, step 5): `kubeadm
// init` on master0, then `kubeadm join` on the other masters one by one
// (with --control-plane --certificate-key) and on the nodes in parallel.
// init and join are recorded steps: they run once per cluster.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/host_runner.h"

namespace cfs::deploy {

// The worker `kubeadm join ...` command in kubeadm's output (`token create
// --print-join-command`, or `init`, which prints it over several lines
// joined by "\"), without --control-plane and --certificate-key; "" if there
// is none, or if it holds anything but the characters such a line has.
std::string ParseJoinCommand(const std::string& out);

// REQUIRES: all[0] is master0, every host connected; the image carries
// bin/kubeadm. `config`: the image has etc/kubeadm.yml (init --config it;
// else --apiserver-advertise-address master0).
Status BringUpCluster(HostRunner& run, const std::vector<HostCtx*>& all, bool config);

// The upgrade of Kubernetes with the new image's kubeadm, in sealer's order:
// master0 (`kubeadm upgrade apply VERSION -y`), then the other masters one
// by one, then the nodes one by one (`kubeadm upgrade node`), each with its
// kubelet restarted (host/kubeadm_upgrade.sh). Each host's upgrade is a
// step recorded with `value` (deploy/image_history.h's OperationStepValue).
// REQUIRES: all[0] is master0, every host connected; the image carries
// bin/kubeadm and etc/kubeadm.yml names kubernetesVersion.
Status UpgradeKubernetes(HostRunner& run, const std::vector<HostCtx*>& all, const std::string& value);

}  // namespace cfs::deploy
