// Deploy: a cluster image onto hosts over SSH, and its lifecycle.
//
//   Deploy(store, clusterfile):
//     0. render every host's templates (Go text/template, rootfs_transfer.h)
//        before any host is reached: a template error fails the deploy
//        with every host as it was;
//     1. connect to every host (in parallel, at most `parallel` at once),
//        check host keys, authenticate, check sudo;
//     2. send each host what it lacks of the image's merged rootfs (read from
//        the store, the Clusterfile's Config documents applied, templates
//        rendered for the host, its kubeadm documents merged into
//        etc/kubeadm.yml) to
//        /var/lib/cimg/<cluster>/rootfs — registry/ only to masters — as one
//        compressed tar stream, after deleting what is gone (rootfs.h); a
//        host that fails its transfer is dropped from a shared stream, the
//        others finish and keep their records, then Deploy fails naming it;
//     3. SHELL plugins "pre-init-host"; scripts/init.sh on every host (run
//        from rootfs/scripts); "post-init-host";
//     4. the built-in registry on master0 (every master with
//        localRegistry.ha: true, registry_hosts.h) from rootfs/registry
//        (scripts/init-registry.sh PORT DIR DOMAIN when the image has one,
//        else bin/registry or the host's docker-registry), port $REGISTRY_PORT
//        (default 5000; spec.registry.localRegistry's port), its domain in
//        every host's /etc/hosts (registry_spec.h); with insecure: false or
//        credentials, first its certificate/key/htpasswd where it runs and
//        the cluster's CA, credentials and hosts.toml on every host (registry_trust.h, from
//        the CA kept in DeployOptions::cluster_dir, registry_tls.h);
//     5. "pre-install"; when the image carries bin/kubeadm: `kubeadm init
//        --config etc/kubeadm.yml --upload-certs` on master0, then `kubeadm
//        join` (the command `kubeadm token create --print-join-command`
//        prints, or when that fails the worker join command `kubeadm init`
//        printed, kept in /var/lib/cimg/<cluster>/kubeadm-join on master0;
//        masters add --control-plane --certificate-key from
//        `kubeadm init phase upload-certs --upload-certs`) on the other
//        masters one by one and on the nodes in parallel; then the hosts'
//        labels and taints with kubectl on master0 (node_labels.h);
//     6. the image's CMDs on master0 in order (spec.cmd replaces them), then
//        its CMDS list, then its LAUNCH apps; "post-install".
//   Each step that succeeds is recorded on its host (/var/lib/cimg/<cluster>/
//   steps/<step>, holding the image ID for per-image steps), so a re-run
//   skips what is done: after a failure it resumes, after success it is a
//   no-op. Bring-up steps (kubeadm init/join) run once per cluster; init.sh,
//   CMDs and plugins run again when the image changes.
//
//   Upgrade(store, clusterfile, op): cf.image is the new image; in the order
//   of sealer's upgrade (cmd/sealer/cmd/cluster/upgrade.go and
//   pkg/cluster-runtime/upgrader.go):
//     0.-2. as Deploy: templates rendered, every host reached and its
//        platform checked, then each host sent what it lacks of the new
//        rootfs (only what changed: the host records);
//     3. the "upgrade-host" hooks on every host of their scope: SHELL plugins
//        of the image (its plugins/*.yaml, read from master0's new rootfs,
//        deploy/image_plugins.h) and of the Clusterfile, by name;
//     4. the built-in registry on master0, as Deploy's step 4;
//     5. when the image carries bin/kubeadm: `kubeadm upgrade apply VERSION
//        -y` on master0, `kubeadm upgrade node` on the other masters, then
//        the nodes, one by one (kubeadm.h, as sealer's kubeadm runtime);
//     6. the "upgrade" hooks on master0 (sealer's cluster hooks: any scope);
//     7. the image's CMDs and apps on master0, as Deploy's step 6.
//   No init.sh, no kubeadm init/join, no install phases (sealer runs none).
//   Steps 3, 5, 6 are recorded with `op` (deploy/image_history.h): a re-run
//   with the same op skips what is done.
//
//   Rollback(store, clusterfile, op): cf is the Clusterfile before the
//   upgrade, its image the previous one (pinned by image ID), in the
//   order of sealer's rollback (pkg/cluster-runtime/rollback.go):
//     0.-1. as Deploy (the previous image's templates rendered first);
//     2. the "rollback" hooks on master0: the image being left (master0's
//        rootfs plugins/) and the Clusterfile's, by name; then recorded as
//        step rollback-hooks (a re-run after the rootfs changed skips them);
//     3. each host sent what it lacks of the previous rootfs, and what the
//        new image added removed: the rootfs is then the previous image's,
//        byte for byte;
//     4. the built-in registry (sealer reconciles it before the hooks; ours
//        is served from the rootfs, so it is started once that is back);
//     5. the previous image's CMDs and apps on master0.
//
//   PlanDeploy (deploy_plan.h, `cimg deploy --dry-run`) walks the same phases
//   with nothing run and nothing written: what each host lacks, the steps
//   pending and done, the streams and their relay trees.
//
//   Delete(clusterfile): on every host "pre-clean-host", `kubeadm reset -f`
//   (when the image carries kubeadm), scripts/clean.sh, stops the registry,
//   "post-clean-host", removes /var/lib/cimg/<cluster>.
//
// Scripts and commands run as root with the host's environment exported:
// image ENV (a key that is not a shell name is refused) < Clusterfile env < host env, plus CIMG_CLUSTER, CIMG_ROOTFS,
// CIMG_MASTER0, CIMG_HOST_IP, CIMG_ROLE, and rootfs/bin first on PATH. A failing host is named with its
// command's exit status and the tail of its output.
// What runs on the hosts is deploy/host/*.sh (embedded in the binary), each
// value a quoted positional argument.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "deploy/clusterfile.h"
#include "base/status.h"
#include "store/read_profile.h"
#include "store/store.h"

namespace cfs::deploy {

// Chosen with bench/fanout.sh (README, Deploying).
inline constexpr int kDefaultFanout = 1;

struct DeployOptions {
  std::string known_hosts;          // Default: ~/.ssh/known_hosts
  bool insecure_host_keys = false;  // skip host key checks (not recommended)
  int parallel = 8;                 // hosts worked on at once
  bool resend = false;              // ignore host records: send the whole rootfs
  // Hosts that get the same rootfs stream (16 MiB of data or more) relay it
  // to each other, each to at most `fanout` others (deploy/fanout.h); 0:
  // every host gets it from here.
  int fanout = kDefaultFanout;
  int connect_timeout_ms = 10000;
  // The deploy host's directory of the cluster (<store root>/clusters/<name>),
  // where the built-in registry's CA is kept (registry_tls.h). Default: none,
  // which refuses localRegistry.insecure: false.
  std::string cluster_dir;
  // Progress and host output, one line per call: "IP> line" is output of a
  // step that succeeded, "IP| line" of one that failed, "error: ..." another
  // failing host (may be called from several
  // threads; the callee serialises). Default: none.
  std::function<void(const std::string&)> log;
  // Progress of the rootfs transfer: phase "rootfs", bytes of file data
  // streamed (a stream shared by several hosts counts once). Default: none.
  ProgressFn progress;
  // Called once every host is reached and before anything changes on them
  // (cimg saves the applied Clusterfile then). Default: none.
  std::function<void()> on_connected;
  // When set, receives the files of its rootfs master0 read while the steps
  // ran, in the order first read (deploy/profile_record.h). Default: none.
  ReadProfile* record_profile = nullptr;
};

struct HostReport {
  std::string ip;
  uint64_t files_sent = 0, files_removed = 0, files_total = 0;
  uint64_t data_bytes = 0;   // uncompressed file bytes sent
  uint64_t wire_bytes = 0;   // SSH bytes sent to the host (all steps)
};

struct DeployReport {
  std::vector<HostReport> hosts;
};

// REQUIRES: cf.image names an image in `store`.
Result<DeployReport> Deploy(Store& store, const Clusterfile& cf, const DeployOptions& o);

// Upgrade and Rollback (above); `op`: the value their steps are recorded
// with (deploy/image_history.h, OperationStepValue).
// REQUIRES: cf.image names an image in `store`.
Result<DeployReport> Upgrade(Store& store, const Clusterfile& cf, const std::string& op,
                             const DeployOptions& o);
Result<DeployReport> Rollback(Store& store, const Clusterfile& cf, const std::string& op,
                              const DeployOptions& o);

// Cleans `ips` (all hosts of cf when empty) of the cluster.
Status Delete(const Clusterfile& cf, const std::vector<std::string>& ips, const DeployOptions& o);

// After hosts are removed from a cluster (cf: the cluster without them) with
// localRegistry.ha: true: the containerd hosts.toml of every remaining host
// lists the remaining masters' registries only (deploy/registry_hosts.h).
// Ok without ha.
Status RefreshRegistryMirrors(const Clusterfile& cf, const DeployOptions& o);

// Before a (re-)deploy of cf: the hosts of the cluster saved under
// clusters_dir (deploy/saved_cluster.h) that cf leaves out are refused
// (Invalid, naming them and how to remove them), or with `prune` cleaned
// (Delete) first -- master0 never. Ok when there are none.
// CheckDroppedHosts' checks alone: the hosts it would clean (none, or the
// same refusal); *saved receives the saved Clusterfile.
Result<std::vector<std::string>> HostsToPrune(const std::string& clusters_dir,
                                              const Clusterfile& cf, bool prune,
                                              Clusterfile* saved);

Status CheckDroppedHosts(const std::string& clusters_dir, const Clusterfile& cf, bool prune,
                         const DeployOptions& o);

}  // namespace cfs::deploy
