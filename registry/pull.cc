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

}  // namespace cfs::registry
