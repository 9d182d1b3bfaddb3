// cimg upgrade and cimg rollback: the cluster's record (deploy/saved_cluster.h,
// deploy/image_history.h) read and planned here, deploy/ does the work.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>

#include "deploy/clusterfile.h"
#include "deploy/deploy.h"
#include "deploy/image_history.h"
#include "deploy/saved_cluster.h"
#include "tools/cimg_cluster.h"
#include "tools/cimg_common.h"
#include "tools/deploy_format.h"

namespace cimg {

namespace {

namespace dp = cfs::deploy;

std::vector<std::string> Ips(const dp::Clusterfile& cf) {
  std::vector<std::string> ips;
  for (const auto& h : cf.Hosts()) ips.push_back(h.ip);
  std::sort(ips.begin(), ips.end());
  return ips;
}

// The cluster's record, with the current image's ID filled from the store
// for a record of an older cimg (or none); a note when it cannot be.
std::optional<dp::ClusterState> CurrentRecord(cfs::Store& store, const std::string& dir,
                                              const dp::Clusterfile& saved) {
  std::optional<dp::ClusterState> have;
  if (auto st = dp::LoadClusterState(dir, saved.name); st.ok()) have = *st;
  if (have && !have->image_id.empty()) return have;
  if (!have) have = dp::ClusterState{"deployed", saved.image, "", 0, "", "", {}, ""};
  if (have->image.empty()) have->image = saved.image;
  auto cur = dp::ResolveImage(store, have->image);
  if (cur.ok()) {
    have->image_id = cur->id;
    have->manifest = cur->manifest;
  } else {
    std::fprintf(stderr,
                 "cimg: warning: the cluster's image %s is not in the store: no previous image is "
                 "recorded (cimg rollback will not be possible)\n",
                 have->image.c_str());
  }
  return have;
}

void SaveState(const std::string& dir, const std::string& name, const dp::ClusterState& st) {
  // What `cimg clusters` shows; a failure to record it is not the upgrade's.
  cfs::Status s = dp::SaveClusterState(dir, name, st);
  if (!s.ok()) std::fprintf(stderr, "cimg: warning: cluster state: %s\n", s.message().c_str());
}

struct UpgradeFlags {
  std::string file, name, image, format;
  SshFlags ssh;
  RegistryFlags reg;
};

// The Clusterfile the upgrade applies: the saved one with IMAGE, or -f's
// (same cluster, same hosts, its spec.image the new image).
dp::Clusterfile UpgradeClusterfile(const UpgradeFlags& f, const dp::Clusterfile& saved) {
  if (f.file.empty()) {
    dp::Clusterfile cf = saved;
    cf.image = f.image;
    return cf;
  }
  dp::Clusterfile cf = Must(dp::LoadClusterfile(f.file));
  if (saved.registry.legacy_defaults && !cf.registry.defaults_recorded)
    dp::UseLegacyRegistryDefaults(&cf.registry);  // as deployed (deploy/registry_spec.h)
  if (Ips(cf) != Ips(saved))
    Fail(cfs::Status::Invalid(
        f.file + ": its hosts differ from cluster " + saved.name +
        "'s; an upgrade keeps the hosts (cimg scale-up / scale-down change them)"));
  return cf;
}

void RunUpgrade(const Global& g, const UpgradeFlags& f, bool quiet) {
  if (f.file.empty() == f.name.empty() || f.file.empty() == f.image.empty())
    Fail(cfs::Status::Invalid("give CLUSTER IMAGE, or -f Clusterfile with the new spec.image"));
  const auto fmt = Must(DeployFormat::Parse(f.format, DeployFormat::Kind::kReport));
  auto store = Must(OpenStore(g));
  const std::string dir = ClustersDir(*store);
  std::string name = f.name;
  if (!f.file.empty()) name = Must(dp::LoadClusterfile(f.file)).name;
  const dp::Clusterfile saved = Must(dp::LoadSavedCluster(dir, name));
  const dp::Clusterfile cf = UpgradeClusterfile(f, saved);
  EnsureImage(*store, cf.image, f.reg, quiet);
  const dp::ImageRecord to = Must(dp::ResolveImage(*store, cf.image));
  const dp::UpgradePlan plan =
      Must(dp::PlanUpgrade(name, CurrentRecord(*store, dir, saved), to, std::time(nullptr)));
  auto o = f.ssh.Options(quiet);
  o.progress = StderrProgress(quiet);
  o.cluster_dir = dir + "/" + name;  // the built-in registry's CA is kept there
  bool saved_state = false;
  o.on_connected = [&] {
    if (plan.keep_previous_clusterfile) Must(dp::KeepPreviousClusterfile(dir, name));
    Must(dp::SaveCluster(dir, cf));
    SaveState(dir, name, plan.state);
    saved_state = true;
  };
  auto t0 = std::chrono::steady_clock::now();
  auto r = dp::Upgrade(*store, cf, dp::OperationStepValue(plan.state), o);
  if (!r.ok() && !saved_state) Fail(r.status());  // no host changed
  if (!r.ok())
    SaveState(dir, name, dp::Failed(plan.state, r.status().message(), std::time(nullptr)));
  if (!r.ok())
    Fail(cfs::Status::Aborted(r.status().message() +
                              "; fix it and run cimg upgrade again (it resumes)"));
  SaveState(dir, name, dp::Finished(plan.state, std::time(nullptr)));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PrintReport(cf, *r, secs, fmt);
  if (!plan.state.previous.empty() && fmt.text())
    std::printf("previous image: %s (%s); cimg rollback %s returns to it\n",
                plan.state.previous.name.c_str(), plan.state.previous.id.c_str(), name.c_str());
}

void AddUpgrade(CLI::App& app, const Global& g, const bool& quiet) {
  auto* up =
      app.add_subcommand("upgrade", "Upgrade a deployed cluster to a new image (sealer upgrade)");
  static UpgradeFlags f;
  up->add_option("CLUSTER", f.name, "Name of a cluster deployed from here");
  up->add_option("IMAGE", f.image, "The new cluster image; pulled when it is a registry reference");
  up->add_option("-f,--clusterfile", f.file,
                 "Clusterfile of the cluster with the new spec.image (instead of CLUSTER IMAGE; "
                 "same hosts)");
  f.ssh.Add(up);
  f.ssh.AddFanout(up);
  f.reg.Add(up);
  up->add_option("--format", f.format,
                 "Report format: table (default), json, or a Go template run on each host (as "
                 "cimg deploy's: {{.IP}} {{.FilesSent}} {{.WireBytes}} ...)");
  up->footer(
      "Sends each host only what changed of the rootfs, runs the image's and the Clusterfile's\n"
      "upgrade-host hooks (every host), kubeadm upgrade (apply on master0, node elsewhere) when\n"
      "the image carries bin/kubeadm, the upgrade hooks (master0), then the image's CMDs and "
      "apps.\n"
      "The image left (name, image ID, manifest digest) and its Clusterfile are recorded for\n"
      "cimg rollback. A failed upgrade is resumed by running the same command again.\n\n"
      "Examples:\n"
      "  cimg upgrade my-cluster registry.example.com/k8s:v1.27.3\n"
      "  cimg upgrade -f Clusterfile     # its spec.image is the new image\n"
      "  cimg upgrade my-cluster demo/app:2 --format '{{.IP}} {{.FilesSent}} {{.DataBytes}}'\n\n" +
      std::string(kReportFormatHelp));
  up->callback([&g, &quiet] { RunUpgrade(g, f, quiet); });
}

struct RollbackFlags {
  std::string name, image, format;
  SshFlags ssh;
};

// The Clusterfile before the upgrade, with the cluster's hosts (and SSH
// settings) as they are now and the image pinned by image ID.
dp::Clusterfile RollbackClusterfile(const std::string& dir, const dp::Clusterfile& now,
                                    const dp::ImageRecord& target) {
  auto prev = dp::LoadSavedClusterfile(dp::PreviousClusterfile(dir, now.name));
  if (!prev.ok())
    Fail(cfs::Status::NotFound("cluster " + now.name +
                               ": the Clusterfile before its upgrade is missing (" +
                               prev.status().message() + "); nothing was changed"));
  dp::Clusterfile cf = *prev;
  cf.hosts = now.hosts;
  cf.ssh = now.ssh;
  cf.image = target.id;
  return cf;
}

void RunRollback(const Global& g, const RollbackFlags& f, bool quiet) {
  const auto fmt = Must(DeployFormat::Parse(f.format, DeployFormat::Kind::kReport));
  auto store = Must(OpenStore(g));
  const std::string dir = ClustersDir(*store);
  const dp::Clusterfile now = Must(dp::LoadSavedCluster(dir, f.name));
  std::optional<dp::ClusterState> have;
  if (auto st = dp::LoadClusterState(dir, f.name); st.ok()) have = *st;
  const dp::RollbackPlan plan = Must(dp::PlanRollback(f.name, have, f.image, std::time(nullptr)));
  Must(dp::CheckRollbackImage(*store, f.name, plan.target));
  dp::Clusterfile cf = RollbackClusterfile(dir, now, plan.target);
  auto o = f.ssh.Options(quiet);
  o.progress = StderrProgress(quiet);
  o.cluster_dir = dir + "/" + f.name;  // the built-in registry's CA is kept there
  bool saved_state = false;
  o.on_connected = [&] {
    SaveState(dir, f.name, plan.state);
    saved_state = true;
  };
  auto t0 = std::chrono::steady_clock::now();
  auto r = dp::Rollback(*store, cf, dp::OperationStepValue(plan.state), o);
  if (!r.ok() && !saved_state) Fail(r.status());  // no host changed
  if (!r.ok())
    SaveState(dir, f.name, dp::Failed(plan.state, r.status().message(), std::time(nullptr)));
  if (!r.ok())
    Fail(cfs::Status::Aborted(r.status().message() +
                              "; fix it and run cimg rollback again (it resumes)"));
  cf.image = plan.target.name;
  Must(dp::SaveCluster(dir, cf));
  SaveState(dir, f.name, dp::Finished(plan.state, std::time(nullptr)));
  unlink(dp::PreviousClusterfile(dir, f.name).c_str());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PrintReport(cf, *r, secs, fmt);
}

void AddRollback(CLI::App& app, const Global& g, const bool& quiet) {
  auto* rb = app.add_subcommand(
      "rollback", "Return a cluster to the image it had before its last upgrade (sealer rollback)");
  static RollbackFlags f;
  rb->add_option("CLUSTER", f.name, "Name of a cluster deployed from here")->required();
  rb->add_option("IMAGE", f.image,
                 "The previous image (its name, or a prefix of its ID or digest): checked, not "
                 "chosen; sealer's rollback takes one");
  f.ssh.Add(rb);
  rb->add_option("--format", f.format,
                 "Report format: table (default), json, or a Go template run on each host (as "
                 "cimg deploy's: {{.IP}} {{.FilesSent}} {{.WireBytes}} ...)");
  rb->footer(
      "Runs the rollback hooks of the image being left (and the Clusterfile's) on master0, then\n"
      "gives every host the previous image's rootfs exactly (what the upgrade added is removed),\n"
      "restarts the registry and runs that image's CMDs and apps; the Clusterfile before the\n"
      "upgrade is the cluster's again. The previous image is the one recorded by cimg upgrade,\n"
      "by image ID: a re-tag of its name does not change it. Refused, changing nothing,\n"
      "when none is recorded or the store no longer holds it (cimg pull / cimg load it back).\n\n"
      "Examples:\n"
      "  cimg rollback my-cluster\n"
      "  cimg rollback my-cluster registry.example.com/k8s:v1.26.6   # must be the previous "
      "image\n"
      "  cimg rollback my-cluster --format json\n\n" +
      std::string(kReportFormatHelp));
  rb->callback([&g, &quiet] { RunRollback(g, f, quiet); });
}

}  // namespace

void AddUpgradeCommands(CLI::App& app, const Global& g, const bool& quiet) {
  AddUpgrade(app, g, quiet);
  AddRollback(app, g, quiet);
}

}  // namespace cimg
