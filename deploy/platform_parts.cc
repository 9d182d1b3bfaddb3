#include "deploy/platform_parts.h"

#include <algorithm>
#include <cstdint>

#include "deploy/host_platform.h"

namespace cfs::deploy {

namespace {

Result<PlatformPart> OpenPart(Store& store, const std::string& name, const Platform& platform,
                              const std::string& label) {
  ASSIGN_OR_RETURN(ImageDetails d, store.Inspect(name, platform));
  ASSIGN_OR_RETURN(ClusterImage img, ReadClusterImage(d, label));
  ASSIGN_OR_RETURN(ImageStack image, OpenImageStack(store, d));
  return PlatformPart{platform.ToString(), std::move(img), std::move(image), {}};
}

// Every host's `uname -m`, read over a connection that changes nothing.
Result<std::vector<HostMachine>> ProbeMachines(HostRunner& run) {
  const auto hosts = run.cluster().Hosts();
  std::vector<std::unique_ptr<HostCtx>> owned;
  std::vector<HostCtx*> all;
  for (const auto& h : hosts) {
    owned.push_back(run.NewHost(h, hosts[0].ip, {}));
    all.push_back(owned.back().get());
  }
  run.Log("reading the platform of " + std::to_string(all.size()) + " hosts");
  RETURN_IF_ERROR(run.ForEach(all, [&](HostCtx& c) { return run.Connect(c); }));
  std::vector<HostMachine> out;
  for (HostCtx* c : all) out.push_back({c->host.ip, c->machine});
  return out;
}

}  // namespace

Result<std::vector<PlatformPart>> PlanPlatforms(HostRunner& run, Store& store,
                                                const std::string& image) {
  ASSIGN_OR_RETURN(auto list, store.InspectImageList(image));
  const size_t n = run.cluster().Hosts().size();
  std::vector<PlatformPart> parts;
  if (!list) {
    ASSIGN_OR_RETURN(PlatformPart p, OpenPart(store, image, {}, image));
    p.platform.clear();
    for (size_t i = 0; i < n; i++) p.hosts.push_back(i);
    parts.push_back(std::move(p));
    return parts;
  }
  ASSIGN_OR_RETURN(std::vector<HostMachine> machines, ProbeMachines(run));
  ASSIGN_OR_RETURN(std::vector<size_t> chosen, ChooseHostImages(list->children, machines, image));
  std::vector<size_t> part_of_child(list->children.size(), SIZE_MAX);
  for (size_t i = 0; i < n; i++) {
    size_t c = chosen[i];
    if (part_of_child[c] == SIZE_MAX) {
      const Platform& pl = list->children[c].platform;
      ASSIGN_OR_RETURN(PlatformPart p, OpenPart(store, list->children[c].manifest.ToString(), pl,
                                                image + " (" + pl.ToString() + ")"));
      part_of_child[c] = parts.size();
      parts.push_back(std::move(p));
    }
    parts[part_of_child[c]].hosts.push_back(i);
  }
  for (const auto& p : parts)
    run.Log(p.platform + ": " + std::to_string(p.hosts.size()) + " host(s), image " + p.img.id);
  return parts;
}

const PlatformPart& PartOf(const std::vector<PlatformPart>& parts, size_t i) {
  for (const auto& p : parts)
    if (std::find(p.hosts.begin(), p.hosts.end(), i) != p.hosts.end()) return p;
  return parts.front();
}

}  // namespace cfs::deploy
