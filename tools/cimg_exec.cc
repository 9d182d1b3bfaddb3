// cimg exec: a command on the hosts of a deployed cluster (sealer's `exec`).
// Argument parsing and printing only; deploy/cluster_exec.h runs it.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "deploy/cluster_exec.h"
#include "deploy/saved_cluster.h"
#include "tools/cimg_cluster.h"
#include "tools/cimg_common.h"

namespace cimg {

namespace {

namespace dp = cfs::deploy;

// Each line of `text` as "IP: line" on f.
void PrintPrefixed(std::FILE* f, const std::string& ip, const std::string& text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    std::fprintf(f, "%s: %.*s\n", ip.c_str(), static_cast<int>(end - pos), text.data() + pos);
    pos = end + 1;
  }
}

// Why a host failed, or "" when it did not.
std::string Failure(const dp::HostExec& e) {
  if (!e.status.ok()) return e.status.message();
  if (!e.signal.empty()) return "host " + e.ip + ": killed by signal " + e.signal;
  if (e.exit_code != 0) return "host " + e.ip + ": exit status " + std::to_string(e.exit_code);
  return "";
}

nlohmann::json ToJson(const dp::HostExec& e) {
  nlohmann::json j = {{"host", e.ip}, {"role", e.role}, {"stdout", e.out}, {"stderr", e.err}};
  j["exit_code"] = e.status.ok() && e.signal.empty() ? nlohmann::json(e.exit_code) : nlohmann::json();
  if (!e.signal.empty()) j["signal"] = e.signal;
  if (!e.status.ok()) j["error"] = e.status.message();
  return j;
}

struct ExecFlags {
  std::string cluster, format = "text", first;
  std::vector<std::string> rest, roles, hosts;
  SshFlags ssh;
};

void RunExec(const Global& g, const ExecFlags& f, bool quiet) {
  // CLUSTER CMD... , or with -c: CMD... (the first word lands in `first`).
  std::string name = f.cluster.empty() ? f.first : f.cluster;
  std::vector<std::string> words = f.rest;
  if (!f.cluster.empty() && !f.first.empty()) words.insert(words.begin(), f.first);
  if (name.empty())
    Fail(cfs::Status::Invalid("give the cluster and the command: cimg exec CLUSTER -- CMD [ARG...]"));
  if (words.empty()) Fail(cfs::Status::Invalid("give the command to run"));
  std::string command;
  for (const auto& w : words) command += (command.empty() ? "" : " ") + w;
  auto store = Must(OpenStore(g));
  dp::Clusterfile cf = Must(dp::LoadSavedCluster(ClustersDir(*store), name));
  dp::ExecTargets t{SplitComma(f.roles), SplitComma(f.hosts)};
  const bool json = f.format == "json";
  auto results = Must(dp::ExecOnHosts(cf, command, t, f.ssh.Options(quiet), [&](const dp::HostExec& e) {
    if (json) return;
    PrintPrefixed(stdout, e.ip, e.out);
    PrintPrefixed(stderr, e.ip, e.err);
    std::fflush(stdout);
  }));
  nlohmann::json all = nlohmann::json::array();
  size_t failed = 0;
  for (const auto& e : results) {
    all.push_back(ToJson(e));
    std::string why = Failure(e);
    if (why.empty()) continue;
    failed++;
    std::fprintf(stderr, "cimg: %s\n", why.c_str());
  }
  if (json) std::printf("%s\n", all.dump(2).c_str());
  if (failed) std::exit(1);
}

}  // namespace

void AddExecCommands(CLI::App& app, const Global& g, const bool& quiet) {
  auto* ex = app.add_subcommand("exec", "Run a shell command on the hosts of a deployed cluster");
  static ExecFlags f;
  ex->add_option("CLUSTER", f.first, "Cluster deployed from here (with -c: the command)");
  ex->add_option("CMD", f.rest, "The command and its arguments (after --)");
  ex->add_option("-c,--cluster-name", f.cluster, "Cluster (sealer's spelling; then every ARG is the command)");
  ex->add_option("-r,--roles", f.roles, "Only hosts of these roles: master, node (comma-separated)");
  ex->add_option("--hosts", f.hosts, "Only these host IPs (comma-separated)");
  ex->add_option("--format", f.format, "Output: text (each line as \"IP: line\") or json")
      ->check(CLI::IsMember({"text", "json"}));
  f.ssh.Add(ex);
  ex->footer(
      "Runs as root in the cluster's rootfs on each host (/var/lib/cimg/CLUSTER/rootfs), with the\n"
      "host's environment of the deploy exported, on every selected host at once. Each output line\n"
      "is prefixed with its host; exit status 0 when the command succeeded on every host, else 1,\n"
      "each failing host named.\n\n"
      "Examples:\n"
      "  cimg exec my-cluster -- cat /etc/hosts\n"
      "  cimg exec my-cluster --roles master -- kubectl get nodes\n"
      "  cimg exec -c my-cluster 'systemctl is-active containerd'\n"
      "  cimg exec my-cluster --hosts 10.0.0.3 --format json -- uname -m");
  ex->callback([&g, &quiet] { RunExec(g, f, quiet); });
}

}  // namespace cimg
