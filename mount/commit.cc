#include "mount/commit.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "base/time.h"
#include "mount/mount_state.h"

namespace cfs::mount {

using nlohmann::json;

namespace {

// The base image's config with the new layer and a history entry added.
std::string CommittedConfig(const std::string& base_config, const Digest& diff_id,
                            const std::string& mnt, const std::string& message) {
  json cfg = json::parse(base_config, nullptr, false);
  if (!cfg.is_object()) cfg = json::object();
  const std::string now = Rfc3339Utc(std::time(nullptr));
  cfg["created"] = now;
  if (!cfg.contains("rootfs") || !cfg["rootfs"].is_object())
    cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
  cfg["rootfs"]["diff_ids"].push_back(diff_id.ToString());
  if (!cfg.contains("history") || !cfg["history"].is_array()) cfg["history"] = json::array();
  json h = {{"created", now}, {"created_by", "cimg commit " + mnt}};
  if (!message.empty()) h["comment"] = message;
  cfg["history"].push_back(h);
  return cfg.dump();
}

}  // namespace

Result<MountState> CommittableMount(const std::string& given) {
  char* rp = ::realpath(given.c_str(), nullptr);
  if (!rp) return Status::NotFound(given + ": no such directory");
  std::string mnt = rp;
  ::free(rp);
  auto st = ReadMountState(mnt);
  if (!st.ok() && st.status().code() == Status::Code::kCorruption) return st.status();
  if (!st.ok()) return Status::NotFound(given + " is not a clusterfs mount");
  if (st->upper.empty())
    return Status::Invalid(given + " is read-only (no upper dir): nothing to commit");
  if (st->manifests.size() != 1 || st->manifests[0].empty() || st->dir_lowers != 0)
    return Status::Unsupported(given + ": commit needs a mount of one image from the store");
  st->mountpoint = mnt;
  return st;
}

Result<CommitResult> CommitMount(Store& store, const MountState& m, const std::string& name,
                                 const std::string& message, const ProgressFn& progress) {
  const std::string& mnt = m.mountpoint;
  if (m.root != store.root())
    return Status::Invalid(mnt + " is mounted from the store " + m.root + " (use cimg --root " +
                           m.root + ")");
  // Changes made through the mount are in the upper dir once synced.
  int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::syncfs(fd);
    ::close(fd);
  }
  ASSIGN_OR_RETURN(ImageDetails base, store.Inspect(m.manifests[0]));
  CommitResult r;
  std::unique_ptr<Store::Lease> lease;  // keeps the layer until the image names it
  ASSIGN_OR_RETURN(r.layer, store.ImportDirLayer(m.upper, progress, &lease));
  ASSIGN_OR_RETURN(r.image, store.CreateImage(name,
                                              CommittedConfig(base.config, r.layer.diff_id, mnt,
                                                              message),
                                              "commit:" + mnt, {r.layer}));
  return r;
}

}  // namespace cfs::mount
