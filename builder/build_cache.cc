#include "builder/build_cache.h"

#include <nlohmann/json.hpp>

namespace cfs::builder {

using nlohmann::json;

Status LeaseLayers(Store& store, const std::vector<Digest>& ids, Leases* leases) {
  ASSIGN_OR_RETURN(auto l, store.TakeLease(ids));
  leases->push_back(std::move(l));
  for (const auto& d : ids) {
    ASSIGN_OR_RETURN(bool has, store.HasLayer(d));
    if (!has) return Status::NotFound("layer " + d.ToString() + " is no longer in the store");
  }
  return Status::Ok();
}

Digest ChainKey(const std::vector<Digest>& diff_ids) {
  Sha256 h;
  for (const auto& d : diff_ids) h.Update(d.ToString() + "\n");
  return h.Finish();
}

std::optional<BuildCache::Hit> BuildCache::Lookup(const Digest& key, Leases* leases) {
  if (disabled_) return std::nullopt;
  auto v = store_.GetBuildCache(key);
  if (!v.ok() || !*v) return std::nullopt;
  json j = json::parse(**v, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  Hit hit;
  hit.created = j.value("created", "");
  std::string layer = j.value("diff_id", "");
  if (!layer.empty()) {
    auto d = Digest::Parse(layer);
    if (!d.ok()) return std::nullopt;
    if (!LeaseLayers(store_, {*d}, leases).ok()) return std::nullopt;
    hit.layer = *d;
  }
  return hit;
}

Status BuildCache::Put(const Digest& key, const std::string& diff_id, const std::string& created) {
  json entry = {{"diff_id", diff_id}, {"created", created}};
  return store_.PutBuildCache(key, entry.dump());
}

}  // namespace cfs::builder
