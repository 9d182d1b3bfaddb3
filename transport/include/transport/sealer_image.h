// sealer v0.11's image metadata: the JSON documents sealer (through buildah)
// writes as OCI manifest annotations of a cluster image, read here so that
// cimg deploys images sealer built and writes them so that sealer deploys
// images cimg built.
//
// Annotation "sealer.image.extension" (sealer pkg/define/image/v1/
// sealer_image.go, ImageExtension; written by cmd/sealer/cmd/image/build.go
// as a buildah --annotation, so it sits in the image manifest's
// "annotations", not in the config):
//   {"buildClient": {"sealerVersion": "...", "buildahVersion": "..."},
//    "schemaVersion": "v1alpha1",
//    "type": "kube-installer" | "app-installer",            (omitted when "")
//    "applications": [                                       (omitted when empty)
//      {"name": "app", "type": "kube"|"helm"|"shell",        (type omitted when "")
//       "files": ["/a.yaml", ...],                           (omitted when empty)
//       "version": "v1",
//       "env": {"K": "V"},                                   (APPENV; omitted when empty)
//       "cmds": ["..."]}],                                   (APPCMDS; omitted when empty)
//    "labels": {...},                                        (omitted when empty)
//    "env": {"K": "V"},                                      (ENV; omitted when empty)
//    "launch": {"cmds": ["..."], "app_names": ["app"]}}      (CMD/CMDS; LAUNCH)
// Annotation "sealer.image.container.images" (ImageSpec.ContainerImageList,
// set by the same build.go after collecting images; absent when none):
//   [{"image": "docker.io/library/nginx:1.25", "appName": "app",
//     "platform": {"architecture": "amd64", "os": "linux"}}, ...]
// Unknown fields are ignored when reading, as Go's encoding/json does.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/status.h"

namespace cfs {

inline constexpr char kSealerImageExtension[] = "sealer.image.extension";
inline constexpr char kSealerContainerImages[] = "sealer.image.container.images";
inline constexpr char kSealerSchemaVersion[] = "v1alpha1";
inline constexpr char kSealerKubeInstaller[] = "kube-installer";
// Where sealer puts an APP's files in the rootfs: application/apps/NAME/.
inline constexpr char kSealerAppRoot[] = "application/apps/";

// One APP of a sealer image (pkg/define/application/v1/application.go).
struct SealerApp {
  std::string name;
  std::string type;                // "kube", "helm", "shell" or "" (undetected)
  std::vector<std::string> files;  // launch files, relative to the app's dir
  std::string version = "v1";
  std::map<std::string, std::string> env;  // APPENV
  std::vector<std::string> cmds;           // APPCMDS
};

struct SealerImageExtension {
  std::string sealer_version, buildah_version;  // buildClient
  std::string schema_version = kSealerSchemaVersion;
  std::string type = kSealerKubeInstaller;
  std::vector<SealerApp> applications;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> env;  // the Kubefile's ENV
  std::vector<std::string> launch_cmds;    // CMD and CMDS, in order
  std::vector<std::string> launch_apps;    // LAUNCH

  // The app of that name, or nullptr.
  const SealerApp* App(const std::string& name) const;
  // The JSON sealer writes (field names and omissions as above).
  std::string ToJson() const;
};

// Parses the annotation's JSON. Invalid (with the reason) for JSON that is
// not an object or has fields of the wrong type.
Result<SealerImageExtension> ParseSealerImageExtension(const std::string& json);

struct SealerContainerImage {
  std::string image, app_name;
  std::string os, arch, variant;
};
std::string SealerContainerImagesJson(const std::vector<SealerContainerImage>& images);
Result<std::vector<SealerContainerImage>> ParseSealerContainerImages(const std::string& json);

}  // namespace cfs
