#include "deploy/saved_cluster.h"

#include <unistd.h>

#include <algorithm>

#include "base/io.h"

namespace cfs::deploy {

namespace {

bool HasHost(const std::vector<Clusterfile::Host>& hosts, const std::string& ip) {
  return std::any_of(hosts.begin(), hosts.end(), [&](const auto& h) { return h.ip == ip; });
}

}  // namespace

std::string SavedClusterfile(const std::string& clusters_dir, const std::string& name) {
  return clusters_dir + "/" + name + "/Clusterfile";
}

Status SaveCluster(const std::string& clusters_dir, const Clusterfile& cf) {
  std::string path = SavedClusterfile(clusters_dir, cf.name);
  RETURN_IF_ERROR(MakeDirs(path.substr(0, path.rfind('/')), 0700));
  return WriteFileAtomic(path, EmitClusterfile(cf), 0600);
}

Result<Clusterfile> LoadSavedCluster(const std::string& clusters_dir, const std::string& name) {
  RETURN_IF_ERROR(CheckClusterName(name));
  std::string path = SavedClusterfile(clusters_dir, name);
  if (!PathExists(path))
    return Status::NotFound("no deployed cluster named " + name + " (no " + path + ")");
  return LoadClusterfile(path);
}

void ForgetCluster(const std::string& clusters_dir, const std::string& name) {
  std::string saved = SavedClusterfile(clusters_dir, name);
  unlink(saved.c_str());
  rmdir(saved.substr(0, saved.rfind('/')).c_str());
}

Result<std::vector<std::string>> DroppedHosts(const std::string& clusters_dir,
                                              const Clusterfile& cf, Clusterfile* saved) {
  std::string path = SavedClusterfile(clusters_dir, cf.name);
  if (!PathExists(path)) return std::vector<std::string>();
  ASSIGN_OR_RETURN(*saved, LoadClusterfile(path));
  auto now = cf.Hosts();
  std::vector<std::string> dropped;
  for (const auto& h : saved->Hosts())
    if (!HasHost(now, h.ip)) dropped.push_back(h.ip);
  return dropped;
}

Result<Clusterfile> WithHostsAdded(const Clusterfile& cf, const std::vector<HostGroup>& groups) {
  auto hosts = cf.Hosts();
  std::vector<std::string> given;
  for (const auto& gr : groups) {
    for (const auto& ip : gr.ips) {
      if (HasHost(hosts, ip)) return Status::Invalid("host " + ip + " is already in cluster " + cf.name);
      if (std::find(given.begin(), given.end(), ip) != given.end())
        return Status::Invalid("host " + ip + " is given twice");
      given.push_back(ip);
    }
  }
  Clusterfile out = cf;
  out.hosts.insert(out.hosts.end(), groups.begin(), groups.end());
  return ParseClusterfile(EmitClusterfile(out), "scale-up");
}

Result<Clusterfile> WithHostsRemoved(const Clusterfile& cf, const std::vector<std::string>& ips) {
  auto hosts = cf.Hosts();
  for (const auto& ip : ips) {
    if (!HasHost(hosts, ip)) return Status::NotFound("host " + ip + " is not in cluster " + cf.name);
    if (ip == hosts[0].ip) return Status::Invalid("host " + ip + " is master0; it cannot be removed");
  }
  Clusterfile out = cf;
  auto removed = [&](const std::string& ip) {
    return std::find(ips.begin(), ips.end(), ip) != ips.end();
  };
  for (auto& gr : out.hosts) gr.ips.erase(std::remove_if(gr.ips.begin(), gr.ips.end(), removed), gr.ips.end());
  out.hosts.erase(std::remove_if(out.hosts.begin(), out.hosts.end(),
                                 [](const HostGroup& gr) { return gr.ips.empty(); }),
                  out.hosts.end());
  return out;
}

}  // namespace cfs::deploy
