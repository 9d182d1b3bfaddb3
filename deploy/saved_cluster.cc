#include "deploy/saved_cluster.h"

#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

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
  return LoadSavedClusterfile(path);
}

Result<Clusterfile> LoadSavedClusterfile(const std::string& path) {
  ASSIGN_OR_RETURN(Clusterfile cf, LoadClusterfile(path));
  if (!cf.registry.defaults_recorded) UseLegacyRegistryDefaults(&cf.registry);
  return cf;
}

Status KeepDeployedRegistryDefaults(const std::string& clusters_dir, Clusterfile* cf) {
  if (cf->registry.defaults_recorded) return Status::Ok();
  const std::string path = SavedClusterfile(clusters_dir, cf->name);
  if (!PathExists(path)) return Status::Ok();
  ASSIGN_OR_RETURN(Clusterfile saved, LoadSavedClusterfile(path));
  if (saved.registry.legacy_defaults) UseLegacyRegistryDefaults(&cf->registry);
  return Status::Ok();
}

namespace {
std::string StatePath(const std::string& clusters_dir, const std::string& name) {
  return clusters_dir + "/" + name + "/state";
}
}  // namespace

Status SaveClusterState(const std::string& clusters_dir, const std::string& name,
                        const ClusterState& st) {
  RETURN_IF_ERROR(CheckClusterName(name));
  nlohmann::json j{{"state", st.state}, {"image", st.image}, {"detail", st.detail},
                   {"updated", st.updated}, {"image_id", st.image_id}, {"manifest", st.manifest},
                   {"operation", st.operation}};
  if (!st.previous.empty())
    j["previous"] = {{"name", st.previous.name}, {"id", st.previous.id},
                     {"manifest", st.previous.manifest}};
  RETURN_IF_ERROR(MakeDirs(clusters_dir + "/" + name, 0700));
  return WriteFileAtomic(StatePath(clusters_dir, name), j.dump() + "\n", 0600);
}

Result<ClusterState> LoadClusterState(const std::string& clusters_dir, const std::string& name) {
  RETURN_IF_ERROR(CheckClusterName(name));
  const std::string path = StatePath(clusters_dir, name);
  if (!PathExists(path)) return Status::NotFound("no state recorded for cluster " + name);
  ASSIGN_OR_RETURN(std::string data, ReadFile(path, 1 << 20));
  auto j = nlohmann::json::parse(data, nullptr, false);
  if (!j.is_object() || !j.value("state", nlohmann::json()).is_string())
    return Status::Corruption(path + ": not a cluster state");
  ClusterState st;
  st.state = j.value("state", "");
  st.image = j.value("image", "");
  st.detail = j.value("detail", "");
  st.updated = j.value("updated", int64_t{0});
  st.image_id = j.value("image_id", "");
  st.manifest = j.value("manifest", "");
  st.operation = j.value("operation", "");
  if (auto p = j.find("previous"); p != j.end() && p->is_object()) {
    st.previous.name = p->value("name", "");
    st.previous.id = p->value("id", "");
    st.previous.manifest = p->value("manifest", "");
  }
  return st;
}

std::string PreviousClusterfile(const std::string& clusters_dir, const std::string& name) {
  return SavedClusterfile(clusters_dir, name) + ".previous";
}

Status KeepPreviousClusterfile(const std::string& clusters_dir, const std::string& name) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(SavedClusterfile(clusters_dir, name), 16 << 20));
  return WriteFileAtomic(PreviousClusterfile(clusters_dir, name), text, 0600);
}

Result<std::vector<std::string>> ListSavedClusters(const std::string& clusters_dir) {
  std::vector<std::string> names;
  if (!PathExists(clusters_dir)) return names;
  ASSIGN_OR_RETURN(std::vector<std::string> entries, ListDir(clusters_dir));
  for (auto& n : entries)
    if (CheckClusterName(n).ok() && PathExists(SavedClusterfile(clusters_dir, n))) names.push_back(std::move(n));
  return names;
}

void ForgetCluster(const std::string& clusters_dir, const std::string& name) {
  std::string saved = SavedClusterfile(clusters_dir, name);
  unlink(StatePath(clusters_dir, name).c_str());
  unlink(PreviousClusterfile(clusters_dir, name).c_str());
  unlink(saved.c_str());
  const std::string dir = saved.substr(0, saved.rfind('/'));
  (void)RemoveTree(dir + "/registry-tls");  // the registry's CA (registry_tls.h)
  rmdir(dir.c_str());
}

Result<std::vector<std::string>> DroppedHosts(const std::string& clusters_dir,
                                              const Clusterfile& cf, Clusterfile* saved) {
  std::string path = SavedClusterfile(clusters_dir, cf.name);
  if (!PathExists(path)) return std::vector<std::string>();
  ASSIGN_OR_RETURN(*saved, LoadSavedClusterfile(path));
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
