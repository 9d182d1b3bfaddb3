#include "lazy/lazy_plan.h"

#include <optional>

#include "registry/image_io.h"
#include "layer/zstd_chunked_reader.h"

namespace cfs::lazy {

using registry::Client;
using registry::Reference;

namespace {

// One layer's TOC: from the store, else (zstd:chunked) its metadata only,
// else the layer pulled whole.
class LayerPlanner {
 public:
  LayerPlanner(Store& store, LazyChunkSource& lazy, std::shared_ptr<Client> client,
               ImageSourceReader& src, const Reference& ref, const LazyPlanOptions& o)
      : store_(store), lazy_(lazy), client_(std::move(client)), src_(src), ref_(ref), o_(o) {}

  Result<std::shared_ptr<const LayerToc>> Toc(const Descriptor& d, const Digest& diff_id, size_t i) {
    const std::string what = ref_.ToString() + " layer " + std::to_string(i + 1);
    if (auto toc = store_.GetLayerToc(diff_id); toc.ok())
      return std::make_shared<const LayerToc>(std::move(*toc));
    ASSIGN_OR_RETURN(std::optional<ChunkedLayer> layer, Chunked(d, diff_id, what));
    if (!layer) {
      RETURN_IF_ERROR(store_.ImportLayer(src_, d, diff_id, nullptr));
      ASSIGN_OR_RETURN(LayerToc toc, store_.GetLayerToc(diff_id));
      return std::make_shared<const LayerToc>(std::move(toc));
    }
    auto toc = std::make_shared<const LayerToc>(std::move(layer->toc));
    lazy_.AddLayer(client_, ref_.repository, d, toc, std::move(layer->where));
    return toc;
  }

 private:
  // The layer's chunked metadata: kept in the store, else fetched (and
  // kept); nullopt when it has none (logged: it is fetched whole).
  Result<std::optional<ChunkedLayer>> Chunked(const Descriptor& d, const Digest& diff_id,
                                              const std::string& what) {
    ASSIGN_OR_RETURN(std::optional<ChunkedLayer> layer, store_.GetPartialLayer(diff_id));
    if (layer) return layer;
    auto cp = ChunkedPositionsOf(d.annotations, d.size, what);
    bool no_range = false;
    if (cp.ok() && cp->has_value()) {
      auto read = [&](uint64_t off, uint64_t len) { return src_.ReadBlobRange(d, off, len); };
      auto l = FetchChunkedMetadata(read, d.size, **cp, diff_id, what);
      if (l.ok()) {
        RETURN_IF_ERROR(store_.PutPartialLayer(*l));
        return std::optional<ChunkedLayer>(std::move(*l));
      }
      if (l.status().code() != Status::Code::kUnsupported) return l.status();
      no_range = true;  // the registry ignores Range requests
    }
    if (o_.log)
      o_.log(what + " (" + d.media_type + ", " + std::to_string(d.size) + " bytes): " +
             (no_range ? "registry ignores Range requests" : "is not lazily readable (not zstd:chunked)") +
             ": fetching it whole");
    return std::optional<ChunkedLayer>();
  }

  Store& store_;
  LazyChunkSource& lazy_;
  std::shared_ptr<Client> client_;
  ImageSourceReader& src_;
  const Reference& ref_;
  const LazyPlanOptions& o_;
};

}  // namespace

Result<ImageStack> PlanLazyImage(Store& store, LazyChunkSource& lazy, const Reference& ref,
                                 const LazyPlanOptions& o) {
  std::shared_ptr<Client> client = o.connected;
  if (!client) {
    ASSIGN_OR_RETURN(auto c, Client::Create(ref.registry, o.client));
    client = std::move(c);
  }
  ASSIGN_OR_RETURN(auto src, registry::OpenRegistrySource(client, ref, o.tmp_dir));
  ASSIGN_OR_RETURN(auto img, src->Resolve(o.platform));
  ASSIGN_OR_RETURN(auto lease, store.TakeLease(img.diff_ids));
  LayerPlanner planner(store, lazy, client, *src, ref, o);
  std::vector<std::shared_ptr<const LayerToc>> tocs;
  for (size_t i = 0; i < img.layers.size(); i++) {
    ASSIGN_OR_RETURN(auto toc, planner.Toc(img.layers[i], img.diff_ids[i], i));
    tocs.push_back(std::move(toc));
  }
  auto stack = LayerStack::Build(std::move(tocs));
  if (!stack.ok()) return stack.status().Prefix("image " + ref.ToString());
  return ImageStack{std::move(lease), std::move(*stack)};
}

}  // namespace cfs::lazy
