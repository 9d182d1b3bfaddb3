// Whiteouts: how an upper layer says that a path of the layers below is gone,
// in the two forms clusterfs meets.
//
//   OCI layer tars:       ".wh.NAME" hides NAME; "DIR/.wh..wh..opq" hides all
//                         that the layers below hold in DIR.
//   overlay upper dirs:   a character device 0/0 named NAME hides NAME; a
//   (kernel, clusterfs)   directory with trusted.overlay.opaque="y" hides
//                         what the layers below hold in it.
//
// Import (store/commit.cc) turns the second form into the first; mounts
// (fs/) and deploy (deploy/) apply the first through LayerStack and write
// the second into upper dirs.
#pragma once

#include <sys/stat.h>

#include <string>
#include <string_view>

#include "layer/toc.h"

namespace cfs {

inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kOpaqueMarker = ".wh..wh..opq";
inline constexpr char kOverlayOpaqueXattr[] = "trusted.overlay.opaque";

// The role a tar member's base name gives it.
inline OverlayRole RoleOfName(std::string_view base) {
  if (base == kOpaqueMarker) return OverlayRole::kOpaque;
  if (base.starts_with(kWhiteoutPrefix)) return OverlayRole::kWhiteout;
  return OverlayRole::kNone;
}

// The tar member name that hides base ("x" -> ".wh.x").
inline std::string WhiteoutName(std::string_view base) {
  return std::string(kWhiteoutPrefix) + std::string(base);
}

// An overlay upper dir's whiteout: a character device 0/0.
inline bool IsOverlayWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

}  // namespace cfs
