// cimg deploy, delete, scale-up, scale-down: Clusterfiles in, deploy/ does
// the work.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "deploy/clusterfile.h"
#include "deploy/deploy.h"
#include "deploy/deploy_plan.h"
#include "deploy/image_history.h"
#include "deploy/ip_range.h"
#include "deploy/saved_cluster.h"
#include "registry/image_io.h"
#include "registry/pull.h"
#include "registry/reference.h"
#include "base/io.h"
#include "tools/cimg_common.h"
#include "tools/cimg_cluster.h"
#include "tools/deploy_format.h"

namespace cimg {

namespace dp = cfs::deploy;

// Makes sure the image (or image list) is in the store: pulls registry
// references (this host's platform; `cimg pull --platform all` first for a
// cluster of several).
void EnsureImage(cfs::Store& store, const std::string& image, const RegistryFlags& reg, bool quiet) {
  auto found = store.InspectImageList(image);
  if (found.ok()) return;
  if (!found.status().IsNotFound() || !cfs::registry::IsRegistryReference(image)) Fail(found.status());
  auto ref = Must(cfs::registry::Reference::Parse(image));
  if (!quiet) std::fprintf(stderr, "pulling %s\n", ref.ToString().c_str());
  cfs::PullOptions o;
  o.as_name = image;
  o.progress = StderrProgress(quiet);
  auto po = reg.Pull(o);
  Must(cfs::registry::PullFromSource(store, image, po));
}

void PrintReport(const dp::Clusterfile& cf, const dp::DeployReport& r, double secs, const DeployFormat& fmt) {
  if (fmt.json()) {
    std::printf("%s\n", DeployReportJson(cf.name, cf.image, r, secs).dump(2).c_str());
    return;
  }
  if (!fmt.text()) {
    std::fputs(Must(fmt.Render(DeployReportJson(cf.name, cf.image, r, secs))).c_str(), stdout);
    return;
  }
  uint64_t wire = 0, data = 0;
  for (const auto& h : r.hosts) wire += h.wire_bytes, data += h.data_bytes;
  std::printf("%-20s %14s %8s %10s %10s\n", "HOST", "SENT/ENTRIES", "REMOVED", "DATA", "WIRE");
  for (const auto& h : r.hosts)
    std::printf("%-20s %14s %8llu %10s %10s\n", h.ip.c_str(),
                (std::to_string(h.files_sent) + "/" + std::to_string(h.files_total)).c_str(),
                static_cast<unsigned long long>(h.files_removed), HumanSize(h.data_bytes).c_str(),
                HumanSize(h.wire_bytes).c_str());
  std::printf("cluster %s: %s on %zu hosts in %.1f s (%s of files, %s on the wire)\n", cf.name.c_str(),
              cf.image.c_str(), r.hosts.size(), secs, HumanSize(data).c_str(), HumanSize(wire).c_str());
}

namespace {

// The IPs of a --masters/--nodes value: comma-separated, each an IP or a
// range FIRST-LAST (deploy/ip_range.h), as sealer takes them.
std::vector<std::string> FlagIps(const char* flag, const std::vector<std::string>& in) {
  auto ips = dp::ExpandIpRanges(SplitComma(in));
  if (!ips.ok()) Fail(ips.status().Prefix(flag));
  return *ips;
}

// Host options of the IMAGE form (and of scale-up).
struct HostFlags {
  std::vector<std::string> masters, nodes, env;
  std::string user, passwd, pk, pk_passwd;
  int port = 0;
  void Add(CLI::App* c, bool with_env) {
    c->add_option("--masters,-m", masters, "Master IPs (comma-separated; ranges 10.0.0.2-10.0.0.9)");
    c->add_option("--nodes", nodes, "Node IPs (comma-separated; ranges 10.0.0.2-10.0.0.9)");
    c->add_option("-u,--user", user, "SSH user (default root; others use sudo)");
    c->add_option("-p,--passwd", passwd, "SSH password (also given to sudo)");
    c->add_option("-i,--pk", pk, "SSH private key file");
    c->add_option("--pk-passwd", pk_passwd, "Passphrase of the private key");
    c->add_option("--port", port, "SSH port (default 22)")->check(CLI::Range(1, 65535));
    if (with_env) c->add_option("-e,--env", env, "K=V for templates and scripts (repeatable)");
  }
  dp::SshSpec Ssh() const {
    dp::SshSpec s;
    if (!user.empty()) s.user = user;
    if (!passwd.empty()) s.passwd = passwd;
    if (!pk.empty()) s.pk = pk;
    if (!pk_passwd.empty()) s.pk_passwd = pk_passwd;
    if (port) s.port = port;
    return s;
  }
  // Host groups for --masters/--nodes.
  std::vector<dp::HostGroup> Groups() const {
    std::vector<dp::HostGroup> out;
    auto m = FlagIps("--masters", masters), n = FlagIps("--nodes", nodes);
    if (!m.empty()) out.push_back({m, {"master"}, {}, {}, {}, {}, {}});
    if (!n.empty()) out.push_back({n, {"node"}, {}, {}, {}, {}, {}});
    return out;
  }
};


void RunDeploy(cfs::Store& store, const dp::Clusterfile& cf, dp::DeployOptions o, const DeployFormat& fmt) {
  const std::string dir = ClustersDir(store);
  o.cluster_dir = dir + "/" + cf.name;  // the built-in registry's CA is kept there
  bool saved = false;
  std::optional<dp::ClusterState> have;
  if (auto st = dp::LoadClusterState(dir, cf.name); st.ok()) have = *st;
  auto image = dp::ResolveImage(store, cf.image);
  const dp::ImageRecord rec = image.ok() ? *image : dp::ImageRecord{cf.image, "", ""};
  auto state = [&](const char* st, const std::string& detail) {
    // What `cimg clusters` shows; a failure to record it is not the deploy's.
    Status s = dp::SaveClusterState(dir, cf.name,
                                    dp::AfterDeploy(have, rec, st, detail, std::time(nullptr)));
    if (!s.ok()) std::fprintf(stderr, "cimg: warning: cluster state: %s\n", s.message().c_str());
  };
  o.on_connected = [&] {
    Must(dp::SaveCluster(dir, cf));
    saved = true;
    state("deploying", "");
  };
  auto t0 = std::chrono::steady_clock::now();
  auto deployed = dp::Deploy(store, cf, o);
  if (!deployed.ok() && saved) state("failed", deployed.status().message());
  auto r = Must(std::move(deployed));
  state("deployed", "");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PrintReport(cf, r, secs, fmt);
}

// cimg deploy --dry-run (and scale-up's): the plan printed, nothing changed
// on the hosts, in the store or in the saved clusters. `prune`: the hosts
// --prune-hosts would clean first. Exits 1 after printing the plan when a
// deploy would stop (a host of another platform).
void RunDryRun(cfs::Store& store, const dp::Clusterfile& cf, dp::DeployOptions o,
               const std::vector<std::string>& prune, const DeployFormat& fmt) {
  o.on_connected = nullptr;
  o.progress = nullptr;
  auto plan = Must(dp::PlanDeploy(store, cf, o));
  plan.prune = prune;
  std::string out = fmt.text() ? dp::FormatPlanText(plan) : dp::FormatPlanJson(plan);
  if (!fmt.text() && !fmt.json()) out = Must(fmt.Render(nlohmann::json::parse(out)));
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  if (!plan.refusal.empty()) Fail(Status::Invalid(plan.refusal));
}

// A dry run uses the image in the store: it pulls nothing.
void RequireStoredImage(cfs::Store& store, const std::string& image) {
  auto found = store.Inspect(image);
  if (found.ok()) return;
  if (!found.status().IsNotFound()) Fail(found.status());
  Fail(Status::NotFound("image " + image + " is not in the store; --dry-run pulls nothing (cimg pull " +
                        image + " first)"));
}

// Writes what `deploy --record-profile` recorded; says when it is empty (every
// step was done before: nothing ran to read the files).
void WriteDeployProfile(const cfs::ReadProfile& p, const std::string& file) {
  Must(cfs::WriteFileAtomic(file, p.ToText()).Prefix(file));
  if (p.ranges.empty())
    std::fprintf(stderr, "cimg: warning: %s: no file was read (steps done before are skipped: "
                 "record on a fresh cluster)\n", file.c_str());
}

// The flags of cimg deploy (static: CLI11 keeps pointers to them).
struct DeployFlags {
  std::string file, image, name = "my-cluster", format;
  HostFlags hosts;
  SshFlags ssh;
  RegistryFlags reg;
  bool resend = false, prune_hosts = false, dry_run = false;
  std::vector<std::string> cmd, apps;
  std::string record_profile;
};

// The Clusterfile cimg deploy applies: -f's, or one made of IMAGE and the
// host flags (checked as a Clusterfile is); -e entries added.
dp::Clusterfile DeployClusterfile(const DeployFlags& f) {
  if (f.file.empty() == f.image.empty())
    Fail(Status::Invalid("give a Clusterfile (-f) or an IMAGE with --masters"));
  dp::Clusterfile cf;
  if (!f.file.empty()) {
    if (!f.hosts.masters.empty() || !f.hosts.nodes.empty())
      Fail(Status::Invalid("--masters/--nodes go with IMAGE, not with -f (edit the Clusterfile)"));
    if (!f.cmd.empty() || !f.apps.empty())
      Fail(Status::Invalid("--cmd/--apps go with IMAGE, not with -f (edit the Clusterfile's "
                           "spec.cmd / spec.appNames)"));
    cf = Must(dp::LoadClusterfile(f.file));
  } else {
    Must(dp::CheckClusterName(f.name));
    if (f.hosts.masters.empty()) Fail(Status::Invalid("--masters is required with IMAGE"));
    cf.name = f.name;
    cf.image = f.image;
    cf.ssh = f.hosts.Ssh();
    cf.cmd = f.cmd;
    cf.has_app_names = !f.apps.empty();
    cf.app_names = f.apps;
  }
  for (const auto& e : f.hosts.env) {
    Must(dp::ParseEnvEntry(e).status().Prefix("-e"));
    cf.env.push_back(e);
  }
  if (f.file.empty()) {
    cf.hosts = f.hosts.Groups();
    cf = Must(dp::ParseClusterfile(dp::EmitClusterfile(cf), "command line"));
  }
  return cf;
}

void AddDeploy(CLI::App& app, const Global& g, const bool& quiet) {
  auto* deploy = app.add_subcommand("deploy", "Deploy a cluster image to hosts over SSH (run or apply)");
  static DeployFlags f;
  deploy->add_option("-f,--clusterfile", f.file, "Clusterfile (sealer.io/v2)");
  deploy->add_option("IMAGE", f.image, "Cluster image (instead of -f); pulled when it is a registry reference");
  deploy->add_option("-n,--name", f.name, "Cluster name with IMAGE (default my-cluster)");
  deploy->add_option("--cmd", f.cmd,
                     "Commands replacing what the image runs: its CMDs, CMDS and app launches "
                     "(with IMAGE; repeatable)");
  deploy->add_option("--apps", f.apps,
                     "Apps to launch, in order, instead of the image's LAUNCH (with IMAGE; "
                     "comma-separated; sealer's run --apps)")
      ->delimiter(',');
  f.hosts.Add(deploy, true);
  f.ssh.Add(deploy);
  f.ssh.AddFanout(deploy);
  f.reg.Add(deploy);
  deploy->add_flag("--resend", f.resend, "Send the whole rootfs again, ignoring what hosts hold");
  deploy->add_flag("--prune-hosts", f.prune_hosts,
                   "Clean and remove hosts of the deployed cluster that this deploy leaves out "
                   "(default: refuse)");
  deploy->add_flag("--dry-run", f.dry_run,
                   "Print the plan (per host: files to send and remove, bytes, steps pending and "
                   "done; the relay trees) after connecting to every host; change nothing");
  deploy->add_option("--format", f.format,
                     "Report (or plan) format: table (default), json, or a Go template run on each "
                     "host ('table TEMPLATE' adds a header row); fields below");
  deploy->add_option("--record-profile", f.record_profile,
                     "Write the files master0 read during the steps that ran, in order, to FILE "
                     "(a bring-up profile for `cimg profile attach`)");
  deploy->footer(
      std::string(kReportFormatHelp) + "\n" + kPlanFormatHelp +
      "\nExamples:\n"
      "  cimg deploy -f Clusterfile      # kind: Application documents choose the apps and their config\n"
      "  cimg deploy demo/app:1 --masters 10.0.0.2 --nodes 10.0.0.3 -i ~/.ssh/id_ed25519 \\\n"
      "      --apps calico,nginx\n"
      "  cimg deploy -f Clusterfile --dry-run              # what a deploy would send and run\n"
      "  cimg deploy -f Clusterfile --dry-run --fanout 2 --format json\n"
      "  cimg deploy -f Clusterfile --format 'table {{.IP}} {{.FilesSent}} {{.WireBytes}}'\n"
      "  cimg deploy -f Clusterfile --dry-run --format '{{.IP}} {{.SendBytes}} {{.StepsPending}}'\n"
      "  cimg deploy -f Clusterfile --record-profile app.profile   # on a fresh cluster\n"
      "  cimg profile attach demo/app:1 app.profile  # lazy mounts of it fetch those files first\n");
  deploy->callback([&g, &quiet] {
    // The template is checked first: a deploy never starts to fail on its format.
    const auto fmt = Must(DeployFormat::Parse(
        f.format, f.dry_run ? DeployFormat::Kind::kPlan : DeployFormat::Kind::kReport));
    dp::Clusterfile cf = DeployClusterfile(f);
    auto store = Must(OpenStore(g));
    Must(dp::KeepDeployedRegistryDefaults(ClustersDir(*store), &cf));
    auto o = f.ssh.Options(quiet);
    o.resend = f.resend;
    if (f.dry_run) {
      if (!f.record_profile.empty())
        Fail(Status::Invalid("--record-profile records what a deploy's steps read; a dry run runs none"));
      RequireStoredImage(*store, cf.image);
      dp::Clusterfile saved;
      auto prune = Must(dp::HostsToPrune(ClustersDir(*store), cf, f.prune_hosts, &saved));
      return RunDryRun(*store, cf, o, prune, fmt);
    }
    EnsureImage(*store, cf.image, f.reg, quiet);
    o.progress = StderrProgress(quiet);
    Must(dp::CheckDroppedHosts(ClustersDir(*store), cf, f.prune_hosts, o));
    cfs::ReadProfile profile;
    if (!f.record_profile.empty()) o.record_profile = &profile;
    RunDeploy(*store, cf, o, fmt);
    if (!f.record_profile.empty()) WriteDeployProfile(profile, f.record_profile);
  });
}

void AddDelete(CLI::App& app, const Global& g, const bool& quiet) {
  auto* del = app.add_subcommand("delete", "Remove a deployed cluster from its hosts");
  del->footer("Examples:\n"
      "  cimg delete my-cluster\n"
      "  cimg delete -f Clusterfile");
  static std::string file, name;
  static SshFlags ssh;
  static bool prune = false;
  del->add_option("-f,--clusterfile", file, "Clusterfile of the cluster");
  del->add_option("NAME", name, "Name of a cluster deployed from here (instead of -f)");
  del->add_flag("--prune", prune, "Forget the cluster even if some hosts cannot be reached or cleaned");
  ssh.Add(del);
  del->callback([&g, &quiet] {
    if (file.empty() == name.empty()) Fail(Status::Invalid("give a Clusterfile (-f) or a cluster NAME"));
    auto store = Must(OpenStore(g));
    dp::Clusterfile cf = file.empty() ? Must(dp::LoadSavedCluster(ClustersDir(*store), name))
                                      : Must(dp::LoadClusterfile(file));
    Must(dp::KeepDeployedRegistryDefaults(ClustersDir(*store), &cf));
    Status s = dp::Delete(cf, {}, ssh.Options(quiet));
    if (s.ok() || prune) dp::ForgetCluster(ClustersDir(*store), cf.name);
    if (!s.ok() && !prune)
      Fail(Status::Aborted(s.message() + "; fix it and run cimg delete again (or --prune to forget the cluster)"));
    if (!s.ok()) std::fprintf(stderr, "cimg: warning: %s (forgotten anyway: --prune)\n", s.message().c_str());
    std::printf("cluster %s deleted\n", cf.name.c_str());
  });
}

void AddScaleUp(CLI::App& app, const Global& g, const bool& quiet) {
  auto* up = app.add_subcommand("scale-up", "Add hosts to a deployed cluster");
  up->footer("Examples:\n"
      "  cimg scale-up my-cluster --nodes 10.0.0.5\n"
      "  cimg scale-up my-cluster --nodes 10.0.0.5 --dry-run   # what it would send and run\n"
      "  cimg scale-up my-cluster --nodes 10.0.0.5 --dry-run --format '{{.IP}} {{.FilesToSend}}'\n\n" +
      std::string(kReportFormatHelp) + "\n" + kPlanFormatHelp);
  static std::string name, format;
  static HostFlags hosts;
  static SshFlags ssh;
  static bool dry_run = false;
  up->add_option("NAME", name, "Cluster name")->required();
  hosts.Add(up, false);
  ssh.Add(up);
  ssh.AddFanout(up);
  up->add_flag("--dry-run", dry_run,
               "Print the plan of the deploy with the hosts added (as cimg deploy --dry-run); "
               "change nothing");
  up->add_option("--format", format,
                 "Report (or plan, with --dry-run) format: table (default), json, or a Go template "
                 "run on each host, as cimg deploy's");
  up->callback([&g, &quiet] {
    const auto fmt = Must(
        DeployFormat::Parse(format, dry_run ? DeployFormat::Kind::kPlan : DeployFormat::Kind::kReport));
    auto store = Must(OpenStore(g));
    dp::Clusterfile cf = Must(dp::LoadSavedCluster(ClustersDir(*store), name));
    auto groups = hosts.Groups();
    if (groups.empty()) Fail(Status::Invalid("give the hosts to add with --masters and/or --nodes"));
    for (auto& gr : groups) gr.ssh = hosts.Ssh();
    cf = Must(dp::WithHostsAdded(cf, groups));
    auto o = ssh.Options(quiet);
    if (dry_run) return RunDryRun(*store, cf, o, {}, fmt);
    o.progress = StderrProgress(quiet);
    RunDeploy(*store, cf, o, fmt);
  });
}

void AddScaleDown(CLI::App& app, const Global& g, const bool& quiet) {
  auto* down = app.add_subcommand("scale-down", "Remove hosts from a deployed cluster (cleaning them)");
  down->footer("Example:\n"
      "  cimg scale-down my-cluster --nodes 10.0.0.5");
  static std::string name;
  static HostFlags hosts;
  static SshFlags ssh;
  down->add_option("NAME", name, "Cluster name")->required();
  down->add_option("--masters,-m", hosts.masters, "Master IPs to remove");
  down->add_option("--nodes", hosts.nodes, "Node IPs to remove");
  ssh.Add(down);
  down->callback([&g, &quiet] {
    auto store = Must(OpenStore(g));
    dp::Clusterfile cf = Must(dp::LoadSavedCluster(ClustersDir(*store), name));
    auto ips = FlagIps("--masters", hosts.masters);
    for (const auto& n : FlagIps("--nodes", hosts.nodes)) ips.push_back(n);
    if (ips.empty()) Fail(Status::Invalid("give the hosts to remove with --masters and/or --nodes"));
    dp::Clusterfile smaller = Must(dp::WithHostsRemoved(cf, ips));
    Must(dp::Delete(cf, ips, ssh.Options(quiet)));
    Must(dp::SaveCluster(ClustersDir(*store), smaller));
    Must(dp::RefreshRegistryMirrors(smaller, ssh.Options(quiet)));
    std::printf("cluster %s: removed %zu hosts\n", cf.name.c_str(), ips.size());
  });
}

}  // namespace

void AddDeployCommands(CLI::App& app, const Global& g, const bool& quiet) {
  AddDeploy(app, g, quiet);
  AddDelete(app, g, quiet);
  AddScaleUp(app, g, quiet);
  AddScaleDown(app, g, quiet);
  AddUpgradeCommands(app, g, quiet);  // cimg_upgrade.cc
}

}  // namespace cimg
