// The `kind: Application` document of a Clusterfile (sealer types/api/v2
// Application, pkg/application/appdriver.go), parsed for the code that
// launches the image's apps:
//
//   apiVersion: sealer.io/v2
//   kind: Application
//   metadata: {name: my-apps}
//   spec:
//     cmds: ["kubectl get pods -A"]        # replace the image's CMDs, CMDS and app launches
//     launchApps: [nginx, ""]              # replace the image's LAUNCH list ("" allowed)
//     configs:
//     - name: nginx                        # an app of the image; ignored unless launched
//       env: [PORT=80]                     # over the app's env, then rendered into its dir
//       launch: {cmds: ["kubectl apply -f nginx.yaml"]}  # replaces how the app launches
//       files:                             # under application/apps/<name>/
//       - {path: values.yaml, strategy: merge, data: "replicas: 2"}   # merge | overwrite
//
// What sealer checks when it reads the Clusterfile is checked here (a config
// without name; launch without cmds; a file without path, data or a known
// strategy), and every field outside these is an error. Checks that need the
// image (launchApps naming registered apps) and carrying them out are
// deploy/launch_plan.h.
#pragma once

#include <string>
#include <vector>

namespace cfs::deploy {

struct AppFile {
  std::string path;      // relative to application/apps/<app>/
  std::string strategy;  // "overwrite" or "merge" (YAML documents deep-merged, data wins)
  std::string data;
};

struct AppConfig {
  std::string name;                      // the app
  std::vector<std::string> env;          // "K=V", over the app's own env
  bool has_launch = false;               // launch given: launch_cmds replace the app's
  std::vector<std::string> launch_cmds;  // launch.cmds
  std::vector<AppFile> files;
};

struct ApplicationDoc {
  std::string name;                      // metadata.name
  std::vector<std::string> cmds;         // spec.cmds
  bool has_launch_apps = false;          // spec.launchApps given (even empty)
  std::vector<std::string> launch_apps;  // spec.launchApps
  std::vector<AppConfig> configs;        // spec.configs
};

}  // namespace cfs::deploy
