#include "pack_check.h"

namespace cfs {

Status CheckPackWithIndex(const ChunkMap& indexed, CheckedPack* p) {
  auto it = indexed.find(p->id);
  static const std::unordered_map<uint64_t, IndexedChunk> kNone;
  const auto& here = it == indexed.end() ? kNone : it->second;
  size_t matched = 0;
  auto scan = ScanPack(p->path, [&](const PackRecord& r) {
    auto e = here.find(r.loc.offset);
    if (e == here.end()) {
      if (!r.reclaimed) p->unindexed.push_back(r.loc);
      return Status::Ok();
    }
    const ChunkLoc& want = e->second.loc;
    if (r.reclaimed || r.digest != e->second.digest || r.loc.clen != want.clen ||
        r.loc.ulen != want.ulen)
      return Status::Corruption(p->path + ": the record at " + std::to_string(r.loc.offset) +
                                " is not the chunk the index puts there");
    matched++;
    return Status::Ok();
  });
  RETURN_IF_ERROR(scan.status());
  p->scan = *scan;
  if (matched != here.size())
    return Status::Corruption(p->path + ": " + std::to_string(here.size() - matched) +
                              " indexed chunk(s) lie past a damaged record at " +
                              std::to_string(scan->valid_end));
  return Status::Ok();
}

}  // namespace cfs
