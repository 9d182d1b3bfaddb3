#include "registry/pull.h"

#include "registry/image_io.h"
#include "store/work_dir.h"

namespace cfs::registry {

Result<PullResult> PullFromRegistry(Store& store, const Reference& ref,
                                    const PullFromRegistryOptions& o) {
  std::shared_ptr<Client> client = o.client;
  if (!client) {
    ASSIGN_OR_RETURN(auto c, Client::Create(ref.registry, o.client_options));
    client = std::move(c);
  }
  WorkDir work;  // declared before the reader: removed after it is gone
  std::string scratch = o.scratch_dir;
  if (scratch.empty()) {
    ASSIGN_OR_RETURN(work, WorkDir::Create(store.root(), "pull-"));
    scratch = work.path();
  }
  ASSIGN_OR_RETURN(auto src, OpenRegistrySource(client, ref, scratch, o.parallel));
  auto pulled = store.PullFrom(*src, o.source.empty() ? "docker://" + ref.ToString() : o.source,
                               ref.LocalName(), o.pull);
  src.reset();  // joins its transfer threads first
  return pulled;
}

Result<PullResult> PullFromSource(Store& store, const std::string& source,
                                  PullFromRegistryOptions& o) {
  if (source.empty()) return Status::Invalid("no source recorded");
  for (const char* t : {"oci:", "oci-archive:", "docker-archive:"})
    if (source.rfind(t, 0) == 0) return store.Pull(source, o.pull);
  if (!IsRegistryReference(source))
    return Status::Invalid("\"" + source + "\" is not a source to pull from");
  ASSIGN_OR_RETURN(Reference ref, Reference::Parse(source));
  if (!o.client) {
    ASSIGN_OR_RETURN(auto c, Client::Create(ref.registry, o.client_options));
    o.client = std::move(c);
  }
  return PullFromRegistry(store, ref, o);
}

}  // namespace cfs::registry
