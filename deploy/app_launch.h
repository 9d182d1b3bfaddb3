// How deploy launches an application of a sealer image (LAUNCH), as sealer
// v0.11 does (pkg/application/appdriver.go, pkg/define/application/v1
// GetAppLaunchCmd): on master0, in the cluster's rootfs (`cd ROOTFS &&
// COMMAND`), COMMAND being
//   with APPCMDS:  cd application/apps/NAME/ && CMD1 CMD2 ...  (the items
//                  joined by spaces, as sealer joins them)
//   type kube:     kubectl apply -f application/apps/NAME/FILE && ...  (each file)
//   type helm:     helm install NAME application/apps/NAME/
//   type shell:    bash application/apps/NAME/FILE && ...  (each file)
// APPCMDS items are shell text by design (like CMD); everything else that
// comes from the image (names, files) is shell-quoted. The app's env is
// sealer's: its APPENV over the image extension's env; deploy exports it for
// the command and, as sealer does, renders the *.tmpl files of every app
// that has one with it (AppTemplateEnvs, deploy/rootfs_transfer.h).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "transport/sealer_image.h"

namespace cfs::deploy {

struct AppLaunch {
  std::string command;  // shell text, run in the rootfs ("": nothing to run)
  std::vector<std::pair<std::string, std::string>> env;  // exported first, sorted by name
};

// What a Clusterfile's `kind: Application` config changes of one app
// (deploy/launch_plan.h): env over the app's own, and launch commands that
// replace its launch, each run in the rootfs on its own (sealer's
// appLaunchCmdsMap: `cd ROOTFS && CMD` per command).
struct AppOverride {
  std::map<std::string, std::string> env;
  bool has_cmds = false;
  std::vector<std::string> cmds;
};

// The launch of app `name` of ext. Invalid (naming the app) when ext has no
// such app, when it has neither a known type nor APPCMDS (and `over` gives
// no commands), when a file path leaves the app's dir (absolute after its
// leading '/', or a ".." component), or when an env key is not a shell name.
Result<AppLaunch> PlanAppLaunch(const SealerImageExtension& ext, const std::string& name,
                                const AppOverride& over = {});

// The shell text that runs `cmds` one after the other, each as its own
// subshell started in the current directory, stopping at the first that
// fails; empty commands are skipped ("" when none is left).
std::string EachInOwnShell(const std::vector<std::string>& cmds);

// application/apps/NAME/ + file as Go's filepath.Join cleans it; Invalid
// for a file that would leave the app's directory or names none.
Result<std::string> AppFilePath(const std::string& app, const std::string& file);

// The env of every app of ext that has one (sealer's formatImageExtension:
// its APPENV over the extension's env), for rendering its *.tmpl files.
std::map<std::string, std::map<std::string, std::string>> AppTemplateEnvs(
    const SealerImageExtension& ext);

}  // namespace cfs::deploy
