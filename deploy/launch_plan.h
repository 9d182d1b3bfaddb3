// What deploy runs on master0 once the cluster is up, and what the apps'
// configs change in the rootfs, after the Clusterfile has had its say: its
// `spec.cmd` and `spec.appNames` and its `kind: Application` document
// (deploy/application_doc.h), as sealer v0.11 combines them
// (cmd/sealer/cmd/utils ConstructApplication, pkg/application/appdriver.go
// NewAppDriver and GetImageLaunchCmds, pkg/application/files.go):
//
// - commands: the Cluster's spec.cmd, else the Application's spec.cmds,
//   when given, replace everything the image would run: its CMDs, its CMDS
//   and its app launches (sealer: raw commands have the highest priority).
// - otherwise the image's CMDs and CMDS run, then the apps of the launch
//   list, in its order: the Cluster's spec.appNames, else the Application's
//   spec.launchApps, else the image's LAUNCH. "" entries are skipped; a name
//   the image does not register is refused by name. As in sealer, an image
//   whose own commands replace app launches (ClusterImage::
//   commands_replace_apps) launches none; the list then only selects configs.
// - spec.configs[] of an app in the launch list (the others are ignored, as
//   sealer ignores them): `launch.cmds` replace the app's launch, each run
//   on its own in the rootfs; `env` (after the Cluster's spec.env, as
//   sealer prepends it) goes over the app's env (APPENV over the image's
//   ENV), is exported for its launch and renders its
//   application/apps/NAME/*.tmpl; `files[]` are written into
//   application/apps/NAME/ after the templates are rendered, in order:
//   `overwrite` replaces or creates the file (parents 0755, mode 0644),
//   `merge` deep-merges data (a YAML map) into each "---"-separated YAML
//   document of the existing file (data wins, lists replaced), which must
//   exist. A path leaving the app's directory is refused.
// Everything here is decided before any host is reached.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/app_launch.h"
#include "deploy/cluster_image.h"
#include "deploy/clusterfile.h"
#include "deploy/rootfs_transfer.h"

namespace cfs::deploy {

struct PlannedApp {
  std::string name;
  // An image without sealer's extension (built by an earlier cimg) and no
  // launch.cmds for the app: deploy/host/launch.sh launches it.
  bool legacy = false;
  AppLaunch launch;         // (not legacy) what runs, with the app's env
  bool configured = false;  // an Application config changed its launch or env
};

struct LaunchPlan {
  std::vector<std::string> cmds;   // run first, in order
  std::vector<PlannedApp> apps;    // then launched, in order
  AppEnvs template_env;            // per app: the env of its *.tmpl files
  FileFilters files;               // the configs' files (rootfs path -> filter)
  std::vector<std::string> notes;  // for the log: what was ignored, and why
};

// Invalid, naming the field and the app, for a launch list naming an app
// the image does not register, an app whose launch cannot be planned
// (PlanAppLaunch), a file path leaving its app's directory, or env for an
// app of an image without sealer's extension.
Result<LaunchPlan> PlanLaunch(const ClusterImage& img, const Clusterfile& cf);

}  // namespace cfs::deploy
