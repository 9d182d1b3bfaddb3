// Store::Diff: what changed between two images' merged trees (cimg diff).
#include <map>

#include "store_impl.h"

namespace cfs {

namespace {

// What a path is in a merged tree, as compared by Diff.
struct Node {
  EntryType type = EntryType::kRegular;
  std::string meta;  // mode, owner, size, mtime, link target, device, xattrs
  Digest content;    // of the chunk list (regular files)
};

using Tree = std::map<std::string, Node>;

void EraseSubtree(Tree* t, const std::string& dir) {
  const std::string prefix = dir.empty() || dir == "." ? "" : dir + "/";
  auto it = prefix.empty() ? t->begin() : t->lower_bound(prefix);
  while (it != t->end() && it->first.compare(0, prefix.size(), prefix) == 0) it = t->erase(it);
}

Node NodeOf(const LayerToc& toc, const TocEntry& e) {
  Node n;
  n.type = e.type;
  n.meta = std::to_string(e.mode) + " " + std::to_string(e.uid) + ":" + std::to_string(e.gid) +
           " " + std::to_string(e.mtime_sec) + "." + std::to_string(e.mtime_nsec) + " " +
           std::to_string(e.size) + " " + std::to_string(e.dev_major) + "," +
           std::to_string(e.dev_minor) + " " + e.link_target;
  for (const auto& [k, v] : e.xattrs) n.meta += " " + k + "=" + Digest::Of(v).Short();
  Sha256 h;
  for (uint32_t i = e.first_chunk; i < e.first_chunk + e.num_chunks && i < toc.chunks.size(); i++)
    h.Update(toc.chunks[i].digest.Raw());
  n.content = h.Finish();
  return n;
}

// The merged tree of layers, applied base first (OCI semantics: a layer's
// whiteouts and opaque markers act on the layers below it).
Tree Merge(const std::vector<LayerToc>& layers) {
  Tree t;
  for (const auto& toc : layers) {
    for (const auto& e : toc.entries) {
      if (e.role == OverlayRole::kNone) continue;
      auto slash = e.name.rfind('/');
      std::string dir = slash == std::string::npos ? "" : e.name.substr(0, slash);
      std::string base = slash == std::string::npos ? e.name : e.name.substr(slash + 1);
      if (e.role == OverlayRole::kOpaque) {
        EraseSubtree(&t, dir);
      } else {
        std::string victim = (dir.empty() ? "" : dir + "/") + base.substr(4);
        t.erase(victim);
        EraseSubtree(&t, victim);
      }
    }
    std::map<std::string, const TocEntry*> by_name;
    for (const auto& e : toc.entries) {
      if (e.role != OverlayRole::kNone || e.name == ".") continue;
      const TocEntry* src = &e;
      if (e.type == EntryType::kHardlink) {
        auto it = by_name.find(e.link_target);
        if (it != by_name.end()) src = it->second;
      }
      by_name[e.name] = &e;
      auto old = t.find(e.name);
      if (old != t.end() && old->second.type == EntryType::kDirectory &&
          src->type != EntryType::kDirectory)
        EraseSubtree(&t, e.name);
      Node n = NodeOf(toc, *src);
      if (src->type == EntryType::kHardlink) n.type = EntryType::kRegular;
      t[e.name] = n;
    }
  }
  return t;
}

}  // namespace

Result<std::vector<Store::Change>> Store::Diff(const std::string& a, const std::string& b) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  auto layers_of = [&](const std::string& name) -> Result<std::vector<LayerToc>> {
    ASSIGN_OR_RETURN(Digest m, impl_->Resolve(*ix, name));
    ASSIGN_OR_RETURN(ImageRecord rec, impl_->LoadRecord(*ix, m));
    std::vector<LayerToc> out;
    for (const auto& l : rec.layers) {
      ASSIGN_OR_RETURN(auto v, ix->Get(key::Toc(l.diff_id)));
      if (!v) return Status::Corruption("layer " + l.diff_id.ToString() + " missing");
      ASSIGN_OR_RETURN(LayerToc t, LayerToc::Decode(*v));
      out.push_back(std::move(t));
    }
    return out;
  };
  ASSIGN_OR_RETURN(std::vector<LayerToc> la, layers_of(a));
  std::vector<LayerToc> lb;
  if (b.empty()) {
    // The image against its parent: everything but its top layer.
    lb = la;
    if (!la.empty()) la.pop_back();
  } else {
    ASSIGN_OR_RETURN(lb, layers_of(b));
  }
  Tree from = Merge(la), to = Merge(lb);
  std::vector<Change> out;
  for (const auto& [path, n] : to) {
    auto it = from.find(path);
    if (it == from.end()) {
      out.push_back({'A', path});
    } else if (it->second.type != n.type || it->second.meta != n.meta ||
               it->second.content != n.content) {
      out.push_back({'C', path});
    }
  }
  for (const auto& [path, n] : from)
    if (!to.count(path)) out.push_back({'D', path});
  std::sort(out.begin(), out.end(),
            [](const Change& x, const Change& y) { return x.path < y.path; });
  return out;
}

}  // namespace cfs
