// The rules a layer's entries must follow so that every reader of the store
// (clusterfs mounts, deploy, push, build) accepts the layer. Pulls and loads
// check them before anything of a layer is committed; LayerStack::Build
// applies the same per-entry rules, so a layer the store holds never fails
// later where a pull let it through. store/FORMAT.md "What a layer may hold".
//
// An entry (TocEntry, name normalized) is refused when:
//   - a component of its name is longer than 255 bytes (NAME_MAX);
//   - its base name starts with ".wh." and is not ".wh..wh..opq" while what
//     follows is "", "." or ".." (".wh.", ".wh..", ".wh...");
//   - it is a whiteout or opaque marker that is a directory, or it lies below
//     one (a ".wh." component that is not the last);
//   - it is the layer root "." and not a directory;
//   - its overlay role does not match its name;
//   - it is a hard link whose target is a directory or a marker, or is no
//     earlier entry of the layer and no file the layers below leave there
//     (so a target that only comes later in the tar, or never, is refused).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "layer/toc.h"

namespace cfs {

// Longest name component Linux accepts (NAME_MAX).
constexpr size_t kMaxNameComponent = 255;

// Checks the rules that concern entry e alone (all but hard link targets).
// The message names the member. Thread-safe.
Status CheckEntry(const TocEntry& e);

// Checks the entries of one layer in tar order. Not thread-safe.
class LayerRules {
 public:
  // Checks e (CheckEntry) and, for a hard link, that its target is no
  // directory or marker when an earlier entry of the layer provides it.
  // A link whose target no earlier entry provides is remembered (below()).
  Status Add(const TocEntry& e);

  // Hard links added so far, as (link name, target), whose target no earlier
  // entry of the layer provides: valid only if the layers below leave a
  // file (not a directory) at the target.
  const std::vector<std::pair<std::string, std::string>>& below() const { return below_; }

 private:
  struct Seen {
    bool dir = false;
    bool marker = false;
  };
  std::unordered_map<std::string, Seen> seen_;  // latest entry of each name
  std::vector<std::pair<std::string, std::string>> below_;
};

// The TOCs of the layers below one, bottom first.
using LowerTocs = std::function<Result<std::vector<std::shared_ptr<const LayerToc>>>()>;

// Checks a whole layer: every entry (LayerRules), and hard links that reach
// below it against the merged view of the layers below, exactly as
// LayerStack::Build resolves them. `below` is called only when a hard link
// reaches below the layer. Errors name the member.
Status CheckLayer(const LayerToc& toc, const LowerTocs& below);

// The second half of CheckLayer, for a caller that ran LayerRules over toc's
// entries as it read them: links is that LayerRules' below().
Status CheckLinksBelow(const LayerToc& toc,
                       const std::vector<std::pair<std::string, std::string>>& links,
                       const LowerTocs& below);

}  // namespace cfs
