#include "lazy/lazy_store.h"

#include "registry/image_io.h"
#include "store/work_dir.h"

namespace cfs::lazy {

Result<PullResult> StoreLazyImage(Store& store, std::shared_ptr<registry::Client> client,
                                  const registry::Reference& logical,
                                  const registry::Reference& remote) {
  WorkDir work;  // declared before the reader: removed after it is gone
  ASSIGN_OR_RETURN(work, WorkDir::Create(store.root(), "pull-"));
  ASSIGN_OR_RETURN(auto src, registry::OpenRegistrySource(std::move(client), remote, work.path()));
  auto pulled = store.PullFrom(*src, "docker://" + logical.ToString(), logical.LocalName(), PullOptions());
  src.reset();  // joins its transfer threads first
  return pulled;
}

}  // namespace cfs::lazy
