// HostRunner: the hosts of one cluster while deploy or delete works on them.
// Runs steps (embedded host scripts, deploy/host_script.h) on one host or on
// many in parallel, records the steps that succeeded on each host
// (/var/lib/cimg/<cluster>/steps/<step>) and skips a recorded one, runs the
// SHELL plugins of a phase, and turns a failed command into one error line
// naming the host.
//
// Thread-safety: ForEach runs its function on several threads, each on a
// different HostCtx; everything else a HostCtx holds is used by the thread
// working on that host only. Log may be called from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/clusterfile.h"
#include "deploy/deploy.h"
#include "deploy/deploy_plan.h"
#include "deploy/ssh_session.h"

namespace cfs::deploy {

// The lines of a command's output (no trailing empty line).
std::vector<std::string> OutputLines(const std::string& text);

// Where a cluster lives on its hosts: /var/lib/cimg/<cluster>.
std::string HostDir(const std::string& cluster);

// One host while it is worked on.
struct HostCtx {
  Clusterfile::Host host;
  std::string role() const { return host.master ? "master" : "node"; }
  std::unique_ptr<SshSession> ssh;
  std::map<std::string, std::string> env;    // rendering and lifecycle environment
  std::map<std::string, std::string> steps;  // recorded on the host: step → value
  bool zstd = false;        // the host has zstd (else the rootfs stream is gzip)
  bool has_dir = false;     // HostDir exists on the host
  bool has_record = false;  // the host holds a rootfs record
  bool fanout_left = false; // a fan-out transfer that ended badly left its keys (fanout.h)
  std::string machine;      // `uname -m` of the host
  // The ID of the image this host runs (of a multi-platform image: the
  // child for its platform); per-image steps record it.
  std::string image_id;
  HostReport report;
  std::vector<PlannedStep> planned;  // planning mode: the steps Step listed, in order
};

class HostRunner {
 public:
  HostRunner(const Clusterfile& cf, const DeployOptions& o);

  const Clusterfile& cluster() const { return cf_; }
  const DeployOptions& options() const { return o_; }
  const std::string& dir() const { return dir_; }  // HostDir(cluster)
  std::string Rootfs() const { return dir_ + "/rootfs"; }

  void Log(const std::string& line) const;

  // Planning mode (PlanDeploy, deploy_plan.h): Step lists each step in the
  // host's `planned` instead of running it (and counts a recorded one done,
  // in memory only); nothing else changes. Set before any host is worked on.
  void StartPlanning() { planning_ = true; }
  bool planning() const { return planning_; }

  // Whether c recorded `value` for step `id`: what Step skips.
  static bool StepDone(const HostCtx& c, const std::string& id, const std::string& value);

  // A host to work on, its environment: the built-ins (CIMG_*), then
  // `image_env`, then the Clusterfile's and the host's (Host::env).
  std::unique_ptr<HostCtx> NewHost(const Clusterfile::Host& h, const std::string& master0,
                                   const std::map<std::string, std::string>& image_env) const;

  // Runs fn on every host, `parallel` at once; every failure is logged, the
  // first is returned (with how many others failed).
  Status ForEach(const std::vector<HostCtx*>& hosts, const std::function<Status(HostCtx&)>& fn);

  // The first of several hosts' failures (the others logged), or Ok.
  Status Combine(const std::vector<Status>& errors) const;

  // Connects to c and reads its state (steps, record, dir, zstd, machine).
  Status Connect(HostCtx& c);

  // Runs `cmd` on c (with c's environment exported) as step `id` unless the
  // host recorded `value` for it; records it when it succeeds. An empty id
  // is a step that always runs and is never recorded. `input` goes to its
  // stdin; `out` (optional) receives its output. Planning: lists the step,
  // runs nothing, `out` is left empty.
  Status Step(HostCtx& c, const std::string& id, const std::string& value,
              const std::string& what, const std::string& cmd, const std::string& input = "",
              ExecResult* out = nullptr);

  // Runs `cmd` on c with c's environment exported, whatever its exit
  // status; an error only when the connection is lost.
  Result<ExecResult> Exec(HostCtx& c, const std::string& cmd);

  // Runs `cmd` on c without the environment and without logging its
  // output; a non-zero exit is an error "host IP: `what` failed".
  Status Run(HostCtx& c, const std::string& what, const std::string& cmd,
             const std::string& input = "", ExecResult* out = nullptr);

  // The SHELL plugins of `phase` on the hosts in their scope; recorded as
  // steps (with value the host's image_id) when `record`.
  Status Phase(const std::string& phase, const std::vector<HostCtx*>& hosts, bool record);

  // Runs `hooks` (plugins of `phase`) one after the other, each on the
  // hosts of its scope among `hosts` (all of them when `any_scope`: sealer's
  // cluster hooks, run on master0 whatever their scope); recorded as steps
  // "plugin-NAME-PHASE" with `value` (not recorded when empty).
  Status Hooks(const std::string& phase, const std::vector<Plugin>& hooks,
               const std::vector<HostCtx*>& hosts, const std::string& value, bool any_scope);

  // "host IP: what failed (exit status N): last line", the output's tail
  // logged as "IP| line".
  Status Fail(const HostCtx& c, const std::string& what, const ExecResult& r) const;
  // "host IP: what: connection lost (why)", the host named once.
  static Status Lost(const HostCtx& c, const std::string& what, const Status& s);

 private:
  SshOptions SshFor(const Clusterfile::Host& h) const;
  std::string Exports(const HostCtx& c) const;
  Status Mark(HostCtx& c, const std::string& id, const std::string& value);
  // Phase and Hooks: each hook on the hosts of its scope, recorded with
  // value_of(host) (not recorded when empty).
  Status RunHooks(const std::string& phase, const std::vector<Plugin>& hooks,
                  const std::vector<HostCtx*>& hosts, bool any_scope,
                  const std::function<std::string(const HostCtx&)>& value_of);
  void PlanStep(HostCtx& c, const std::string& id, const std::string& value,
                const std::string& what) const;

  const Clusterfile& cf_;
  const DeployOptions& o_;
  const std::string dir_;
  bool planning_ = false;
};

}  // namespace cfs::deploy
