#include "registry/push.h"

#include "store/work_dir.h"

namespace cfs::registry {

namespace {

// The repository of ref's registry that image `details` was pulled from, if
// it is another one than ref's: its blobs can be mounted from there.
std::string MountFrom(const ImageDetails& details, const Reference& ref) {
  if (details.source.rfind("docker://", 0) != 0) return "";
  auto from = Reference::Parse(details.source);
  if (!from.ok() || from->registry != ref.registry || from->repository == ref.repository)
    return "";
  return from->repository;
}

}  // namespace

Result<PushStats> PushToRegistry(Store& store, const std::string& name, Reference ref,
                                 const PushToRegistryOptions& o) {
  if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
  ASSIGN_OR_RETURN(ImageDetails details, store.Inspect(name));
  std::shared_ptr<Client> client = o.client;
  if (!client) {
    ASSIGN_OR_RETURN(auto c, Client::Create(ref.registry, o.client_options));
    client = std::move(c);
  }
  std::function<void(const std::string&, uint64_t, uint64_t)> progress;
  if (o.push.progress) {
    progress = [p = o.push.progress](const std::string& item, uint64_t done, uint64_t total) {
      p({"upload", item, done, total});
    };
  }
  PushStats stats;
  ASSIGN_OR_RETURN(WorkDir work, WorkDir::Create(store.root(), "push-"));
  ASSIGN_OR_RETURN(auto dst, OpenRegistryDestination(client, ref, work.path(),
                                                     MountFrom(details, ref), &stats, progress,
                                                     o.parallel));
  Digest manifest;
  Status pushed = store.PushTo(name, *dst, ref.digest ? "" : ref.tag, o.push, &manifest);
  dst.reset();  // joins its upload threads (which fill stats) before work goes
  RETURN_IF_ERROR(pushed);
  stats.manifest_digest = manifest;
  return stats;
}

}  // namespace cfs::registry
