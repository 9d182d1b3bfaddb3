// The Clusterfile: which image goes to which hosts, how to reach them, and
// the SHELL plugins to run on the way (sealer's `apiVersion: sealer.io/v2`).
//
//   apiVersion: sealer.io/v2          # sealer.cloud/v2 is accepted too
//   kind: Cluster
//   metadata: {name: my-cluster}
//   spec:
//     image: cimg-examples/app:1
//     env: [K=V, ...]                 # rendering and lifecycle environment
//     cmd: ["kubectl apply -f x"]     # replaces the image's CMDs, CMDS and app launches
//     appNames: [app1, app2]          # the apps to launch (deploy/launch_plan.h)
//     ssh: {user: root, passwd: .., pk: /root/.ssh/id_ed25519, pkPasswd: .., port: 22}
//     hosts:
//     - ips: [10.0.0.2, 10.0.0.5-10.0.0.9]   # ranges as sealer's --masters takes them
//       roles: [master]               # master | node
//       ssh: {...}                    # overrides spec.ssh for these hosts
//       env: [K=V]                    # overrides spec.env for these hosts
//       labels: {k: v}
//       taints: ["k=v:NoSchedule"]
//   ---
//   apiVersion: sealer.io/v2
//   kind: Plugin
//   metadata: {name: notify}
//   spec:
//     type: SHELL
//     action: post-install            # or PostInstall; several joined by "|"
//     scope: master                   # master | node | master|node (default: all)
//     data: |
//       echo done
//
// Every unknown field, wrong type or bad value is an error "FILE:LINE: reason".
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/application_doc.h"
#include "deploy/config_docs.h"
#include "deploy/kubeadm_config.h"
#include "deploy/registry_spec.h"

namespace cfs::deploy {

struct SshSpec {
  std::optional<std::string> user, passwd, pk, pk_passwd;
  std::optional<int> port;
  // Fields set in `over` win.
  SshSpec Merge(const SshSpec& over) const;
};

struct HostGroup {
  std::vector<std::string> ips;  // ranges "A-B" expanded (deploy/ip_range.h)
  std::vector<std::string> roles;  // "master" or "node" (exactly one of them)
  SshSpec ssh;
  std::vector<std::string> env;  // "K=V"
  std::map<std::string, std::string> labels;
  std::vector<std::string> taints;
  std::vector<int> ip_lines;  // parsed: the Clusterfile line of each of ips (for errors)
};

// Plugin phases, in lifecycle order; the last three are sealer's upgrade
// and rollback phases (deploy.h, Upgrade and Rollback).
inline constexpr const char* kPhases[] = {"pre-init-host",  "post-init-host", "pre-install",
                                          "post-install",   "pre-clean-host", "post-clean-host",
                                          "upgrade-host",   "upgrade",        "rollback"};

struct Plugin {
  std::string name;
  std::vector<std::string> phases;  // canonical names from kPhases
  std::vector<std::string> scope;   // roles; empty = every host
  std::string data;                 // the shell script
};

struct Clusterfile {
  std::string name;
  std::string image;
  std::vector<std::string> env;  // "K=V"
  std::vector<std::string> cmd;  // empty = the image's
  SshSpec ssh;
  std::vector<HostGroup> hosts;
  RegistrySpec registry;          // spec.registry (deploy/registry_spec.h)
  std::string container_runtime;  // spec.containerRuntime.type
  bool has_app_names = false;          // spec.appNames given (even empty)
  std::vector<std::string> app_names;  // spec.appNames: the apps to launch (deploy/launch_plan.h)
  std::vector<Plugin> plugins;
  std::vector<ConfigDoc> configs;  // kind: Config, in order (deploy/config_docs.h)
  std::optional<ApplicationDoc> application;  // kind: Application (deploy/application_doc.h)
  std::string application_yaml;  // that document as given (saved with the Clusterfile)
  std::vector<KubeadmDoc> kubeadm;  // kubeadm documents, one per kind (deploy/kubeadm_config.h)

  // The hosts in order: masters first (the first is master0), then nodes.
  struct Host {
    std::string ip;
    bool master = false;
    SshSpec ssh;                              // spec.ssh merged with the group's
    std::map<std::string, std::string> env;   // spec.env, then the group's
    std::map<std::string, std::string> labels;
    std::vector<std::string> taints;
  };
  std::vector<Host> Hosts() const;
};

// Parses a Clusterfile; `file` names it in errors.
Result<Clusterfile> ParseClusterfile(const std::string& text, const std::string& file);
Result<Clusterfile> LoadClusterfile(const std::string& path);

// The kind: Plugin documents of a plugin file (an image's plugins/*.yaml, as
// sealer loads them); documents of other kinds are skipped. Errors name
// "FILE:LINE".
Result<std::vector<Plugin>> ParsePluginDocs(const std::string& text, const std::string& file);
// The canonical YAML of c (what deploy saves as the applied Clusterfile).
std::string EmitClusterfile(const Clusterfile& c);

// Splits "K=V" (K a shell variable name); kInvalidArgument otherwise.
Result<std::pair<std::string, std::string>> ParseEnvEntry(const std::string& kv);
// A cluster name: lower-case letters, digits and '-', at most 63 characters.
Status CheckClusterName(const std::string& name);

}  // namespace cfs::deploy
