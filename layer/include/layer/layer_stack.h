// LayerStack: the merged, read-only view of a stack of layer TOCs.
//
// This is the filesystem that results from applying the layers bottom to top
// as OCI layer application and Linux overlayfs define it. The FUSE overlay
// uses it for lookups and readdir of the lower layers, deploy uses Walk() to
// export the merged rootfs.
//
// Rules, for layer k applied on top of the merged view of layers < k:
//   1. First, every whiteout "D/.wh.X" of layer k removes D/X (and its whole
//      subtree) and every opaque marker "D/.wh..wh..opq" removes all children
//      of D. They act on layers < k only; the marker entries never appear.
//   2. Then layer k's other entries are applied in tar order, as tar
//      extraction would (so of two entries with the same path the later wins):
//      - a directory over a directory keeps the lower children (merge) and
//        takes the new metadata;
//      - anything else replaces what was there, with its whole subtree;
//      - parent directories a layer implies but does not list (a tar with
//        "a/b/c" and no "a/") are created when missing or not a directory,
//        with default metadata (see Entry()); an existing directory keeps its
//        metadata. A whiteout or opaque marker implies its directory too.
//      - a "." entry (directory) gives the root its metadata.
//   3. A hard link keeps its own Ref (the link's path is its own); use
//      ResolveHardlink() for the entry whose data and metadata it shares: the
//      target as it stood in the same layer when the link was written, even
//      if a higher layer later whites out or replaces that path.
//
// Thread-safety: a LayerStack is immutable after Build(); all const methods
// may be called concurrently from any thread.
//
// Memory (per merged entry, beyond the TOCs themselves): one 20-byte node
// (name id, source layer, source entry, first child, child count), plus
// each distinct path component once (its bytes + a 4-byte offset), plus
// 12 bytes per hard link: about 20 bytes/entry measured on a 200k-entry
// stack (layer_stack_test MemoryPerEntry). Build() transiently needs several
// times that (per-node child vectors and hash maps).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "layer/toc.h"

namespace cfs {

class LayerStack {
 public:
  // Which TocEntry provides a merged path: layers[layer]->entries[entry].
  struct Ref {
    // `layer` of directories no layer lists (implied parents, or the root
    // when no layer has a "." entry).
    static constexpr uint32_t kSynthetic = UINT32_MAX;
    uint32_t layer = kSynthetic;
    uint32_t entry = 0;
    bool synthetic() const { return layer == kSynthetic; }
    bool operator==(const Ref&) const = default;
  };

  // layers[0] is the bottom (base) layer; the stack shares ownership of them.
  // Fails (kCorruption) when a hard link names no earlier non-directory entry
  // of its layer, or a whiteout/opaque marker is malformed.
  static Result<LayerStack> Build(std::vector<std::shared_ptr<const LayerToc>> layers);

  LayerStack(LayerStack&&) = default;
  LayerStack& operator=(LayerStack&&) = default;

  // The entry providing `path` ("" or "." is the root; leading, doubled and
  // trailing "/" and "." components are ignored), or nullopt if the path does
  // not exist in the merged view (absent, whited-out, or below a non-directory).
  std::optional<Ref> Lookup(std::string_view path) const;

  // The children of directory `path`, sorted by name (bytewise).
  // kNotFound if absent, kInvalidArgument if not a directory.
  Result<std::vector<std::pair<std::string, Ref>>> ReadDir(std::string_view path) const;

  // The entry for `r`. For synthetic refs this is one shared directory entry
  // with mode 0755, uid/gid 0, mtime 0 and an empty name. Even for real refs
  // the name is the path in its layer; take the merged path from Lookup/Walk.
  // REQUIRES: r came from this stack.
  const TocEntry& Entry(Ref r) const;

  // For a hard link, the entry of its layer that holds the data it shares
  // (chains of links are followed); for any other ref, r itself.
  Ref ResolveHardlink(Ref r) const;

  // Calls fn for every merged path, root first (as "."), depth-first with a
  // parent before its children and siblings sorted by name. Paths are
  // relative ("a", "a/b").
  void Walk(const std::function<void(const std::string& path, Ref)>& fn) const;

  // Node-level access, for callers that keep positions (clusterfs inodes).
  // A node id is stable for the life of the stack; the root is node 0.
  std::optional<uint32_t> FindNode(std::string_view path) const;
  Ref NodeRef(uint32_t node) const { return Ref{nodes_[node].layer, nodes_[node].entry}; }
  // Calls fn(name, ref, node) for each child of `node`, sorted by name.
  void ForEachChild(uint32_t node,
                    const std::function<void(std::string_view, Ref, uint32_t)>& fn) const;
  const LayerToc& layer(uint32_t i) const { return *layers_[i]; }
  size_t num_layers() const { return layers_.size(); }
  // True if any layer holds hard links.
  bool has_hardlinks() const { return !hardlinks_.empty(); }

  // Frees the `name` strings of the layers' entries (Entry().name becomes
  // empty): the stack keeps its own copy of every path component, so a
  // long-lived user that needs only the merged view (a mount) saves memory.
  // REQUIRES: nothing else reads those LayerTocs' names.
  void DropEntryNames();

  // The number of merged entries, root included.
  size_t size() const { return nodes_.size(); }

 private:
  friend class LayerStackBuilder;

  // Nodes are stored in breadth-first order, so the children of a node are
  // nodes_[first_child, first_child + num_children), sorted by name.
  struct Node {
    uint32_t name;  // index into name_offsets_
    uint32_t layer;
    uint32_t entry;
    uint32_t first_child;
    uint32_t num_children;
  };
  struct HardlinkTarget {
    uint64_t key;     // layer << 32 | entry of the link
    uint32_t layer;   // the entry holding the data: same layer, or a lower
    uint32_t target;  // one when the link names a file a lower layer made
  };

  LayerStack() = default;
  std::string_view Name(uint32_t id) const {
    return std::string_view(names_).substr(name_offsets_[id],
                                           name_offsets_[id + 1] - name_offsets_[id]);
  }
  const Node* Find(std::string_view path) const;

  std::vector<std::shared_ptr<const LayerToc>> layers_;
  std::vector<Node> nodes_;             // nodes_[0] is the root
  std::string names_;                   // distinct path components, concatenated
  std::vector<uint32_t> name_offsets_;  // name i is names_[off[i], off[i+1])
  std::vector<HardlinkTarget> hardlinks_;  // sorted by key
};

}  // namespace cfs
