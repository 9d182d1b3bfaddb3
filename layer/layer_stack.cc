#include "layer/layer_stack.h"

#include <algorithm>
#include <unordered_map>

#include "layer/layer_rules.h"

namespace cfs {
namespace {

const TocEntry& SyntheticDir() {
  static const TocEntry* const kEntry = [] {
    auto* e = new TocEntry;
    e->type = EntryType::kDirectory;
    e->mode = 0755;
    return e;
  }();
  return *kEntry;
}

// Calls fn(component) for each component of path, skipping empty and "."
// components. Stops and returns false when fn does.
template <typename Fn>
bool ForEachComponent(std::string_view path, Fn&& fn) {
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view comp = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (comp.empty() || comp == ".") continue;
    if (!fn(comp)) return false;
  }
  return true;
}

// Splits a normalized name into (directory, base); directory is "" at the root.
std::pair<std::string_view, std::string_view> SplitDirBase(std::string_view name) {
  size_t slash = name.rfind('/');
  if (slash == std::string_view::npos) return {std::string_view(), name};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

uint64_t Key(uint32_t hi, uint32_t lo) { return (uint64_t{hi} << 32) | lo; }

}  // namespace

// Builds the merged tree in a mutable form (per-node child lists plus a hash
// of (parent, name) -> node), then freezes it into LayerStack's compact arrays.
// Removed nodes are only marked dead; Freeze() drops them.
class LayerStackBuilder {
 public:
  explicit LayerStackBuilder(LayerStack* stack) : s_(stack) {
    Intern("");
    nodes_.push_back(BNode{0, LayerStack::Ref::kSynthetic, 0, false, {}});
  }

  Status AddLayer(uint32_t k);
  void Freeze();

 private:
  struct BNode {
    uint32_t name;
    uint32_t layer;
    uint32_t entry;
    bool dead;
    std::vector<uint32_t> children;  // may hold dead nodes
  };
  static constexpr uint32_t kNone = UINT32_MAX;

  uint32_t Intern(std::string_view name) {
    auto [it, inserted] = intern_.try_emplace(name, static_cast<uint32_t>(name_views_.size()));
    if (inserted) name_views_.push_back(name);
    return it->second;
  }
  uint32_t FindChild(uint32_t parent, std::string_view name) const {
    auto n = intern_.find(name);
    if (n == intern_.end()) return kNone;
    auto c = children_.find(Key(parent, n->second));
    return c == children_.end() ? kNone : c->second;
  }
  bool IsDir(uint32_t node) const {
    const BNode& n = nodes_[node];
    return n.layer == LayerStack::Ref::kSynthetic ||
           s_->layers_[n.layer]->entries[n.entry].type == EntryType::kDirectory;
  }
  uint32_t AddChild(uint32_t parent, std::string_view name, uint32_t layer, uint32_t entry) {
    uint32_t id = static_cast<uint32_t>(nodes_.size());
    uint32_t name_id = Intern(name);
    nodes_.push_back(BNode{name_id, layer, entry, false, {}});
    nodes_[parent].children.push_back(id);
    children_[Key(parent, name_id)] = id;
    return id;
  }
  void Remove(uint32_t parent, uint32_t node) {
    children_.erase(Key(parent, nodes_[node].name));
    nodes_[node].dead = true;
  }
  // Removes every child (and so every descendant) of node.
  void ClearChildren(uint32_t node) {
    for (uint32_t c : nodes_[node].children) {
      if (!nodes_[c].dead) Remove(node, c);
    }
    nodes_[node].children.clear();
    nodes_[node].children.shrink_to_fit();
  }
  // The node at dir (through directories only), or kNone.
  uint32_t FindDir(std::string_view dir) const {
    uint32_t cur = 0;
    bool found = ForEachComponent(dir, [&](std::string_view comp) {
      cur = FindChild(cur, comp);
      return cur != kNone && IsDir(cur);
    });
    return found ? cur : kNone;
  }
  // Makes every component of dir a directory, creating synthetic ones where
  // missing and replacing non-directories; returns the node of dir.
  uint32_t EnsureDir(std::string_view dir) {
    uint32_t cur = 0;
    ForEachComponent(dir, [&](std::string_view comp) {
      uint32_t c = FindChild(cur, comp);
      if (c == kNone) {
        c = AddChild(cur, comp, LayerStack::Ref::kSynthetic, 0);
      } else if (!IsDir(c)) {
        nodes_[c].layer = LayerStack::Ref::kSynthetic;  // non-dirs have no children
        nodes_[c].entry = 0;
      }
      cur = c;
      return true;
    });
    return cur;
  }
  Status ApplyMarkers(uint32_t k);
  Status ApplyEntries(uint32_t k);

  LayerStack* s_;
  std::vector<BNode> nodes_;  // nodes_[0] is the root
  std::unordered_map<uint64_t, uint32_t> children_;  // (parent, name id) -> live node
  std::unordered_map<std::string_view, uint32_t> intern_;  // views into the TOCs
  std::vector<std::string_view> name_views_;
};

Status LayerStackBuilder::AddLayer(uint32_t k) {
  RETURN_IF_ERROR(ApplyMarkers(k));
  return ApplyEntries(k);
}

// Whiteouts and opaque markers of layer k act on layers < k only, so they
// all apply before any entry of layer k does.
Status LayerStackBuilder::ApplyMarkers(uint32_t k) {
  const LayerToc& toc = *s_->layers_[k];
  for (const TocEntry& e : toc.entries) {
    if (e.role == OverlayRole::kNone) continue;
    // The rules pulls check (layer/layer_rules.h), markers first.
    if (Status st = CheckEntry(e); !st.ok()) return st.Prefix("layer " + std::to_string(k));
    auto [dir, base] = SplitDirBase(e.name);
    uint32_t d = FindDir(dir);
    if (e.role == OverlayRole::kOpaque) {
      if (d != kNone) ClearChildren(d);
      continue;
    }
    if (d == kNone) continue;
    uint32_t victim = FindChild(d, base.substr(4));
    if (victim != kNone) Remove(d, victim);
  }
  return Status::Ok();
}

Status LayerStackBuilder::ApplyEntries(uint32_t k) {
  const LayerToc& toc = *s_->layers_[k];
  // Latest entry index of each name so far, for hard links.
  std::unordered_map<std::string_view, uint32_t> seen;
  for (uint32_t i = 0; i < toc.entries.size(); ++i) {
    const TocEntry& e = toc.entries[i];
    if (e.name.empty()) {
      return Status::Corruption("layer " + std::to_string(k) + ": entry " + std::to_string(i) +
                                " has an empty name");
    }
    if (e.role == OverlayRole::kNone) {
      if (Status st = CheckEntry(e); !st.ok()) return st.Prefix("layer " + std::to_string(k));
    } else {
      EnsureDir(SplitDirBase(e.name).first);
      seen[e.name] = i;
      continue;
    }
    if (e.type == EntryType::kHardlink) {
      auto bad = [&] {
        return Status::Corruption("layer " + std::to_string(k) + ": hard link " +
                                  QuoteForMessage(e.name) + " names no earlier file " +
                                  QuoteForMessage(e.link_target));
      };
      LayerStack::Ref target;
      auto t = seen.find(e.link_target);
      if (t != seen.end()) {
        if (toc.entries[t->second].role != OverlayRole::kNone ||
            toc.entries[t->second].type == EntryType::kDirectory)
          return bad();
        target = {k, t->second};
      } else {
        // As extraction onto disk does: a file that lower layers left there.
        auto [dir, base] = SplitDirBase(e.link_target);
        uint32_t parent = FindDir(dir);
        uint32_t node = parent == kNone ? kNone : FindChild(parent, base);
        if (node == kNone || IsDir(node) || nodes_[node].layer == LayerStack::Ref::kSynthetic)
          return bad();
        target = {nodes_[node].layer, nodes_[node].entry};
      }
      const TocEntry& te = s_->layers_[target.layer]->entries[target.entry];
      if (te.type == EntryType::kHardlink) {
        auto it = std::lower_bound(
            s_->hardlinks_.begin(), s_->hardlinks_.end(), Key(target.layer, target.entry),
            [](const LayerStack::HardlinkTarget& h, uint64_t key) { return h.key < key; });
        // Links are appended in (layer, entry) order, so an earlier one is present.
        target = {it->layer, it->target};
      }
      s_->hardlinks_.push_back({Key(k, i), target.layer, target.entry});
    }
    seen[e.name] = i;
    if (e.name == ".") {
      if (e.type != EntryType::kDirectory) {
        return Status::Corruption("layer " + std::to_string(k) + ": root entry is a " +
                                  EntryTypeName(e.type));
      }
      nodes_[0].layer = k;
      nodes_[0].entry = i;
      continue;
    }
    auto [dir, base] = SplitDirBase(e.name);
    uint32_t parent = EnsureDir(dir);
    uint32_t node = FindChild(parent, base);
    if (node == kNone) {
      AddChild(parent, base, k, i);
      continue;
    }
    if (e.type != EntryType::kDirectory || !IsDir(node)) ClearChildren(node);
    nodes_[node].layer = k;
    nodes_[node].entry = i;
  }
  return Status::Ok();
}

void LayerStackBuilder::Freeze() {
  std::vector<uint32_t> name_map(name_views_.size(), kNone);
  auto map_name = [&](uint32_t id) {
    if (name_map[id] == kNone) {
      name_map[id] = static_cast<uint32_t>(s_->name_offsets_.size());
      s_->name_offsets_.push_back(static_cast<uint32_t>(s_->names_.size()));
      s_->names_.append(name_views_[id]);
    }
    return name_map[id];
  };
  // Breadth-first: order[i] is the builder node that becomes s_->nodes_[i].
  std::vector<uint32_t> order = {0};
  std::vector<uint32_t> kids;
  for (size_t i = 0; i < order.size(); ++i) {
    BNode& b = nodes_[order[i]];
    kids.clear();
    for (uint32_t c : b.children) {
      if (!nodes_[c].dead) kids.push_back(c);
    }
    std::sort(kids.begin(), kids.end(), [&](uint32_t a, uint32_t c) {
      return name_views_[nodes_[a].name] < name_views_[nodes_[c].name];
    });
    s_->nodes_.push_back(LayerStack::Node{map_name(b.name), b.layer, b.entry,
                                          static_cast<uint32_t>(order.size()),
                                          static_cast<uint32_t>(kids.size())});
    order.insert(order.end(), kids.begin(), kids.end());
    std::vector<uint32_t>().swap(b.children);
  }
  s_->name_offsets_.push_back(static_cast<uint32_t>(s_->names_.size()));
  s_->nodes_.shrink_to_fit();
  s_->names_.shrink_to_fit();
  s_->name_offsets_.shrink_to_fit();
  s_->hardlinks_.shrink_to_fit();
}

Result<LayerStack> LayerStack::Build(std::vector<std::shared_ptr<const LayerToc>> layers) {
  LayerStack stack;
  stack.layers_ = std::move(layers);
  for (size_t k = 0; k < stack.layers_.size(); ++k) {
    if (!stack.layers_[k]) return Status::Invalid("layer " + std::to_string(k) + " is null");
    if (stack.layers_[k]->entries.size() >= UINT32_MAX) {
      return Status::Invalid("layer " + std::to_string(k) + " has too many entries");
    }
  }
  {
    LayerStackBuilder builder(&stack);
    for (uint32_t k = 0; k < stack.layers_.size(); ++k) {
      RETURN_IF_ERROR(builder.AddLayer(k));
    }
    builder.Freeze();
  }
  return stack;
}

const LayerStack::Node* LayerStack::Find(std::string_view path) const {
  const Node* cur = &nodes_[0];
  bool found = ForEachComponent(path, [&](std::string_view comp) {
    auto begin = nodes_.begin() + cur->first_child;
    auto end = begin + cur->num_children;
    auto it = std::lower_bound(begin, end, comp,
                               [&](const Node& n, std::string_view c) { return Name(n.name) < c; });
    if (it == end || Name(it->name) != comp) return false;
    cur = &*it;
    return true;
  });
  return found ? cur : nullptr;
}

std::optional<LayerStack::Ref> LayerStack::Lookup(std::string_view path) const {
  const Node* n = Find(path);
  if (n == nullptr) return std::nullopt;
  return Ref{n->layer, n->entry};
}

Result<std::vector<std::pair<std::string, LayerStack::Ref>>> LayerStack::ReadDir(
    std::string_view path) const {
  const Node* n = Find(path);
  if (n == nullptr) return Status::NotFound("no such directory: " + QuoteForMessage(path));
  if (Entry(Ref{n->layer, n->entry}).type != EntryType::kDirectory) {
    return Status::Invalid("not a directory: " + QuoteForMessage(path));
  }
  std::vector<std::pair<std::string, Ref>> out;
  out.reserve(n->num_children);
  for (uint32_t i = n->first_child; i < n->first_child + n->num_children; ++i) {
    out.emplace_back(std::string(Name(nodes_[i].name)), Ref{nodes_[i].layer, nodes_[i].entry});
  }
  return out;
}

std::optional<uint32_t> LayerStack::FindNode(std::string_view path) const {
  const Node* n = Find(path);
  if (n == nullptr) return std::nullopt;
  return static_cast<uint32_t>(n - nodes_.data());
}

void LayerStack::ForEachChild(
    uint32_t node, const std::function<void(std::string_view, Ref, uint32_t)>& fn) const {
  const Node& n = nodes_[node];
  for (uint32_t i = n.first_child; i < n.first_child + n.num_children; ++i) {
    fn(Name(nodes_[i].name), Ref{nodes_[i].layer, nodes_[i].entry}, i);
  }
}

void LayerStack::DropEntryNames() {
  for (auto& l : layers_) {
    // The stack shares ownership of its layers read-only; this is the one
    // documented exception (see the header).
    auto* toc = const_cast<LayerToc*>(l.get());
    for (auto& e : toc->entries) std::string().swap(e.name);
  }
}

const TocEntry& LayerStack::Entry(Ref r) const {
  if (r.synthetic()) return SyntheticDir();
  return layers_[r.layer]->entries[r.entry];
}

LayerStack::Ref LayerStack::ResolveHardlink(Ref r) const {
  if (r.synthetic()) return r;
  uint64_t key = Key(r.layer, r.entry);
  auto it = std::lower_bound(hardlinks_.begin(), hardlinks_.end(), key,
                             [](const HardlinkTarget& h, uint64_t k) { return h.key < k; });
  if (it == hardlinks_.end() || it->key != key) return r;
  return Ref{it->layer, it->target};
}

void LayerStack::Walk(const std::function<void(const std::string& path, Ref)>& fn) const {
  if (nodes_.empty()) return;
  fn(".", Ref{nodes_[0].layer, nodes_[0].entry});
  // (node, length of its parent's path); children pushed in reverse so the
  // smallest name is visited first.
  std::vector<std::pair<uint32_t, size_t>> stack;
  auto push_children = [&](const Node& n, size_t len) {
    for (uint32_t i = n.first_child + n.num_children; i > n.first_child; --i) {
      stack.emplace_back(i - 1, len);
    }
  };
  std::string path;
  push_children(nodes_[0], 0);
  while (!stack.empty()) {
    auto [idx, len] = stack.back();
    stack.pop_back();
    const Node& n = nodes_[idx];
    path.resize(len);
    if (len > 0) path += '/';
    path += Name(n.name);
    fn(path, Ref{n.layer, n.entry});
    push_children(n, path.size());
  }
}

}  // namespace cfs
