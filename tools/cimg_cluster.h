// What the cluster commands (deploy, delete, scale-up, scale-down, exec)
// share: the SSH flags and the DeployOptions they make, and where the
// clusters deployed from here are saved.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "deploy/deploy.h"
#include "store/store.h"

namespace cimg {

// deploy/saved_cluster.h's clusters_dir: <store root>/clusters.
inline std::string ClustersDir(const cfs::Store& store) { return store.root() + "/clusters"; }

// "a,b" "c" → a, b, c (empty parts dropped): list flags given either way.
inline std::vector<std::string> SplitComma(const std::vector<std::string>& in) {
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
  // --fanout, for the commands that send a rootfs (deploy, scale-up).
  int fanout = cfs::deploy::kDefaultFanout;
  void AddFanout(CLI::App* c) {
    c->add_option("--fanout", fanout,
                  "Hosts relay the rootfs to each other, each to at most N others; the deploy "
                  "host sends about one copy (0: it sends every host its own; default " +
                      std::to_string(cfs::deploy::kDefaultFanout) + ")")
        ->check(CLI::Range(0, 64));
  }
  cfs::deploy::DeployOptions Options(bool quiet) const {
    cfs::deploy::DeployOptions o;
    o.known_hosts = known_hosts;
    o.insecure_host_keys = insecure;
    o.parallel = parallel;
    o.fanout = fanout;
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

struct RegistryFlags;
class DeployFormat;

// Makes sure the image is in the store: pulls registry references
// (cimg_deploy.cc).
void EnsureImage(cfs::Store& store, const std::string& image, const RegistryFlags& reg, bool quiet);

// The per-host table (or JSON) of a deploy, upgrade or rollback (cimg_deploy.cc).
// fmt: --format (tools/deploy_format.h), parsed before the deploy started.
void PrintReport(const cfs::deploy::Clusterfile& cf, const cfs::deploy::DeployReport& r,
                 double secs, const DeployFormat& fmt);

}  // namespace cimg
