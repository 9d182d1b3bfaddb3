#include "deploy/image_plugins.h"

#include <algorithm>
#include <cstdlib>

#include "deploy/host_script.h"

namespace cfs::deploy {

Result<std::vector<Plugin>> ParsePluginListing(const std::string& listing) {
  static const std::string kHeader = "cimg-plugin-file ";
  std::vector<Plugin> out;
  size_t pos = 0;
  while (pos < listing.size()) {
    size_t nl = listing.find('\n', pos);
    if (listing.compare(pos, kHeader.size(), kHeader) != 0 || nl == std::string::npos)
      return Status::Corruption("plugin listing from master0: bad header at byte " +
                                std::to_string(pos));
    std::string line = listing.substr(pos + kHeader.size(), nl - pos - kHeader.size());
    char* end = nullptr;
    unsigned long long size = std::strtoull(line.c_str(), &end, 10);
    if (end == line.c_str() || *end != ' ' || size > listing.size() - nl - 1)
      return Status::Corruption("plugin listing from master0: bad header \"" + line + "\"");
    std::string name = "plugins/" + std::string(end + 1);
    ASSIGN_OR_RETURN(std::vector<Plugin> pl, ParsePluginDocs(listing.substr(nl + 1, size), name));
    for (auto& p : pl) out.push_back(std::move(p));
    pos = nl + 1 + size;
  }
  return out;
}

Result<std::vector<Plugin>> ReadImagePlugins(HostRunner& run, HostCtx& m0) {
  ExecResult r;
  RETURN_IF_ERROR(run.Run(m0, "reading the image's plugins/",
                          HostCommand(host_scripts::kReadPlugins, {run.Rootfs()}), "", &r));
  auto plugins = ParsePluginListing(r.out);
  if (!plugins.ok()) return plugins.status().Prefix("host " + m0.host.ip);
  return plugins;
}

std::vector<Plugin> HooksOf(const std::string& phase, const std::vector<Plugin>& image,
                            const std::vector<Plugin>& clusterfile) {
  std::vector<Plugin> out;
  for (const auto* list : {&image, &clusterfile})
    for (const Plugin& p : *list)
      if (std::find(p.phases.begin(), p.phases.end(), phase) != p.phases.end()) out.push_back(p);
  std::stable_sort(out.begin(), out.end(),
                   [](const Plugin& a, const Plugin& b) { return a.name < b.name; });
  return out;
}

}  // namespace cfs::deploy
