// What `cimg images`, `history` and `diff` print, apart from parsing their
// flags: podman's --filter over stored images and the rows their --format
// templates read (template/report.h), with podman's field names.
// Part of cfs_tools (tools/CMakeLists.txt), tested in image_list_test.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/store.h"
#include "template/value.h"

namespace cimg {

// "1.23 MB" (decimal units, 3 significant digits, as podman).
std::string HumanSize(uint64_t bytes);
// "3 days ago" relative to now (seconds since the epoch); "N/A" for t <= 0.
std::string Ago(int64_t t, int64_t now);
// "2026-12-06T18:00:00Z"; "" for t <= 0.
std::string Iso(int64_t t);
// REPO and TAG of a stored name: "a/b:1" -> a/b, 1; "a/b@sha256:…" -> a/b,
// <none>.
void SplitName(const std::string& name, std::string* repo, std::string* tag);

// podman's `images --filter KEY=VALUE`, the keys that map onto the store:
//   reference=PATTERN  a name matches the glob (as Go's path.Match: * and ?
//                      stop at /), whole, without its tag, or without
//                      docker.io/[library/]
//   before=IMAGE, since=IMAGE   created before / after that image
//   label=KEY[=VALUE], label!=KEY[=VALUE]   config labels (not) present
//   dangling=true|false  an image without names (the store removes an image
//                      with its last name, so true lists none)
//   id=PREFIX          the image ID (hex, with or without sha256:) starts so
// Filters of one key are alternatives (any may match), except label and
// label!, which must all hold; different keys must all hold.
class ImageFilter {
 public:
  using Resolve = std::function<cfs::Result<cfs::ImageSummary>(const std::string& image)>;
  // An unknown key is refused by name, listing the known ones; a bad value
  // (dangling=maybe, an image before= cannot find) is refused too.
  static cfs::Result<ImageFilter> Parse(const std::vector<std::string>& specs, const Resolve& resolve);

  // Whether Match needs the images' labels (a label filter is given).
  bool needs_labels() const { return !labels_.empty(); }
  bool Match(const cfs::ImageSummary& s, const std::map<std::string, std::string>& labels) const;
  // The names of s a listing shows: with reference filters, those that
  // match one (as docker lists only the matching tags), else all.
  std::vector<std::string> ShownNames(const cfs::ImageSummary& s) const;

 private:
  struct Label {
    std::string key, value;
    bool has_value = false, negated = false;
  };
  std::vector<std::string> references_, ids_;
  std::vector<int64_t> before_, since_;
  std::vector<bool> dangling_;
  std::vector<Label> labels_;
};

// Glob match as Go's path.Match: *, ?, [...] ([!...] and [^...] negate),
// \ escapes; * and ? never match '/'.
bool GlobMatch(std::string_view pattern, std::string_view name);

// The rows of `cimg images`, one per name (one with Repository and Tag
// "<none>" for an image without names). Fields:
//   ID (12 hex digits; with no_trunc "sha256:" and all of them), Id (the
//   full ID), Repository, Tag, Digest, Names, Created ("3 days ago"),
//   CreatedAt ("2026-12-06 18:00:00 +0000 UTC"), CreatedSince (= Created),
//   CreatedTime (seconds since the epoch), Size ("1.23 MB"), VirtualSize
//   (bytes), Labels (a map; only when labels are given), Dangling,
//   Platforms (an image list's platforms, "linux/amd64,linux/arm64"; "" for
//   an image).
struct ImageRowOptions {
  bool no_trunc = false;
  int64_t now = 0;  // for Created: seconds since the epoch
};
std::vector<cfs::tmpl::Value> ImageRows(
    const std::vector<cfs::ImageSummary>& list,
    const std::map<std::string, std::map<std::string, std::string>>& labels_by_id,
    const ImageRowOptions& o);
// The fields above, for Report::Parse; and the default table.
const std::vector<std::string>& ImageFields();
const std::map<std::string, std::string>& ImageHeaders();
inline constexpr char kImagesTable[] =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Created}}\\t{{.Size}}";
inline constexpr char kImagesTableDigests[] =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.Created}}\\t{{.Size}}";
// The default tables when an image list is among the rows: a PLATFORMS column.
inline constexpr char kImagesTablePlatforms[] =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.Created}}\\t{{.Size}}\\t{{.Platforms}}";
inline constexpr char kImagesTableDigestsPlatforms[] =
    "table {{.Repository}}\\t{{.Tag}}\\t{{.Digest}}\\t{{.ID}}\\t{{.Created}}\\t{{.Size}}\\t{{.Platforms}}";

// `images -q`: the IDs of the rows, each once, in order.
std::vector<std::string> UniqueIds(const std::vector<cfs::ImageSummary>& list, bool no_trunc);

// A JSON document (inspect, history rows, diff entries) as template data:
// objects become maps, arrays lists; numbers stay int or float.
cfs::tmpl::Value FromJson(const nlohmann::json& j);

}  // namespace cimg
