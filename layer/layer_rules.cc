#include "layer/layer_rules.h"

#include <optional>
#include <string_view>

#include "layer/layer_stack.h"
#include "layer/whiteouts.h"

namespace cfs {

namespace {

Status Bad(const TocEntry& e, const std::string& why) {
  return Status::Corruption("member " + QuoteForMessage(e.name) + ": " + why);
}

}  // namespace

Status CheckEntry(const TocEntry& e) {
  if (e.name.empty()) return Status::Corruption("member with an empty name");
  if (e.name == ".") {
    if (e.type != EntryType::kDirectory) {
      return Bad(e, std::string("the layer root is a ") + EntryTypeName(e.type));
    }
    return Status::Ok();
  }
  std::string_view rest = e.name;
  for (;;) {
    const size_t slash = rest.find('/');
    const std::string_view comp = rest.substr(0, slash);
    // A whiteout of a 255-byte name is ".wh." + 255 bytes in a tar: what
    // must fit a file system is the name it hides.
    const bool last_whiteout = slash == std::string_view::npos && comp.starts_with(kWhiteoutPrefix);
    const size_t fs_len = last_whiteout ? comp.size() - kWhiteoutPrefix.size() : comp.size();
    if (fs_len > kMaxNameComponent) {
      return Bad(e, "name component of " + std::to_string(fs_len) + " bytes (at most " +
                        std::to_string(kMaxNameComponent) + ")");
    }
    if (slash == std::string_view::npos) break;
    if (comp.starts_with(kWhiteoutPrefix)) {
      return Bad(e, "lies inside whiteout " + QuoteForMessage(comp) +
                        " (a whiteout is not a directory)");
    }
    rest.remove_prefix(slash + 1);
  }
  const std::string_view base = rest;
  const OverlayRole role = RoleOfName(base);
  if (role != e.role) return Bad(e, "overlay role does not match the name");
  if (role == OverlayRole::kNone) return Status::Ok();
  if (e.type == EntryType::kDirectory) {
    return Bad(e, "whiteout is a directory (it must be a file)");
  }
  if (role == OverlayRole::kWhiteout) {
    const std::string_view target = base.substr(kWhiteoutPrefix.size());
    if (target.empty() || target == "." || target == "..") {
      return Bad(e, "whiteout names no valid file (\"" + std::string(target) + "\")");
    }
  }
  return Status::Ok();
}

Status LayerRules::Add(const TocEntry& e) {
  RETURN_IF_ERROR(CheckEntry(e));
  if (e.type == EntryType::kHardlink && e.role == OverlayRole::kNone) {
    auto it = seen_.find(e.link_target);
    if (it == seen_.end()) {
      below_.emplace_back(e.name, e.link_target);
    } else if (it->second.dir) {
      return Bad(e, "hard link to directory " + QuoteForMessage(e.link_target));
    } else if (it->second.marker) {
      return Bad(e, "hard link to whiteout " + QuoteForMessage(e.link_target));
    }
  }
  seen_[e.name] = Seen{e.type == EntryType::kDirectory, e.role != OverlayRole::kNone};
  return Status::Ok();
}

namespace {

// Checks a hard link whose target no earlier entry of toc provides: the
// layers below must leave a file there (lower: their merged view, nullptr
// when there are none).
Status CheckLinkBelow(const LayerToc& toc, const std::string& name, const std::string& target,
                     const LayerStack* lower) {
  std::optional<LayerStack::Ref> ref;
  if (lower) ref = lower->Lookup(target);
  if (ref && ref->synthetic()) {
    return Status::Corruption("member " + QuoteForMessage(name) + ": hard link to " +
                              QuoteForMessage(target) + ", a directory of the layers below");
  }
  if (ref && lower->Entry(*ref).type == EntryType::kDirectory) {
    return Status::Corruption("member " + QuoteForMessage(name) + ": hard link to directory " +
                              QuoteForMessage(target) + " of the layers below");
  }
  if (ref) return Status::Ok();
  bool later = false;
  for (const TocEntry& e : toc.entries) later = later || e.name == target;
  return Status::Corruption("member " + QuoteForMessage(name) + ": hard link to " +
                            QuoteForMessage(target) +
                            (later ? ", which comes later in the layer"
                                   : ", which is no file of the layer or the layers below"));
}

}  // namespace

Status CheckLayer(const LayerToc& toc, const LowerTocs& below) {
  LayerRules rules;
  for (const TocEntry& e : toc.entries) RETURN_IF_ERROR(rules.Add(e));
  return CheckLinksBelow(toc, rules.below(), below);
}

Status CheckLinksBelow(const LayerToc& toc,
                       const std::vector<std::pair<std::string, std::string>>& links,
                       const LowerTocs& below) {
  if (links.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(std::vector<std::shared_ptr<const LayerToc>> all, below());
  std::optional<LayerStack> lower;
  if (!all.empty()) {
    auto s = LayerStack::Build(all);
    if (!s.ok()) return s.status().Prefix("the layers below");
    lower.emplace(std::move(s).value());
  }
  for (const auto& [name, target] : links) {
    RETURN_IF_ERROR(CheckLinkBelow(toc, name, target, lower ? &*lower : nullptr));
  }
  if (all.empty()) return Status::Ok();
  // The exact resolution a mount makes (this layer's whiteouts apply first).
  all.push_back(std::make_shared<const LayerToc>(toc));
  auto stack = LayerStack::Build(std::move(all));
  return stack.ok() ? Status::Ok() : stack.status();
}

}  // namespace cfs
