#include "deploy/cluster_exec.h"

#include <algorithm>
#include <mutex>

#include "deploy/host_runner.h"
#include "deploy/host_script.h"

namespace cfs::deploy {

Result<std::vector<Clusterfile::Host>> SelectHosts(const Clusterfile& cf, const ExecTargets& t) {
  for (const auto& r : t.roles)
    if (r != "master" && r != "node")
      return Status::Invalid("role \"" + r + "\": the roles are master and node");
  const auto hosts = cf.Hosts();
  for (const auto& ip : t.ips)
    if (std::none_of(hosts.begin(), hosts.end(), [&](const auto& h) { return h.ip == ip; }))
      return Status::Invalid("host " + ip + " is not in cluster " + cf.name);
  std::vector<Clusterfile::Host> out;
  for (const auto& h : hosts) {
    const std::string role = h.master ? "master" : "node";
    if (!t.roles.empty() && std::find(t.roles.begin(), t.roles.end(), role) == t.roles.end())
      continue;
    if (!t.ips.empty() && std::find(t.ips.begin(), t.ips.end(), h.ip) == t.ips.end()) continue;
    out.push_back(h);
  }
  if (out.empty()) return Status::Invalid("no host of cluster " + cf.name + " is selected");
  return out;
}

Result<std::vector<HostExec>> ExecOnHosts(const Clusterfile& cf, const std::string& command,
                                          const ExecTargets& t, const DeployOptions& o,
                                          const std::function<void(const HostExec&)>& done) {
  ASSIGN_OR_RETURN(auto selected, SelectHosts(cf, t));
  HostRunner run(cf, o);
  const std::string master0 = cf.Hosts()[0].ip;
  std::vector<std::unique_ptr<HostCtx>> owned;
  std::vector<HostCtx*> ctxs;
  for (const auto& h : selected) {
    owned.push_back(run.NewHost(h, master0, {}));
    ctxs.push_back(owned.back().get());
  }
  std::vector<HostExec> results(ctxs.size());
  std::mutex mu;
  // Every host's failure is in its result; ForEach's combined status is not needed.
  (void)run.ForEach(ctxs, [&](HostCtx& c) {
    HostExec& e = results[std::find(ctxs.begin(), ctxs.end(), &c) - ctxs.begin()];
    e.ip = c.host.ip;
    e.role = c.role();
    e.status = run.Connect(c);
    if (e.status.ok()) {
      auto r = run.Exec(c, HostCommand(host_scripts::kExec, {run.Rootfs(), command}));
      if (r.ok()) {
        e.exit_code = r->exit_code;
        e.signal = r->signal;
        e.out = std::move(r->out);
        e.err = std::move(r->err);
      } else {
        e.status = r.status();
      }
    }
    std::lock_guard<std::mutex> l(mu);
    if (done) done(e);
    return Status::Ok();
  });
  return results;
}

}  // namespace cfs::deploy
