// The phases of Deploy and Delete (deploy.h), in order; the work of each is
// in host_runner.h (steps on hosts), rootfs_sync.h (the rootfs) and
// kubeadm.h (cluster bring-up).
#include <signal.h>

#include <algorithm>
#include <mutex>

#include "deploy/app_launch.h"
#include "deploy/cluster_image.h"
#include "deploy/deploy.h"
#include "deploy/deploy_plan.h"
#include "deploy/host_runner.h"
#include "deploy/host_script.h"
#include "deploy/image_plugins.h"
#include "deploy/ip_range.h"
#include "deploy/kubeadm.h"
#include "deploy/launch_plan.h"
#include "deploy/node_labels.h"
#include "deploy/platform_parts.h"
#include "deploy/profile_record.h"
#include "deploy/registry_hosts.h"
#include "deploy/registry_san.h"
#include "deploy/registry_trust.h"
#include "deploy/rootfs_sync.h"
#include "deploy/saved_cluster.h"
#include "store/image_stack.h"

namespace cfs::deploy {

namespace {

bool PlanHas(const RootfsPlan& p, const std::string& path) {
  return std::any_of(p.entries.begin(), p.entries.end(),
                     [&](const RootfsEntry& e) { return e.path == path; });
}

// Files written on c from stdin (never a command line), not logged.
Status InstallHostFiles(HostRunner& run, HostCtx& c, const std::vector<HostFile>& files) {
  for (const HostFile& f : files) {
    char mode[8];
    snprintf(mode, sizeof mode, "%04o", f.mode);
    RETURN_IF_ERROR(run.Run(c, "install " + f.path,
                            HostCommand(host_scripts::kInstallFile, {f.path, mode}), f.content));
  }
  return Status::Ok();
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
    ASSIGN_OR_RETURN(std::vector<RootfsPlan> plans, PlanAll(store));
    RETURN_IF_ERROR(ConnectAll());
    RETURN_IF_ERROR(SyncAll(store, &plans));
    ReadProfile* profile = run_.options().record_profile;
    if (profile) RETURN_IF_ERROR(MarkProfileStart(run_, m0_));
    RETURN_IF_ERROR(RunSteps());
    if (!profile) return Status::Ok();
    ASSIGN_OR_RETURN(*profile, CollectProfile(run_, m0_));
    return Status::Ok();
  }

  // Upgrade (deploy.h): the new rootfs, "upgrade-host" hooks, the
  // registry, kubeadm upgrade, "upgrade" hooks on master0, the commands and
  // apps. Steps are recorded with `op`.
  Status RunUpgrade(Store& store, const std::string& op) {
    ASSIGN_OR_RETURN(std::vector<RootfsPlan> plans, PlanAll(store));
    RETURN_IF_ERROR(ConnectAll());
    RETURN_IF_ERROR(SyncAll(store, &plans));
    ASSIGN_OR_RETURN(std::vector<Plugin> plugins, ReadImagePlugins(run_, m0_));
    const auto& mine = run_.cluster().plugins;
    RETURN_IF_ERROR(run_.Hooks("upgrade-host", HooksOf("upgrade-host", plugins, mine), all_, op, false));
    RETURN_IF_ERROR(StartRegistry());
    if (PlanHas(plan0_, "bin/kubeadm")) RETURN_IF_ERROR(UpgradeKubernetes(run_, all_, op));
    RETURN_IF_ERROR(run_.Hooks("upgrade", HooksOf("upgrade", plugins, mine), {&m0_}, op, true));
    RETURN_IF_ERROR(RunCommands());
    return Launch();
  }

  // Rollback (deploy.h): "rollback" hooks of the image being left on
  // master0, then this (the previous) image's rootfs, the registry, the
  // commands and apps. Steps are recorded with `op`.
  Status RunRollback(Store& store, const std::string& op) {
    ASSIGN_OR_RETURN(std::vector<RootfsPlan> plans, PlanAll(store));
    RETURN_IF_ERROR(ConnectAll());
    // Once they ran, master0 holds another image: a re-run skips them.
    if (m0_.steps["rollback-hooks"] != op) {
      ASSIGN_OR_RETURN(std::vector<Plugin> plugins, ReadImagePlugins(run_, m0_));
      RETURN_IF_ERROR(run_.Hooks("rollback", HooksOf("rollback", plugins, run_.cluster().plugins),
                                 {&m0_}, op, true));
      RETURN_IF_ERROR(run_.Step(m0_, "rollback-hooks", op, "rollback hooks done", "true"));
    }
    RETURN_IF_ERROR(SyncAll(store, &plans));
    RETURN_IF_ERROR(StartRegistry());
    RETURN_IF_ERROR(RunCommands());
    return Launch();
  }

  // What Run would do (deploy_plan.h); run_ is planning: steps are listed,
  // not run.
  Result<DeployPlan> Plan(Store& store) {
    DeployPlan p;
    ASSIGN_OR_RETURN(std::vector<RootfsPlan> plans, PlanAll(store));
    RETURN_IF_ERROR(ConnectHosts());
    std::vector<Status> wrong = PlatformChecks();
    std::vector<RootfsHostPlan> rootfs(all_.size());
    for (const PlatformPart& part : parts_) {
      std::vector<RootfsPlan> part_plans;
      for (size_t i : part.hosts) part_plans.push_back(std::move(plans[i]));
      ASSIGN_OR_RETURN(std::vector<RootfsHostPlan> part_rootfs,
                       PlanSync(run_, store, part.image.stack, HostsOf(part), &part_plans,
                                &p.streams));
      for (size_t k = 0; k < part.hosts.size(); k++) {
        plans[part.hosts[k]] = std::move(part_plans[k]);
        rootfs[part.hosts[k]] = std::move(part_rootfs[k]);
      }
    }
    plan0_ = std::move(plans[0]);
    RETURN_IF_ERROR(RunSteps());
    for (size_t i = 0; i < all_.size(); i++) {
      HostCtx& c = *all_[i];
      p.hosts.push_back({c.host.ip, c.role(), c.machine, wrong[i].ok() ? "" : wrong[i].message(),
                         std::move(rootfs[i]), std::move(c.planned)});
    }
    for (const Status& st : wrong)
      if (!st.ok() && p.refusal.empty()) p.refusal = st.message();
    return p;
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
  // 0. Every host's plan (from the image of its platform), its templates
  //    rendered, before any host is reached: a template error leaves every
  //    host as it was.
  Result<std::vector<RootfsPlan>> PlanAll(Store& store) {
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
    return plans;
  }

  // 2. The rootfs, one stream per platform: hosts of one platform share it.
  Status SyncAll(Store& store, std::vector<RootfsPlan>* plans) {
    for (const PlatformPart& p : parts_) {
      std::vector<RootfsPlan> part_plans;
      for (size_t i : p.hosts) part_plans.push_back(std::move((*plans)[i]));
      RETURN_IF_ERROR(SyncRootfs(run_, store, p.image.stack, HostsOf(p), &part_plans));
      for (size_t k = 0; k < p.hosts.size(); k++) (*plans)[p.hosts[k]] = std::move(part_plans[k]);
    }
    plan0_ = std::move((*plans)[0]);
    return Status::Ok();
  }

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
    RETURN_IF_ERROR(ConnectHosts());
    // Every host runs its image's platform, or none is touched.
    std::vector<Status> wrong;
    for (const Status& st : PlatformChecks())
      if (!st.ok()) wrong.push_back(st);
    RETURN_IF_ERROR(run_.Combine(wrong));
    if (run_.options().on_connected) run_.options().on_connected();
    return Status::Ok();
  }

  // Host keys, authentication, sudo, and what each host holds (HostRunner::Connect).
  Status ConnectHosts() {
    run_.Log("connecting to " + std::to_string(all_.size()) + " hosts");
    return run_.ForEach(all_, [&](HostCtx& c) { return run_.Connect(c); });
  }

  // Whether each connected host runs the image's platform (one status a host).
  std::vector<Status> PlatformChecks() const {
    std::vector<Status> out;
    for (size_t i = 0; i < all_.size(); i++) {
      const PlatformPart& p = PartOf(parts_, i);
      std::string name = run_.cluster().image + (p.platform.empty() ? "" : " (" + p.platform + ")");
      out.push_back(CheckHostPlatform(p.img, name, all_[i]->host.ip, all_[i]->machine));
    }
    return out;
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

  Status InstallFiles(HostCtx& c, const std::vector<HostFile>& files) {
    return InstallHostFiles(run_, c, files);
  }

  // The hosts the registry runs on (registry_hosts.h), master0 first.
  std::vector<HostCtx*> RegistryHosts(const std::vector<std::string>& servers) const {
    std::vector<HostCtx*> out;
    for (const std::string& ip : servers)
      for (HostCtx* c : all_)
        if (c->host.ip == ip) out.push_back(c);
    return out;
  }

  // What a dry run lists for the files SecureRegistry installs on a host.
  static std::string TrustStepText(const RegistryEndpoint& reg, bool serving) {
    const bool creds = !reg.username.empty();
    std::string what = std::string("registry trust: ") +
                       (reg.tls ? (creds ? "the CA and credentials" : "the CA")
                                : (creds ? "the credentials" : "hosts.toml")) +
                       " for the runtime";
    if (serving && (reg.tls || creds))
      what += std::string("; the registry's ") +
              (reg.tls ? (creds ? "certificate, key and htpasswd" : "certificate and key") : "htpasswd");
    return what;
  }

  // 4a. With TLS or credentials (registry_trust.h): the certificate, key
  //     and htpasswd on the hosts the registry runs on, the CA, credentials
  //     and hosts.toml on every host, from the CA kept with the saved
  //     Clusterfile (registry_tls.h).
  Status SecureRegistry(const RegistryEndpoint& reg, const std::vector<std::string>& servers) {
    if (!reg.tls && reg.username.empty() && servers.size() < 2) return Status::Ok();
    const std::vector<HostCtx*> serving = RegistryHosts(servers);
    if (run_.planning()) {
      // A dry run makes no CA and writes no file: it lists what a deploy
      // installs (again, at every deploy).
      for (HostCtx* c : all_)
        c->planned.push_back({"", TrustStepText(reg, std::count(serving.begin(), serving.end(), c)),
                              PlannedStep::State::kAlways, ""});
      return Status::Ok();
    }
    RegistryTls tls;
    if (reg.tls) {
      const std::string& dir = run_.options().cluster_dir;
      if (dir.empty())
        return Status::Invalid("registry TLS: no directory to keep cluster " + run_.cluster().name +
                               "'s CA in (DeployOptions::cluster_dir)");
      ASSIGN_OR_RETURN(tls, EnsureRegistryTls(dir + "/registry-tls", run_.cluster().name,
                                              RegistryCertNames(reg, servers)));
    }
    ASSIGN_OR_RETURN(std::vector<HostFile> server,
                     RegistryServerFiles(reg, reg.tls ? &tls : nullptr, run_.Rootfs()));
    RETURN_IF_ERROR(run_.ForEach(serving, [&](HostCtx& c) { return InstallFiles(c, server); }));
    RETURN_IF_ERROR(run_.ForEach(all_, [&](HostCtx& c) {
      return InstallFiles(c, RuntimeTrustFiles(reg, tls.ca_pem, RegistryMirrors(servers, c.host.ip)));
    }));
    run_.Log(std::string("registry ") + RegistryUrl(reg) + ":" +
             (reg.tls ? " TLS (the cluster's CA on every host)" : "") +
             (reg.username.empty() ? "" : " htpasswd (credentials on every host)") +
             (servers.size() < 2 ? "" : " on " + std::to_string(servers.size()) +
                                            " masters (hosts.toml lists each)"));
    return Status::Ok();
  }

  // A master whose /etc/hosts named itself (it ran a registry with ha:
  // true) that no longer runs one (ha turned off): its registry stopped.
  Status StopFormerRegistries(const RegistryEndpoint& reg, const std::vector<std::string>& servers) {
    std::vector<HostCtx*> former;
    for (HostCtx* c : all_)
      if (std::find(servers.begin(), servers.end(), c->host.ip) == servers.end() &&
          HostRunner::StepDone(*c, "registry-host-alias", reg.domain + "=" + c->host.ip))
        former.push_back(c);
    return run_.ForEach(former, [&](HostCtx& c) {
      return run_.Step(c, "", "", "stop the registry (ha: false)",
                       HostCommand(host_scripts::kStopRegistry, {run_.dir()}));
    });
  }

  // 4. The built-in registry on master0 (every master with ha: true), when
  //    the image has registry/ (not with only an external registry), and
  //    its domain in every host's /etc/hosts (registry_hosts.h).
  Status StartRegistry() {
    if (!PlanHas(plan0_, "registry")) return Status::Ok();
    auto reg = LocalRegistry(run_.cluster().registry, m0_.env);
    if (!reg) return Status::Ok();
    const std::vector<std::string> servers = RegistryServers(*reg, run_.cluster().Hosts());
    RETURN_IF_ERROR(SecureRegistry(*reg, servers));
    const std::string port = std::to_string(reg->port), R = run_.Rootfs();
    std::string cmd =
        PlanHas(plan0_, "scripts/init-registry.sh")
            ? HostCommand(host_scripts::kRunScript,
                          {R, "init-registry.sh", port, R + "/registry", reg->domain})
            : HostCommand(host_scripts::kStartRegistry, {run_.dir(), R, port, reg->domain});
    RETURN_IF_ERROR(run_.ForEach(RegistryHosts(servers), [&](HostCtx& c) {
      return run_.Step(c, "", "", "built-in registry", cmd);
    }));
    if (IsIpAddress(reg->domain)) return Status::Ok();
    RETURN_IF_ERROR(StopFormerRegistries(*reg, servers));
    return run_.ForEach(all_, [&](HostCtx& c) {
      const std::string ip = RegistryAliasIp(servers, c.host.ip);
      return run_.Step(c, "registry-host-alias", reg->domain + "=" + ip,
                       "/etc/hosts: " + reg->domain + " is " + ip,
                       HostCommand(host_scripts::kSetHostAlias, {ip, reg->domain}));
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
  auto reg = LocalRegistry(run.cluster().registry, c.env);
  if (reg && (reg->tls || !reg->username.empty() || reg->ha))
    RETURN_IF_ERROR(run.Step(c, "", "", "registry CA and credentials removed",
                             HostCommand(host_scripts::kRemovePaths, RuntimeTrustPaths(*reg))));
  if (!c.steps.count("registry-host-alias")) return Status::Ok();
  return run.Step(c, "", "", "/etc/hosts: registry domain removed",
                  HostCommand(host_scripts::kSetHostAlias, {"--remove"}));
}

}  // namespace

namespace {

// What Deploy, Upgrade, Rollback and PlanDeploy read of the image before any
// host is changed: the image each host runs (of a multi-platform image, the
// one for its `uname -m`: a host none fits refuses the deploy here) and
// what runs at the end (a bad app name touches no host). What master0 runs
// decides the commands and the image env.
struct DeploySetup {
  std::vector<PlatformPart> parts;
  LaunchPlan launch;
  const ClusterImage& img() const { return PartOf(parts, 0).img; }
};

Result<DeploySetup> SetUp(Store& store, const Clusterfile& cf, HostRunner& run) {
  DeploySetup s;
  ASSIGN_OR_RETURN(s.parts, PlanPlatforms(run, store, cf.image));
  ASSIGN_OR_RETURN(s.launch, PlanLaunch(s.img(), cf));
  for (const auto& note : s.launch.notes) run.Log(note);
  return s;
}

enum class Kind { kDeploy, kUpgrade, kRollback };

Result<DeployReport> RunLifecycle(Store& store, const Clusterfile& cf, const DeployOptions& o,
                                  Kind kind, const std::string& op) {
  signal(SIGPIPE, SIG_IGN);  // a host hanging up mid-stream is an error, not a kill
  HostRunner run(cf, o);
  ASSIGN_OR_RETURN(DeploySetup s, SetUp(store, cf, run));
  Hosts hosts(run, {}, s.img().env);
  Deployment d(run, s.parts, s.launch, hosts.all());
  switch (kind) {
    case Kind::kDeploy: RETURN_IF_ERROR(d.Run(store)); break;
    case Kind::kUpgrade: RETURN_IF_ERROR(d.RunUpgrade(store, op)); break;
    case Kind::kRollback: RETURN_IF_ERROR(d.RunRollback(store, op)); break;
  }
  return d.Report();
}

}  // namespace

Result<DeployReport> Deploy(Store& store, const Clusterfile& cf, const DeployOptions& o) {
  return RunLifecycle(store, cf, o, Kind::kDeploy, "");
}

Result<DeployReport> Upgrade(Store& store, const Clusterfile& cf, const std::string& op,
                             const DeployOptions& o) {
  return RunLifecycle(store, cf, o, Kind::kUpgrade, op);
}

Result<DeployReport> Rollback(Store& store, const Clusterfile& cf, const std::string& op,
                              const DeployOptions& o) {
  return RunLifecycle(store, cf, o, Kind::kRollback, op);
}

Result<DeployPlan> PlanDeploy(Store& store, const Clusterfile& cf, const DeployOptions& o) {
  signal(SIGPIPE, SIG_IGN);
  HostRunner run(cf, o);
  run.StartPlanning();
  ASSIGN_OR_RETURN(DeploySetup s, SetUp(store, cf, run));
  Hosts hosts(run, {}, s.img().env);
  Deployment d(run, s.parts, s.launch, hosts.all());
  ASSIGN_OR_RETURN(DeployPlan p, d.Plan(store));
  p.cluster = cf.name;
  p.image = cf.image;
  p.image_id = s.img().id;
  if (!s.img().platform.arch.empty()) {
    Platform pl = s.img().platform;
    if (pl.os.empty()) pl.os = "linux";
    p.platform = pl.ToString();
  }
  p.fanout = o.fanout;
  return p;
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

Status RefreshRegistryMirrors(const Clusterfile& cf, const DeployOptions& o) {
  auto reg = LocalRegistry(cf.registry, {});
  if (!reg || !reg->ha) return Status::Ok();
  signal(SIGPIPE, SIG_IGN);
  HostRunner run(cf, o);
  Hosts hosts(run, {}, {});
  const std::vector<std::string> servers = RegistryServers(*reg, cf.Hosts());
  Status s = run.ForEach(hosts.all(), [&](HostCtx& c) { return run.Connect(c); });
  if (s.ok()) s = run.ForEach(hosts.all(), [&](HostCtx& c) {
    // Only where a deploy set the registry up (its /etc/hosts step).
    if (!c.steps.count("registry-host-alias") && !IsIpAddress(reg->domain)) return Status::Ok();
    std::vector<HostFile> toml;
    if (auto f = RuntimeHostsToml(*reg, RegistryMirrors(servers, c.host.ip))) toml.push_back(std::move(*f));
    run.Log(c.host.ip + ": registry hosts.toml: " + std::to_string(servers.size()) + " masters");
    return InstallHostFiles(run, c, toml);
  });
  // A later deploy of the cluster (cimg deploy -f) rewrites it.
  return s.Prefix("registry hosts.toml not updated (a re-deploy of the cluster does it)");
}

Result<std::vector<std::string>> HostsToPrune(const std::string& clusters_dir,
                                              const Clusterfile& cf, bool prune,
                                              Clusterfile* saved) {
  ASSIGN_OR_RETURN(auto dropped, DroppedHosts(clusters_dir, cf, saved));
  if (dropped.empty()) return dropped;
  std::string list;
  for (const auto& ip : dropped) list += (list.empty() ? "" : ",") + ip;
  if (!prune)
    return Status::Invalid("cluster " + cf.name + " has host(s) " + list +
                           " that this deploy leaves out; remove them with `cimg scale-down " +
                           cf.name + " --nodes/--masters " + list +
                           "` first, or add --prune-hosts to do it now");
  if (dropped[0] == saved->Hosts()[0].ip)
    return Status::Invalid("host " + dropped[0] + " is master0 of cluster " + cf.name +
                           "; it cannot be removed (cimg delete " + cf.name +
                           " removes the cluster)");
  return dropped;
}

Status CheckDroppedHosts(const std::string& clusters_dir, const Clusterfile& cf, bool prune,
                         const DeployOptions& o) {
  Clusterfile saved;
  ASSIGN_OR_RETURN(auto dropped, HostsToPrune(clusters_dir, cf, prune, &saved));
  if (dropped.empty()) return Status::Ok();
  return Delete(saved, dropped, o);
}

}  // namespace cfs::deploy
