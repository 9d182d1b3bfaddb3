#include "lazy/lazy_plan.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "registry/image_io.h"
#include "store/read_profile.h"
#include "layer/zstd_chunked_reader.h"

namespace cfs::lazy {

using registry::Client;
using registry::Reference;

namespace {

// The layers' TOCs: from the store, else (zstd:chunked) their TOCs alone,
// all fetched at once with one Range request each, else the layer pulled
// whole.
class LayerPlanner {
 public:
  LayerPlanner(Store& store, LazyChunkSource& lazy, std::shared_ptr<Client> client,
               ImageSourceReader& src, const Reference& ref, const LazyPlanOptions& o)
      : store_(store), lazy_(lazy), client_(std::move(client)), src_(src), ref_(ref), o_(o) {}

  Result<std::vector<std::shared_ptr<const LayerToc>>> Tocs(const SourceImage& img) {
    const size_t n = img.layers.size();
    std::vector<std::shared_ptr<const LayerToc>> tocs(n);
    std::vector<std::optional<ChunkedLayer>> chunked(n);
    std::vector<Pending> pending;
    for (size_t i = 0; i < n; i++) {
      if (auto toc = store_.GetLayerToc(img.diff_ids[i]); toc.ok()) {
        tocs[i] = std::make_shared<const LayerToc>(std::move(*toc));
        continue;
      }
      ASSIGN_OR_RETURN(chunked[i], store_.GetPartialLayer(img.diff_ids[i]));
      if (chunked[i]) continue;
      auto cp = ChunkedPositionsOf(img.layers[i].annotations, img.layers[i].size, What(i));
      if (cp.ok() && cp->has_value()) pending.push_back({i, **cp, Status::Ok()});
      else Whole(img.layers[i], i, false);
    }
    FetchTocs(img, pending, &chunked);
    for (const Pending& p : pending) {
      if (p.status.ok()) {
        RETURN_IF_ERROR(store_.PutPartialLayer(*chunked[p.layer]));
      } else if (p.status.code() == Status::Code::kUnsupported) {
        Whole(img.layers[p.layer], p.layer, true);  // the registry ignores Range requests
      } else {
        return p.status;
      }
    }
    for (size_t i = 0; i < n; i++) {
      if (tocs[i]) continue;
      if (!chunked[i]) {
        RETURN_IF_ERROR(store_.ImportLayer(src_, img.layers[i], img.diff_ids[i], nullptr));
        ASSIGN_OR_RETURN(LayerToc toc, store_.GetLayerToc(img.diff_ids[i]));
        tocs[i] = std::make_shared<const LayerToc>(std::move(toc));
        continue;
      }
      tocs[i] = std::make_shared<const LayerToc>(std::move(chunked[i]->toc));
      lazy_.AddLayer(client_, ref_.repository, img.layers[i], tocs[i], std::move(chunked[i]->where));
    }
    return tocs;
  }

 private:
  struct Pending {
    size_t layer;
    ChunkedPositions pos;
    Status status;  // of its fetch
  };

  std::string What(size_t i) const { return ref_.ToString() + " layer " + std::to_string(i + 1); }

  // Fetches the TOC of every pending layer, several at once: into
  // (*chunked)[layer], or the failure into its status.
  void FetchTocs(const SourceImage& img, std::vector<Pending>& pending,
                 std::vector<std::optional<ChunkedLayer>>* chunked) {
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t k; (k = next++) < pending.size();) {
        Pending& p = pending[k];
        const Descriptor& d = img.layers[p.layer];
        // (The client, not src_: a reader is one thread at a time; the
        // client is thread-safe.)
        auto read = [&](uint64_t off, uint64_t len) {
          return client_->GetBlobRange(ref_.repository, d.digest, off, len);
        };
        auto l = FetchChunkedToc(read, d.size, p.pos, img.diff_ids[p.layer], What(p.layer));
        if (l.ok()) (*chunked)[p.layer] = std::move(*l);
        else p.status = l.status();
      }
    };
    std::vector<std::thread> threads;
    const size_t n = std::min<size_t>(pending.size(), kParallelTocs);
    for (size_t t = 1; t < n; t++) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();
  }

  // Logs that layer i is fetched whole.
  void Whole(const Descriptor& d, size_t i, bool no_range) {
    if (o_.log)
      o_.log(What(i) + " (" + d.media_type + ", " + std::to_string(d.size) + " bytes): " +
             (no_range ? "registry ignores Range requests" : "is not lazily readable (not zstd:chunked)") +
             ": fetching it whole");
  }

  static constexpr size_t kParallelTocs = 8;
  Store& store_;
  LazyChunkSource& lazy_;
  std::shared_ptr<Client> client_;
  ImageSourceReader& src_;
  const Reference& ref_;
  const LazyPlanOptions& o_;
};

// The chunks the bring-up profile kept with the image (its manifest's
// annotation) names, in its order; none when it has none (a damaged one is
// logged and ignored: it only orders a prefetch).
std::vector<ChunkRef> ProfileChunks(const std::string& manifest, const LayerStack& stack,
                                    const LazyPlanOptions& o) {
  auto m = nlohmann::json::parse(manifest, nullptr, false);
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object() ||
      !m["annotations"].contains(kReadProfileAnnotation) || !m["annotations"][kReadProfileAnnotation].is_string())
    return {};
  auto p = ReadProfile::FromAnnotation(m["annotations"][kReadProfileAnnotation].get<std::string>());
  if (!p.ok()) {
    if (o.log) o.log("the image's profile is ignored: " + p.status().message());
    return {};
  }
  std::vector<ChunkRef> out;
  for (const ReadProfile::Range& r : p->ranges) {
    auto ref = stack.Lookup(r.path);
    if (!ref || ref->synthetic()) continue;
    const LayerStack::Ref f = stack.ResolveHardlink(*ref);
    const TocEntry& e = stack.Entry(f);
    if (e.type != EntryType::kRegular) continue;
    const LayerToc& toc = stack.layer(f.layer);
    uint64_t pos = 0;
    for (uint32_t k = e.first_chunk; k < e.first_chunk + e.num_chunks && pos < r.offset + r.length; k++) {
      if (pos + toc.chunks[k].size > r.offset) out.push_back(toc.chunks[k]);
      pos += toc.chunks[k].size;
    }
  }
  if (o.log)
    o.log("profile: " + std::to_string(p->ranges.size()) + " file ranges, " + std::to_string(out.size()) +
          " chunks to fetch first");
  return out;
}

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
  ASSIGN_OR_RETURN(auto tocs, planner.Tocs(img));
  auto stack = LayerStack::Build(std::move(tocs));
  if (!stack.ok()) return stack.status().Prefix("image " + ref.ToString());
  if (auto order = ProfileChunks(img.manifest, *stack, o); !order.empty()) lazy.SetProfile(std::move(order));
  return ImageStack{std::move(lease), std::move(*stack)};
}

}  // namespace cfs::lazy
