// The phases of Deploy and Delete (deploy.h), in order; the work of each is
// in host_runner.h (steps on hosts), rootfs_sync.h (the rootfs) and
// kubeadm.h (cluster bring-up).
#include <signal.h>

#include <algorithm>
#include <mutex>

#include "deploy/app_launch.h"
#include "deploy/cluster_image.h"
#include "deploy/deploy.h"
#include "deploy/host_runner.h"
#include "deploy/host_script.h"
#include "deploy/ip_range.h"
#include "deploy/kubeadm.h"
#include "deploy/launch_plan.h"
#include "deploy/node_labels.h"
#include "deploy/platform_parts.h"
#include "deploy/profile_record.h"
#include "deploy/rootfs_sync.h"
#include "deploy/saved_cluster.h"
#include "store/image_stack.h"

namespace cfs::deploy {

namespace {

bool PlanHas(const RootfsPlan& p, const std::string& path) {
  return std::any_of(p.entries.begin(), p.entries.end(),
                     [&](const RootfsEntry& e) { return e.path == path; });
}

// The hosts of cf (those of `ips` only, when not empty), master0 first.
class Hosts {
 public:
  Hosts(const HostRunner& run, const std::vector<std::string>& ips,
        const std::map<std::string, std::string>& image_env) {
    const auto hosts = run.cluster().Hosts();
    for (const auto& h : hosts) {
      if (!ips.empty() && std::find(ips.begin(), ips.end(), h.ip) == ips.end()) continue;
      owned_.push_back(run.NewHost(h, hosts[0].ip, image_env));
      all_.push_back(owned_.back().get());
    }
  }
  const std::vector<HostCtx*>& all() const { return all_; }

 private:
  std::vector<std::unique_ptr<HostCtx>> owned_;
  std::vector<HostCtx*> all_;
};

// The deploy of one image (or one image per platform) to the hosts, phase
// by phase (deploy.h). img: what master0 runs (its CMDs and launches).
class Deployment {
 public:
  Deployment(HostRunner& run, const std::vector<PlatformPart>& parts, const LaunchPlan& launch,
             const std::vector<HostCtx*>& all)
      : run_(run), parts_(parts), img_(PartOf(parts, 0).img), launch_(launch), all_(all),
        m0_(*all[0]) {
    for (size_t i = 0; i < all_.size(); i++) all_[i]->image_id = PartOf(parts_, i).img.id;
  }

  Status Run(Store& store) {
    // Every host's templates rendered before any host is reached: a
    // template error leaves every host as it was.
    PlanExtras apps;
    apps.app_env = launch_.template_env;
    apps.filters = launch_.files;
    std::vector<RootfsPlan> plans(all_.size());
    for (const PlatformPart& p : parts_) {
      ASSIGN_OR_RETURN(std::vector<RootfsPlan> part_plans,
                       PlanHosts(run_, p.image.stack, [&] { return store.OpenChunkSource(); },
                                 HostsOf(p), apps));
      for (size_t k = 0; k < p.hosts.size(); k++) plans[p.hosts[k]] = std::move(part_plans[k]);
    }
    RETURN_IF_ERROR(ConnectAll());
    // One stream per platform: hosts of one platform share it.
    for (const PlatformPart& p : parts_) {
      std::vector<RootfsPlan> part_plans;
      for (size_t i : p.hosts) part_plans.push_back(std::move(plans[i]));
      RETURN_IF_ERROR(SyncRootfs(run_, store, p.image.stack, HostsOf(p), &part_plans));
      for (size_t k = 0; k < p.hosts.size(); k++) plans[p.hosts[k]] = std::move(part_plans[k]);
    }
    plan0_ = std::move(plans[0]);
    ReadProfile* profile = run_.options().record_profile;
    if (profile) RETURN_IF_ERROR(MarkProfileStart(run_, m0_));
    RETURN_IF_ERROR(RunSteps());
    if (!profile) return Status::Ok();
    ASSIGN_OR_RETURN(*profile, CollectProfile(run_, m0_));
    return Status::Ok();
  }

  DeployReport Report() const {
    DeployReport rep;
    for (HostCtx* c : all_) {
      c->report.wire_bytes = c->ssh->bytes_sent();
      rep.hosts.push_back(c->report);
    }
    return rep;
  }

 private:
  // 3.-6. Every step after the rootfs is sent.
  Status RunSteps() {
    RETURN_IF_ERROR(InitHosts());
    RETURN_IF_ERROR(StartRegistry());
    RETURN_IF_ERROR(run_.Phase("pre-install", all_, true));
    if (PlanHas(plan0_, "bin/kubeadm")) {
      RETURN_IF_ERROR(BringUpCluster(run_, all_, PlanHas(plan0_, "etc/kubeadm.yml")));
      RETURN_IF_ERROR(SetNodeLabels(run_, m0_, all_));
    }
    RETURN_IF_ERROR(RunCommands());
    RETURN_IF_ERROR(Launch());
    return run_.Phase("post-install", all_, true);
  }

  std::vector<HostCtx*> HostsOf(const PlatformPart& p) const {
    std::vector<HostCtx*> out;
    for (size_t i : p.hosts) out.push_back(all_[i]);
    return out;
  }

  // 1. Every host reached (after every plan is made) before anything
  //    changes on one.
  Status ConnectAll() {
    run_.Log("connecting to " + std::to_string(all_.size()) + " hosts");
    RETURN_IF_ERROR(run_.ForEach(all_, [&](HostCtx& c) { return run_.Connect(c); }));
    // Every host runs its image's platform, or none is touched.
    std::vector<Status> wrong;
    for (size_t i = 0; i < all_.size(); i++) {
      const PlatformPart& p = PartOf(parts_, i);
      std::string name = run_.cluster().image + (p.platform.empty() ? "" : " (" + p.platform + ")");
      Status st = CheckHostPlatform(p.img, name, all_[i]->host.ip, all_[i]->machine);
      if (!st.ok()) wrong.push_back(st);
    }
    RETURN_IF_ERROR(run_.Combine(wrong));
    if (run_.options().on_connected) run_.options().on_connected();
    return Status::Ok();
  }

  // 3. scripts/init.sh on every host, between its plugin phases.
  Status InitHosts() {
    RETURN_IF_ERROR(run_.Phase("pre-init-host", all_, true));
    if (PlanHas(plan0_, "scripts/init.sh")) {
      RETURN_IF_ERROR(run_.ForEach(all_, [&](HostCtx& c) {
        return run_.Step(c, "init", c.image_id, "scripts/init.sh",
                         HostCommand(host_scripts::kRunScript, {run_.Rootfs(), "init.sh"}));
      }));
    }
    return run_.Phase("post-init-host", all_, true);
  }

  // 4. The built-in registry on master0, when the image has registry/ (not
  //    with only an external registry), and its domain in every host's
  //    /etc/hosts.
  Status StartRegistry() {
    if (!PlanHas(plan0_, "registry")) return Status::Ok();
    auto reg = LocalRegistry(run_.cluster().registry, m0_.env);
    if (!reg) return Status::Ok();
    const std::string port = std::to_string(reg->port), R = run_.Rootfs();
    std::string cmd =
        PlanHas(plan0_, "scripts/init-registry.sh")
            ? HostCommand(host_scripts::kRunScript,
                          {R, "init-registry.sh", port, R + "/registry", reg->domain})
            : HostCommand(host_scripts::kStartRegistry, {run_.dir(), R, port});
    RETURN_IF_ERROR(run_.Step(m0_, "", "", "built-in registry", cmd));
    if (IsIpAddress(reg->domain)) return Status::Ok();
    return run_.ForEach(all_, [&](HostCtx& c) {
      return run_.Step(c, "registry-host-alias", reg->domain + "=" + m0_.host.ip,
                       "/etc/hosts: " + reg->domain + " is " + m0_.host.ip,
                       HostCommand(host_scripts::kSetHostAlias, {m0_.host.ip, reg->domain}));
    });
  }

  // 6. The commands on master0: the image's CMDs and CMDS, or the
  //    Clusterfile's (deploy/launch_plan.h).
  Status RunCommands() {
    const std::vector<std::string>& cmds = launch_.cmds;
    for (size_t i = 0; i < cmds.size(); i++) {
      std::string id = "cmd-" + std::to_string(i);
      std::string value = img_.id + "/" + Digest::Of(cmds[i]).Short();
      RETURN_IF_ERROR(run_.Step(m0_, id, value, "CMD " + cmds[i],
                                HostCommand(host_scripts::kRunCommand, {run_.Rootfs(), cmds[i]})));
    }
    return Status::Ok();
  }

  // 6. The apps on master0, in order: as sealer launches them when the
  //    image's extension describes them (with the Application document's
  //    changes), else (images of earlier cimg) their *.sh and *.yaml files.
  Status Launch() {
    for (const PlannedApp& app : launch_.apps) {
      std::string cmd = HostCommand(host_scripts::kLaunch, {run_.Rootfs(), app.name});
      std::string value = img_.id;
      if (!app.legacy) {
        if (app.launch.command.empty()) continue;  // launch.cmds: []
        std::vector<std::string> args = {run_.Rootfs(), app.launch.command};
        std::string what = app.launch.command;
        for (const auto& [k, v] : app.launch.env) {
          args.push_back(k);
          args.push_back(v);
          what += "\n" + k + "=" + v;
        }
        cmd = HostCommand(host_scripts::kRunApp, args);
        // A launch the Clusterfile changed runs again when it changes.
        if (app.configured) value += "/" + Digest::Of(what).Short();
      }
      RETURN_IF_ERROR(run_.Step(m0_, "launch-" + app.name, value, "LAUNCH " + app.name, cmd));
    }
    return Status::Ok();
  }

  HostRunner& run_;
  const std::vector<PlatformPart>& parts_;
  const ClusterImage& img_;
  const LaunchPlan& launch_;
  const std::vector<HostCtx*>& all_;
  HostCtx& m0_;
  RootfsPlan plan0_;  // what master0 holds once the rootfs is sent
};

// Connects to every host; returns those reached, in cluster order, and sets
// *unreachable to the failure of the others (Ok when none failed).
std::vector<HostCtx*> ConnectReachable(HostRunner& run, const std::vector<HostCtx*>& all,
                                       Status* unreachable) {
  run.Log("connecting to " + std::to_string(all.size()) + " hosts");
  std::vector<HostCtx*> up;
  std::mutex mu;
  *unreachable = run.ForEach(all, [&](HostCtx& c) {
    Status s = run.Connect(c);
    if (s.ok()) {
      std::lock_guard<std::mutex> l(mu);
      up.push_back(&c);
    }
    return s;
  });
  std::sort(up.begin(), up.end(), [&](HostCtx* a, HostCtx* b) {
    return std::find(all.begin(), all.end(), a) < std::find(all.begin(), all.end(), b);
  });
  return up;
}

// Cleans one host: kubeadm reset, scripts/clean.sh, the registry stopped.
Status CleanHost(HostRunner& run, HostCtx& c) {
  if (!c.has_record && c.steps.empty() && !c.has_dir) {
    run.Log(c.host.ip + ": nothing of cluster " + run.cluster().name + " here");
    return Status::Ok();
  }
  const std::string R = run.Rootfs();
  RETURN_IF_ERROR(run.Step(c, "", "", "kubeadm reset",
                           HostCommand(host_scripts::kKubeadm, {"--if-present", R, "reset", "-f"})));
  RETURN_IF_ERROR(run.Step(c, "", "", "scripts/clean.sh",
                           HostCommand(host_scripts::kRunScript, {R, "clean.sh"})));
  RETURN_IF_ERROR(run.Step(c, "", "", "stop the registry",
                           HostCommand(host_scripts::kStopRegistry, {run.dir()})));
  if (!c.steps.count("registry-host-alias")) return Status::Ok();
  return run.Step(c, "", "", "/etc/hosts: registry domain removed",
                  HostCommand(host_scripts::kSetHostAlias, {"--remove"}));
}

}  // namespace

Result<DeployReport> Deploy(Store& store, const Clusterfile& cf, const DeployOptions& o) {
  signal(SIGPIPE, SIG_IGN);  // a host hanging up mid-stream is an error, not a kill
  HostRunner run(cf, o);
  // The image each host runs (of a multi-platform image: the one for its
  // `uname -m`); a host none fits refuses the deploy here.
  ASSIGN_OR_RETURN(std::vector<PlatformPart> parts, PlanPlatforms(run, store, cf.image));
  // What master0 runs decides the commands and the image env.
  const ClusterImage& img = PartOf(parts, 0).img;
  // What runs at the end, decided now: a bad app name touches no host.
  ASSIGN_OR_RETURN(LaunchPlan launch, PlanLaunch(img, cf));
  for (const auto& note : launch.notes) run.Log(note);
  Hosts hosts(run, {}, img.env);
  Deployment d(run, parts, launch, hosts.all());
  RETURN_IF_ERROR(d.Run(store));
  return d.Report();
}

Status Delete(const Clusterfile& cf, const std::vector<std::string>& ips, const DeployOptions& o) {
  signal(SIGPIPE, SIG_IGN);
  HostRunner run(cf, o);
  Hosts hosts(run, ips, {});
  // Hosts that cannot be reached are reported; the others are cleaned.
  Status unreachable;
  std::vector<HostCtx*> up = ConnectReachable(run, hosts.all(), &unreachable);
  RETURN_IF_ERROR(run.Phase("pre-clean-host", up, false));
  RETURN_IF_ERROR(run.ForEach(up, [&](HostCtx& c) { return CleanHost(run, c); }));
  RETURN_IF_ERROR(run.Phase("post-clean-host", up, false));
  RETURN_IF_ERROR(run.ForEach(up, [&](HostCtx& c) {
    return run.Step(c, "", "", "remove " + run.dir(),
                    HostCommand(host_scripts::kRemoveCluster, {run.dir()}));
  }));
  return unreachable;
}

Status CheckDroppedHosts(const std::string& clusters_dir, const Clusterfile& cf, bool prune,
                         const DeployOptions& o) {
  Clusterfile saved;
  ASSIGN_OR_RETURN(auto dropped, DroppedHosts(clusters_dir, cf, &saved));
  if (dropped.empty()) return Status::Ok();
  std::string list;
  for (const auto& ip : dropped) list += (list.empty() ? "" : ",") + ip;
  if (!prune)
    return Status::Invalid("cluster " + cf.name + " has host(s) " + list +
                           " that this deploy leaves out; remove them with `cimg scale-down " +
                           cf.name + " --nodes/--masters " + list +
                           "` first, or add --prune-hosts to do it now");
  if (dropped[0] == saved.Hosts()[0].ip)
    return Status::Invalid("host " + dropped[0] + " is master0 of cluster " + cf.name +
                           "; it cannot be removed (cimg delete " + cf.name +
                           " removes the cluster)");
  return Delete(saved, dropped, o);
}

}  // namespace cfs::deploy
