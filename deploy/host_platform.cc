#include "deploy/host_platform.h"

#include "transport/oci_metadata.h"

namespace cfs::deploy {

Result<std::vector<size_t>> ChooseHostImages(const std::vector<ImageListChild>& children,
                                             const std::vector<HostMachine>& hosts,
                                             const std::string& list_name) {
  std::vector<size_t> out;
  std::string refused;
  for (const auto& h : hosts) {
    Platform want = Platform::FromMachine(h.machine);
    size_t i = 0;
    while (i < children.size() && !oci::PlatformMatches(want, children[i].platform)) i++;
    if (i == children.size()) {
      refused += (refused.empty() ? "" : "; ") + std::string("host ") + h.ip + " is " + h.machine +
                 " (" + want.ToString() + ")";
      continue;
    }
    out.push_back(i);
  }
  if (refused.empty()) return out;
  std::string have;
  for (const auto& c : children) have += (have.empty() ? "" : ", ") + c.platform.ToString();
  return Status::Invalid(refused + ", but image list " + list_name + " has no image for it (it has " +
                         (have.empty() ? "none" : have) + "); no host was changed");
}

}  // namespace cfs::deploy
