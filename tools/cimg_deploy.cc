// cimg deploy, delete, scale-up, scale-down: Clusterfiles in, deploy/ does
// the work.
#include <sys/stat.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "deploy/clusterfile.h"
#include "deploy/deploy.h"
#include "registry/image_io.h"
#include "registry/reference.h"
#include "base/io.h"
#include "tools/cimg_common.h"

namespace cimg {

namespace {

namespace dp = cfs::deploy;

std::vector<std::string> SplitComma(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& s : in) {
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t c = s.find(',', pos);
      std::string part = s.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
      if (!part.empty()) out.push_back(part);
      if (c == std::string::npos) break;
      pos = c + 1;
    }
  }
  return out;
}

// Flags every cluster command takes.
struct SshFlags {
  std::string known_hosts;
  bool insecure = false;
  int parallel = 8;
  void Add(CLI::App* c) {
    c->add_option("--known-hosts", known_hosts, "known_hosts file host keys must be in (default: ~/.ssh/known_hosts)");
    c->add_flag("--insecure-host-keys", insecure, "Do not check host keys (anyone in between can read passwords)");
    c->add_option("--parallel", parallel, "Hosts worked on at once (default 8)")->check(CLI::Range(1, 256));
  }
  dp::DeployOptions Options(bool quiet) const {
    dp::DeployOptions o;
    o.known_hosts = known_hosts;
    o.insecure_host_keys = insecure;
    o.parallel = parallel;
    auto mu = std::make_shared<std::mutex>();
    o.log = [mu, quiet](const std::string& line) {
      // "error: ..." and "IP| output of a failed step" are shown even with -q.
      bool error = line.rfind("error:", 0) == 0 ||
                   (line.find("| ") != std::string::npos && line.find("| ") == line.find_first_of(" >|"));
      if (quiet && !error) return;
      std::lock_guard<std::mutex> l(*mu);
      // On a terminal, clear a progress line first (it is drawn again).
      std::fprintf(stderr, "%s%s\n", ::isatty(2) ? "\r\033[K" : "", line.c_str());
    };
    return o;
  }
};

// Host options of the IMAGE form (and of scale-up).
struct HostFlags {
  std::vector<std::string> masters, nodes, env;
  std::string user, passwd, pk, pk_passwd;
  int port = 0;
  void Add(CLI::App* c, bool with_env) {
    c->add_option("--masters,-m", masters, "Master IPs (comma-separated)");
    c->add_option("--nodes", nodes, "Node IPs (comma-separated)");
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
    auto m = SplitComma(masters), n = SplitComma(nodes);
    if (!m.empty()) out.push_back({m, {"master"}, {}, {}, {}, {}});
    if (!n.empty()) out.push_back({n, {"node"}, {}, {}, {}, {}});
    return out;
  }
};

std::string ClustersDir(const cfs::Store& store) { return store.root() + "/clusters"; }

void SaveClusterfile(const cfs::Store& store, const dp::Clusterfile& cf) {
  std::string path = dp::SavedClusterfile(ClustersDir(store), cf.name);
  Must(cfs::MakeDirs(path.substr(0, path.rfind('/')), 0700));
  Must(cfs::WriteFileAtomic(path, dp::EmitClusterfile(cf), 0600));
}

dp::Clusterfile LoadSaved(const cfs::Store& store, const std::string& name) {
  Must(dp::CheckClusterName(name));
  std::string path = dp::SavedClusterfile(ClustersDir(store), name);
  if (!cfs::PathExists(path))
    Fail(Status::NotFound("no deployed cluster named " + name + " (no " + path + ")"));
  return Must(dp::LoadClusterfile(path));
}

// Makes sure the image is in the store: pulls registry references.
void EnsureImage(cfs::Store& store, const std::string& image, const RegistryFlags& reg, bool quiet) {
  auto found = store.Inspect(image);
  if (found.ok()) return;
  if (!found.status().IsNotFound() || !cfs::registry::IsRegistryReference(image)) Fail(found.status());
  auto ref = Must(cfs::registry::Reference::Parse(image));
  if (!quiet) std::fprintf(stderr, "pulling %s\n", ref.ToString().c_str());
  auto client = reg.Connect(ref.registry);
  auto src = Must(cfs::registry::OpenRegistrySource(client, ref, store.root() + "/tmp", reg.parallel));
  cfs::PullOptions po;
  po.as_name = image;
  po.progress = TerminalProgress(quiet);
  auto pulled = store.PullFrom(*src, "docker://" + ref.ToString(), image, po);
  src.reset();
  Must(std::move(pulled));
}

void PrintReport(const dp::Clusterfile& cf, const dp::DeployReport& r, double secs, bool as_json) {
  uint64_t wire = 0, data = 0;
  for (const auto& h : r.hosts) wire += h.wire_bytes, data += h.data_bytes;
  if (as_json) {
    nlohmann::json j;
    j["Cluster"] = cf.name;
    j["Image"] = cf.image;
    j["Seconds"] = secs;
    j["Hosts"] = nlohmann::json::array();
    for (const auto& h : r.hosts)
      j["Hosts"].push_back({{"IP", h.ip}, {"FilesSent", h.files_sent}, {"FilesRemoved", h.files_removed},
                            {"FilesTotal", h.files_total}, {"DataBytes", h.data_bytes},
                            {"WireBytes", h.wire_bytes}});
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  std::printf("%-20s %14s %8s %10s %10s\n", "HOST", "SENT/ENTRIES", "REMOVED", "DATA", "WIRE");
  for (const auto& h : r.hosts)
    std::printf("%-20s %14s %8llu %10s %10s\n", h.ip.c_str(),
                (std::to_string(h.files_sent) + "/" + std::to_string(h.files_total)).c_str(),
                static_cast<unsigned long long>(h.files_removed), HumanSize(h.data_bytes).c_str(),
                HumanSize(h.wire_bytes).c_str());
  std::printf("cluster %s: %s on %zu hosts in %.1f s (%s of files, %s on the wire)\n", cf.name.c_str(),
              cf.image.c_str(), r.hosts.size(), secs, HumanSize(data).c_str(), HumanSize(wire).c_str());
}

// The hosts of the saved cluster `cf.name` that cf leaves out (none when the
// cluster was not deployed from here).
std::vector<std::string> DroppedHosts(const cfs::Store& store, const dp::Clusterfile& cf,
                                      dp::Clusterfile* saved) {
  std::string path = dp::SavedClusterfile(ClustersDir(store), cf.name);
  if (!cfs::PathExists(path)) return {};
  *saved = Must(dp::LoadClusterfile(path));
  auto now = cf.Hosts();
  std::vector<std::string> dropped;
  for (const auto& h : saved->Hosts())
    if (std::none_of(now.begin(), now.end(), [&](const auto& n) { return n.ip == h.ip; }))
      dropped.push_back(h.ip);
  return dropped;
}

// A re-deploy must not forget hosts silently: refused, or (prune) those
// hosts are cleaned and removed first, as scale-down does.
void HandleDroppedHosts(cfs::Store& store, const dp::Clusterfile& cf, bool prune,
                        const dp::DeployOptions& o) {
  dp::Clusterfile saved;
  auto dropped = DroppedHosts(store, cf, &saved);
  if (dropped.empty()) return;
  std::string list;
  for (const auto& ip : dropped) list += (list.empty() ? "" : ",") + ip;
  if (!prune)
    Fail(Status::Invalid("cluster " + cf.name + " has host(s) " + list +
                         " that this deploy leaves out; remove them with `cimg scale-down " +
                         cf.name + " --nodes/--masters " + list +
                         "` first, or add --prune-hosts to do it now"));
  if (dropped[0] == saved.Hosts()[0].ip)
    Fail(Status::Invalid("host " + dropped[0] + " is master0 of cluster " + cf.name +
                         "; it cannot be removed (cimg delete " + cf.name + " removes the cluster)"));
  Must(dp::Delete(saved, dropped, o));
}

void RunDeploy(cfs::Store& store, const dp::Clusterfile& cf, dp::DeployOptions o, bool as_json) {
  o.on_connected = [&] { SaveClusterfile(store, cf); };
  auto t0 = std::chrono::steady_clock::now();
  auto r = Must(dp::Deploy(store, cf, o));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  PrintReport(cf, r, secs, as_json);
}

}  // namespace

void AddDeployCommands(CLI::App& app, const Global& g, const bool& quiet) {
  // deploy
  auto* deploy = app.add_subcommand("deploy", "Deploy a cluster image to hosts over SSH (run or apply)");
  static std::string dep_file, dep_image, dep_name = "my-cluster";
  static HostFlags dep_hosts;
  static SshFlags dep_ssh;
  static RegistryFlags dep_reg;
  static bool dep_resend = false, dep_prune_hosts = false;
  static std::vector<std::string> dep_cmd;
  deploy->add_option("-f,--clusterfile", dep_file, "Clusterfile (sealer.io/v2)");
  deploy->add_option("IMAGE", dep_image, "Cluster image (instead of -f); pulled when it is a registry reference");
  deploy->add_option("-n,--name", dep_name, "Cluster name with IMAGE (default my-cluster)");
  deploy->add_option("--cmd", dep_cmd, "Commands replacing the image's CMDs (with IMAGE; repeatable)");
  dep_hosts.Add(deploy, true);
  dep_ssh.Add(deploy);
  dep_reg.Add(deploy);
  deploy->add_flag("--resend", dep_resend, "Send the whole rootfs again, ignoring what hosts hold");
  deploy->add_flag("--prune-hosts", dep_prune_hosts,
                   "Clean and remove hosts of the deployed cluster that this deploy leaves out "
                   "(default: refuse)");
  static std::string dep_format;
  deploy->add_option("--format", dep_format, "Report format: table (default) or json")
      ->check(CLI::IsMember({"table", "json"}));
  deploy->callback([&g, &quiet] {
    if (dep_file.empty() == dep_image.empty())
      Fail(Status::Invalid("give a Clusterfile (-f) or an IMAGE with --masters"));
    dp::Clusterfile cf;
    if (!dep_file.empty()) {
      if (!dep_hosts.masters.empty() || !dep_hosts.nodes.empty())
        Fail(Status::Invalid("--masters/--nodes go with IMAGE, not with -f (edit the Clusterfile)"));
      cf = Must(dp::LoadClusterfile(dep_file));
      for (const auto& e : dep_hosts.env) {
        Must(dp::ParseEnvEntry(e).status().Prefix("-e"));
        cf.env.push_back(e);
      }
    } else {
      Must(dp::CheckClusterName(dep_name));
      if (dep_hosts.masters.empty()) Fail(Status::Invalid("--masters is required with IMAGE"));
      cf.name = dep_name;
      cf.image = dep_image;
      cf.ssh = dep_hosts.Ssh();
      cf.cmd = dep_cmd;
      for (const auto& e : dep_hosts.env) {
        Must(dp::ParseEnvEntry(e).status().Prefix("-e"));
        cf.env.push_back(e);
      }
      cf.hosts = dep_hosts.Groups();
      // The same checks a Clusterfile gets.
      cf = Must(dp::ParseClusterfile(dp::EmitClusterfile(cf), "command line"));
    }
    auto store = Must(OpenStore(g));
    EnsureImage(*store, cf.image, dep_reg, quiet);
    auto o = dep_ssh.Options(quiet);
    o.resend = dep_resend;
    o.progress = TerminalProgress(quiet);
    HandleDroppedHosts(*store, cf, dep_prune_hosts, o);
    RunDeploy(*store, cf, o, dep_format == "json");
  });

  // delete
  auto* del = app.add_subcommand("delete", "Remove a deployed cluster from its hosts");
  static std::string del_file, del_name;
  static SshFlags del_ssh;
  static bool del_prune = false;
  del->add_option("-f,--clusterfile", del_file, "Clusterfile of the cluster");
  del->add_option("NAME", del_name, "Name of a cluster deployed from here (instead of -f)");
  del->add_flag("--prune", del_prune,
                "Forget the cluster even if some hosts cannot be reached or cleaned");
  del_ssh.Add(del);
  del->callback([&g, &quiet] {
    if (del_file.empty() == del_name.empty()) Fail(Status::Invalid("give a Clusterfile (-f) or a cluster NAME"));
    auto store = Must(OpenStore(g));
    dp::Clusterfile cf = del_file.empty() ? LoadSaved(*store, del_name) : Must(dp::LoadClusterfile(del_file));
    Status s = dp::Delete(cf, {}, del_ssh.Options(quiet));
    std::string saved = dp::SavedClusterfile(ClustersDir(*store), cf.name);
    if (s.ok() || del_prune) {
      unlink(saved.c_str());
      rmdir(saved.substr(0, saved.rfind('/')).c_str());
    }
    if (!s.ok() && !del_prune)
      Fail(Status::Aborted(s.message() + "; fix it and run cimg delete again (or --prune to forget the cluster)"));
    if (!s.ok()) std::fprintf(stderr, "cimg: warning: %s (forgotten anyway: --prune)\n", s.message().c_str());
    std::printf("cluster %s deleted\n", cf.name.c_str());
  });

  // scale-up
  auto* up = app.add_subcommand("scale-up", "Add hosts to a deployed cluster");
  static std::string up_name;
  static HostFlags up_hosts;
  static SshFlags up_ssh;
  up->add_option("NAME", up_name, "Cluster name")->required();
  up_hosts.Add(up, false);
  up_ssh.Add(up);
  up->callback([&g, &quiet] {
    auto store = Must(OpenStore(g));
    dp::Clusterfile cf = LoadSaved(*store, up_name);
    auto groups = up_hosts.Groups();
    if (groups.empty()) Fail(Status::Invalid("give the hosts to add with --masters and/or --nodes"));
    auto hosts = cf.Hosts();
    std::vector<std::string> given;
    for (const auto& gr : groups) {
      for (const auto& ip : gr.ips) {
        if (std::any_of(hosts.begin(), hosts.end(), [&](const auto& h) { return h.ip == ip; }))
          Fail(Status::Invalid("host " + ip + " is already in cluster " + cf.name));
        if (std::find(given.begin(), given.end(), ip) != given.end())
          Fail(Status::Invalid("host " + ip + " is given twice"));
        given.push_back(ip);
      }
    }
    for (auto& gr : groups) {
      gr.ssh = up_hosts.Ssh();
      cf.hosts.push_back(gr);
    }
    cf = Must(dp::ParseClusterfile(dp::EmitClusterfile(cf), "scale-up"));
    auto o = up_ssh.Options(quiet);
    o.progress = TerminalProgress(quiet);
    RunDeploy(*store, cf, o, false);
  });

  // scale-down
  auto* down = app.add_subcommand("scale-down", "Remove hosts from a deployed cluster (cleaning them)");
  static std::string down_name;
  static HostFlags down_hosts;
  static SshFlags down_ssh;
  down->add_option("NAME", down_name, "Cluster name")->required();
  down->add_option("--masters,-m", down_hosts.masters, "Master IPs to remove");
  down->add_option("--nodes", down_hosts.nodes, "Node IPs to remove");
  down_ssh.Add(down);
  down->callback([&g, &quiet] {
    auto store = Must(OpenStore(g));
    dp::Clusterfile cf = LoadSaved(*store, down_name);
    auto ips = SplitComma(down_hosts.masters);
    for (const auto& n : SplitComma(down_hosts.nodes)) ips.push_back(n);
    if (ips.empty()) Fail(Status::Invalid("give the hosts to remove with --masters and/or --nodes"));
    auto hosts = cf.Hosts();
    for (const auto& ip : ips) {
      if (std::none_of(hosts.begin(), hosts.end(), [&](const auto& h) { return h.ip == ip; }))
        Fail(Status::NotFound("host " + ip + " is not in cluster " + cf.name));
      if (ip == hosts[0].ip) Fail(Status::Invalid("host " + ip + " is master0; it cannot be removed"));
    }
    Must(dp::Delete(cf, ips, down_ssh.Options(quiet)));
    for (auto& gr : cf.hosts)
      gr.ips.erase(std::remove_if(gr.ips.begin(), gr.ips.end(),
                                  [&](const std::string& ip) {
                                    return std::find(ips.begin(), ips.end(), ip) != ips.end();
                                  }),
                   gr.ips.end());
    cf.hosts.erase(std::remove_if(cf.hosts.begin(), cf.hosts.end(),
                                  [](const dp::HostGroup& gr) { return gr.ips.empty(); }),
                   cf.hosts.end());
    SaveClusterfile(*store, cf);
    std::printf("cluster %s: removed %zu hosts\n", cf.name.c_str(), ips.size());
  });
}

}  // namespace cimg
