#include "lazy/readable_image.h"

#include <utility>

#include "lazy/lazy_plan.h"
#include "registry/pull.h"

namespace cfs::lazy {

bool IsRegistryImageName(Store& store, const std::string& name) {
  if (store.Inspect(name).ok()) return false;
  if (name.rfind("docker://", 0) == 0) return true;
  auto slash = name.find('/');
  if (slash == std::string::npos) return false;
  std::string first = name.substr(0, slash);
  return first.find('.') != std::string::npos || first.find(':') != std::string::npos ||
         first == "localhost";
}

registry::Client::Stats ReadableImage::network() const {
  return client_ ? client_->stats() : registry::Client::Stats{};
}

Result<std::unique_ptr<ReadableImage>> ReadableImage::Open(Store& store, const std::string& name,
                                                           const ReadableImageOptions& o) {
  std::unique_ptr<ReadableImage> r(new ReadableImage());
  if (!IsRegistryImageName(store, name)) {
    auto det = store.Inspect(name);
    if (!det.ok() && det.status().code() == Status::Code::kNotFound)
      return Status::NotFound(
          "image '" + name + "' is not in the store " + store.root() +
          " (see 'cimg images'; a registry image is named REGISTRY/REPO[:TAG])");
    if (!det.ok()) return det.status();
    ASSIGN_OR_RETURN(ImageStack image, OpenImageStack(store, *det));
    r->image_.emplace(std::move(image));
    ASSIGN_OR_RETURN(r->chunks_, store.OpenChunkSource());
    return r;
  }
  ASSIGN_OR_RETURN(auto stash, store.OpenChunkStash());
  LazyOptions lo;
  lo.tmp_dir = store.root() + "/tmp";
  lo.read_timeout_s = o.read_timeout_s;
  lo.log = o.log;
  auto lazy = std::make_unique<LazyChunkSource>(std::move(stash), lo);
  ASSIGN_OR_RETURN(auto conf, registry::RegistriesOf(registry::PullFromRegistryOptions()));
  ASSIGN_OR_RETURN(auto candidates, conf->Resolve(name));
  // policy.json, as for a pull and a lazy mount: a refused image is not read.
  ASSIGN_OR_RETURN(auto conn, registry::ConnectForRead(candidates, *conf, o.client, o.log));
  LazyPlanOptions po;
  po.client = o.client;
  po.connected = conn.client;
  po.tmp_dir = lo.tmp_dir;
  po.platform = o.platform;
  po.log = o.log;
  ASSIGN_OR_RETURN(ImageStack image, PlanLazyImage(store, *lazy, conn.remote, po));
  r->image_.emplace(std::move(image));
  r->client_ = conn.client;
  r->chunks_ = std::move(lazy);
  return r;
}

}  // namespace cfs::lazy
