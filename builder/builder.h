// cimg build: runs a Kubefile (builder/kubefile.h) into an image.
//
// FROM gives the parent layers (from the store, or pulled from a registry).
// Each layer step has a fresh empty upper dir over the image so far: RUN
// runs on an in-process clusterfs mount of the two; COPY, ADD and APP write
// into the upper dir directly, with overlayfs's rules and no mount
// (builder/upper_root.h), and so does the collection of container images
// into registry/ (when the image so far has no registry/). Afterwards the
// upper dir is the layer diff (char 0/0 -> whiteout, opaque xattr -> opaque)
// and is ingested (Store::ImportDirLayer). ARG, ENV, LABEL, MAINTAINER, CMD, CMDS and LAUNCH
// change only the config (CMD, CMDS and LAUNCH: the labels below). The
// parent's config is inherited (Env, Labels, ...), except its CMDS and
// LAUNCH labels. A step's result is cached under a key of the
// parent layers, the instruction after substitution, the values it sees
// (RUN: its environment) and its inputs (COPY: names, modes and contents),
// so an unchanged rebuild reuses every layer and yields the same image ID.
// A failed build tags nothing under its tag; a parent it pulled for FROM
// stays in the store under its reference (as podman and buildah keep pulled
// bases), and later builds FROM that reference use it without asking the
// registry again, unless --platform names another platform than the stored
// image's (then it is pulled again for that platform; a stored image that
// did not come from a registry is refused).
// The build works in a WorkDir (store/work_dir.h) that records its mounts
// and each RUN's process group, and leases every layer it uses: gc leaves
// both alone while the build lives and undoes them after it died.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "builder/copy.h"
#include "registry/client.h"
#include "store/store.h"

namespace cfs::builder {

// Labels the image config carries for deploy (JSON arrays of strings), with
// sealer's rules (builder/kubefile.h):
//   io.cimg.cmds         every CMD, in order: the parent image's first, then
//                        this Kubefile's (inherited and extended)
//   io.cimg.cmds-launch  the items of the Kubefile's last CMDS; absent when it
//                        has none (never inherited from the parent image)
//   io.cimg.launch       the items of the Kubefile's last LAUNCH; absent when
//                        it has none (never inherited from the parent image)
//   io.cimg.images       the container images collected into registry/
// A Kubefile has CMDS or LAUNCH, never both, so a built image carries at
// most one of io.cimg.cmds-launch and io.cimg.launch (unless a LABEL sets
// them by hand).
inline constexpr char kLabelCmds[] = "io.cimg.cmds";
inline constexpr char kLabelCmdsLaunch[] = "io.cimg.cmds-launch";
inline constexpr char kLabelLaunch[] = "io.cimg.launch";
inline constexpr char kLabelImages[] = "io.cimg.images";

// sealer's labels (build/kubefile/command/command.go): KUBEVERSION sets the
// first; CNI NAME / CSI NAME set "<prefix>-NAME" to "true".
inline constexpr char kLabelSealerKubeVersion[] = "app.alpha.sealer.io/supported-kube-version";
inline constexpr char kLabelSealerCni[] = "cluster.alpha.sealer.io/kube-cni";
inline constexpr char kLabelSealerCsi[] = "cluster.alpha.sealer.io/kube-csi";

// Every built image also carries sealer's manifest annotations
// (transport/sealer_image.h): "sealer.image.extension" with the APPs (the
// FROM image's and this Kubefile's, each with its detected type, launch
// files, APPCMDS and APPENV), this Kubefile's ENV, its CMDs and CMDS as
// launch.cmds and its LAUNCH as launch.app_names, type "kube-installer",
// buildClient.sealerVersion kSealerVersionWritten; and, when container
// images were collected, "sealer.image.container.images". cimg push and save
// keep them in the manifest, where sealer (buildah) reads them.
inline constexpr char kSealerVersionWritten[] = "cimg";

struct BuildOptions {
  std::string kubefile;  // "" = CONTEXT/Kubefile
  std::string context;
  std::string tag;
  std::vector<std::pair<std::string, std::string>> build_args;
  Platform platform;  // empty = the host's
  bool no_cache = false;
  // Container images: collected (builder/images.h) into the image's
  // built-in registry (registry/, distribution layout) as one last layer.
  std::string image_list, ignored_image_list;  // files, one reference a line
  bool collect_images = true;
  // "lite": the images named in the rootfs; "all": also the image archives
  // (docker save / oci-archive tars) under images/.
  std::string build_mode = "lite";
  // A bring-up profile file (store/read_profile.h) kept with the image, as
  // `cimg profile attach` keeps one. "" = none.
  std::string profile;
  DownloadLimits download;  // COPY http(s)://
  registry::ClientOptions registry;  // for FROM images pulled from a registry
  // Internal, for tests: COPY, ADD and APP write every file's data into the
  // step's upper dir (the way before placeholders, builder/placeholder.h),
  // which then gives the same layers. Default: false (placeholders).
  bool copy_data_into_upper = false;
  // Internal, for tests: called with the step's keyword right before a layer
  // step's upper dir is imported (a seam to change a context file there).
  std::function<void(const std::string&)> before_import;
  // One line per step and notable event ("STEP 2/7: COPY . .", "--> cached").
  std::function<void(const std::string&)> log;
  ProgressFn progress;
};

struct BuildResult {
  ImageDetails image;
  int steps = 0;   // instructions run (after FROM)
  int cached = 0;  // layer steps taken from the cache
  int layers = 0;  // layers this build added (new or cached)
  std::vector<std::string> images;  // container images collected into registry/
};

Result<BuildResult> Build(Store& store, const BuildOptions& o);

}  // namespace cfs::builder
