// sealer's APP instruction: what kind of application a set of sources is and
// which of its files deploy launches, decided as sealer v0.11 does
// (build/kubefile/parser/utils.go getApplicationType, getApplicationFiles),
// on the sources before they are copied into application/apps/NAME/.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "builder/copy.h"
#include "transport/sealer_image.h"

namespace cfs::builder {

// The app named `name` made of `sources` (resolved: absolute paths of files
// or directories; a directory stands for its contents):
//   type "helm"  when a source directory is a chart (Chart.yaml, values.yaml
//                and templates/ at its top), or the files at the top of the
//                sources include a Chart.yaml, a values.yaml and a templates
//                entry; files = {name};
//   type "shell" when every file (directories walked, in name order) ends in
//                .sh; files = those of the first source only (sealer's rule);
//   type "kube"  when every file ends in .yaml or .yml; files = all of them;
//   type ""      otherwise (a mix, other files, none): APPCMDS must say how
//                to launch it; no files.
// A file of a directory source is named by its path below that directory
// with a leading '/' ("/sub/a.yaml"), a file source by its CopySource name
// (the name it gets in the app's dir).
Result<SealerApp> DetectApp(const std::string& name, const std::vector<CopySource>& sources);

}  // namespace cfs::builder
