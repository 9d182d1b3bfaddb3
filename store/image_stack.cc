#include "store/image_stack.h"

namespace cfs {

Result<LayerStack> OpenLayerStack(Store& store, const std::vector<Digest>& diff_ids) {
  std::vector<std::shared_ptr<const LayerToc>> tocs;
  for (const auto& d : diff_ids) {
    ASSIGN_OR_RETURN(LayerToc t, store.GetLayerToc(d));
    tocs.push_back(std::make_shared<const LayerToc>(std::move(t)));
  }
  return LayerStack::Build(std::move(tocs));
}

Result<ImageStack> OpenImageStack(Store& store, const std::vector<Digest>& diff_ids) {
  ASSIGN_OR_RETURN(auto lease, store.TakeLease(diff_ids));
  ASSIGN_OR_RETURN(LayerStack stack, OpenLayerStack(store, diff_ids));
  return ImageStack{std::move(lease), std::move(stack)};
}

Result<ImageStack> OpenImageStack(Store& store, const ImageDetails& image) {
  std::vector<Digest> diff_ids;
  for (const auto& l : image.layers) diff_ids.push_back(l.diff_id);
  return OpenImageStack(store, diff_ids);
}

}  // namespace cfs
