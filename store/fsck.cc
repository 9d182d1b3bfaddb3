// Store::Fsck: re-verifies every indexed chunk against its digest and every
// reference (name -> image -> manifest/config/layers -> chunks). Read-only.

#include <unordered_map>
#include <unordered_set>

#include "store/store_impl.h"

namespace cfs {

using nlohmann::json;

Result<FsckReport> Store::Fsck() {
  FsckReport rep;
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());  // keeps gc out
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  auto problem = [&](std::string s) { rep.problems.push_back(std::move(s)); };

  // Chunks: every indexed chunk must read back and match its digest.
  std::unordered_set<Digest, DigestHash> chunks;
  std::unordered_map<uint64_t, std::unordered_set<uint64_t>> indexed_at;
  std::vector<std::pair<Digest, ChunkLoc>> all;
  RETURN_IF_ERROR(ix->Scan("c", [&](std::string_view k, std::string_view v) {
    Digest d = Digest::FromRaw(k.substr(1));
    auto loc = ChunkLoc::Decode(v);
    if (!loc.ok()) {
      problem("chunk " + d.ToString() + ": bad index entry");
      return true;
    }
    all.emplace_back(d, *loc);
    return true;
  }));
  for (const auto& [d, loc] : all) {
    rep.chunks_checked++;
    auto data = impl_->packs.ReadChunk(d, loc);
    if (!data.ok()) {
      problem(data.status().message());
      continue;
    }
    chunks.insert(d);
    indexed_at[loc.pack_id].insert(loc.offset);
  }

  // Layers: TOC and tar-split decode; every referenced chunk is present.
  std::unordered_set<Digest, DigestHash> layers;
  RETURN_IF_ERROR(ix->Scan("t", [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromRaw(k.substr(1));
    rep.layers_checked++;
    auto toc = LayerToc::Decode(v);
    if (!toc.ok()) {
      problem("layer " + id.ToString() + ": " + toc.status().message());
      return true;
    }
    if (toc->diff_id != id) problem("layer " + id.ToString() + ": TOC names another diffID");
    size_t missing = 0;
    for (const auto& c : toc->chunks)
      if (!chunks.count(c.digest)) {
        if (missing++ == 0)
          problem("layer " + id.ToString() + ": chunk " + c.digest.ToString() +
                  " is missing or corrupt");
      }
    if (missing > 1)
      problem("layer " + id.ToString() + ": " + std::to_string(missing) + " chunks unusable");
    layers.insert(id);
    return true;
  }));
  for (const auto& id : layers) {
    ASSIGN_OR_RETURN(auto sv, ix->Get(key::Split(id)));
    if (!sv) {
      problem("layer " + id.ToString() + ": tar-split missing");
      continue;
    }
    auto split = TarSplit::Decode(*sv);
    if (!split.ok()) problem("layer " + id.ToString() + ": " + split.status().message());
  }

  // Partial layers (lazy pulls): records decode and come in pairs; their
  // chunks may be missing by design.
  RETURN_IF_ERROR(ix->Scan("p", [&](std::string_view k, std::string_view v) {
    Digest id = Digest::FromRaw(k.substr(1));
    auto toc = LayerToc::Decode(v);
    if (!toc.ok()) problem("partial layer " + id.ToString() + ": " + toc.status().message());
    auto rest = ix->Get(key::PartialRest(id));
    if (!rest.ok() || !*rest) problem("partial layer " + id.ToString() + ": second record missing");
    return true;
  }));

  // Images and names.
  std::unordered_set<Digest, DigestHash> images;
  RETURN_IF_ERROR(ix->Scan("i", [&](std::string_view k, std::string_view v) {
    Digest m = Digest::FromRaw(k.substr(1));
    rep.images_checked++;
    images.insert(m);
    auto rec = ImageRecord::FromJson(v);
    if (!rec.ok()) {
      problem("image " + m.ToString() + ": " + rec.status().message());
      return true;
    }
    auto manifest = impl_->LoadBlob(*ix, m);
    if (!manifest.ok()) problem("image " + m.ToString() + ": manifest: " + manifest.status().message());
    auto config = impl_->LoadBlob(*ix, rec->config);
    if (!config.ok()) {
      problem("image " + m.ToString() + ": config: " + config.status().message());
    } else {
      try {
        json c = json::parse(*config);
        const auto& ids = c.at("rootfs").at("diff_ids");
        if (ids.size() != rec->layers.size()) problem("image " + m.ToString() + ": layer count differs from config");
        for (size_t i = 0; i < ids.size() && i < rec->layers.size(); i++)
          if (ids[i].get<std::string>() != rec->layers[i].diff_id.ToString())
            problem("image " + m.ToString() + ": layer " + std::to_string(i + 1) +
                    " differs from config diff_ids");
      } catch (const std::exception& e) {
        problem("image " + m.ToString() + ": config: " + e.what());
      }
    }
    for (const auto& l : rec->layers)
      if (!layers.count(l.diff_id))
        problem("image " + m.ToString() + ": layer " + l.diff_id.ToString() + " missing");
    return true;
  }));
  RETURN_IF_ERROR(ix->Scan("n", [&](std::string_view k, std::string_view v) {
    auto m = Digest::Parse(v);
    if (!m.ok() || !images.count(*m))
      problem("name " + std::string(k.substr(1)) + ": points at a missing image");
    return true;
  }));

  // Pack records nobody indexes: garbage for gc, not an error.
  auto packs = ListDir(impl_->packs_dir, ".pack");
  if (!packs.ok()) {
    problem(packs.status().message());
  } else {
    for (const auto& n : *packs) {
      uint64_t id = 0, end = 0;
      Status s = ScanPack(impl_->packs_dir + "/" + n, &id,
                          [&](const PackRecord& r) {
                            auto it = indexed_at.find(r.loc.pack_id);
                            if (!r.reclaimed && (it == indexed_at.end() ||
                                                 !it->second.count(r.loc.offset)))
                              rep.garbage_records++;
                            return Status::Ok();
                          },
                          &end);
      if (!s.ok()) problem(s.message());
    }
  }
  return rep;
}

}  // namespace cfs
