// The shell deploy runs on hosts: the scripts deploy/host/*.sh, embedded in
// the binary at build time (the generated header host_scripts.h, one
// constant a script: probe.sh -> host_scripts::kProbe). A script takes its
// values as positional arguments, each shell-quoted on the command line;
// nothing is spliced into a script's text.
#pragma once

#include <string>
#include <vector>

#include "deploy/host_scripts.h"

namespace cfs::deploy {

// The command line that runs `script` with bash and `args` ($1, $2, ...):
// `bash -c 'SCRIPT' cimg-host 'ARG1' 'ARG2' ...`. The caller may put
// `export K=V` lines (values quoted) before it.
std::string HostCommand(const char* script, const std::vector<std::string>& args);

}  // namespace cfs::deploy
