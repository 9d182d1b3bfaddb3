// cimg exec: one shell command on the hosts of a deployed cluster, in
// parallel (sealer's `exec`), with each host's output and exit status.
//
// The command runs as deploy's steps do (deploy.h): as root, in the
// cluster's rootfs on the host (or / when it holds none), with the host's
// environment exported (Clusterfile env < host env, CIMG_* variables) and
// rootfs/bin first on PATH. It is shell text typed by the operator, passed
// quoted to deploy/host/exec.sh, which evals it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/clusterfile.h"
#include "deploy/deploy.h"

namespace cfs::deploy {

// Which hosts: those with one of `roles` ("master", "node") and, when `ips`
// is given, only those. Both empty: every host.
struct ExecTargets {
  std::vector<std::string> roles;
  std::vector<std::string> ips;
};

struct HostExec {
  std::string ip;
  std::string role;    // "master" or "node"
  Status status;       // not Ok: the host was not reached, or the connection was lost
  int exit_code = -1;  // when status is Ok; -1 when killed by a signal
  std::string signal;  // the signal's name then
  std::string out, err;
};

// The hosts of cf that `t` selects, in cluster order (master0 first).
// Invalid for a role other than master/node, an IP not in the cluster, or a
// selection with no host.
Result<std::vector<Clusterfile::Host>> SelectHosts(const Clusterfile& cf, const ExecTargets& t);

// Runs `command` on the selected hosts, o.parallel at once; `done` (called
// from several threads, one at a time) receives each host's result as it
// ends. Returns every host's result in cluster order; an error only when the
// selection is.
Result<std::vector<HostExec>> ExecOnHosts(const Clusterfile& cf, const std::string& command,
                                          const ExecTargets& t, const DeployOptions& o,
                                          const std::function<void(const HostExec&)>& done);

}  // namespace cfs::deploy
