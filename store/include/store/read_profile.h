// A bring-up profile: the file ranges a workload read, in the order it read
// them (`clusterfs mount --record-profile FILE` records one). Kept with an
// image as a manifest annotation (`cimg profile attach`, `cimg build
// --profile`), which push and pull carry; a lazy mount of an image with a
// profile fetches those ranges in the background, in that order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cfs {

// The manifest annotation holding an image's profile (ReadProfile::ToAnnotation).
inline constexpr char kReadProfileAnnotation[] = "io.cimg.read-profile";

struct ReadProfile {
  struct Range {
    std::string path;  // relative to the image root, no leading "/"
    uint64_t offset = 0, length = 0;
    bool operator==(const Range&) const = default;
  };
  std::vector<Range> ranges;  // in the order first read

  // The profile file: one JSON object a line, {"path":P,"offset":N,"length":N}.
  std::string ToText() const;
  // what names the text in errors (FILE:LINE).
  static Result<ReadProfile> ParseText(std::string_view text, const std::string& what);
  // The annotation value: the text, zstd-compressed, base64.
  std::string ToAnnotation() const;
  static Result<ReadProfile> FromAnnotation(std::string_view value);
};

}  // namespace cfs
