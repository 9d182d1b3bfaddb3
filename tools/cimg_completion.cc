// cimg completion bash|zsh: the shell completion of cimg and clusterfs, as
// the .deb installs it, for `source <(cimg completion bash)`.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "tools/cimg_common.h"
#include "tools/completion_scripts.h"

namespace cimg {

namespace {

// zsh runs the bash completion through bashcompinit, with bash's 0-based
// arrays while it runs (as packaging/completion/_cimg does).
constexpr char kZshPrelude[] = "autoload -Uz bashcompinit && bashcompinit\n";
constexpr char kZshEpilogue[] =
    "_cfs_complete_zsh() {\n"
    "  setopt localoptions ksharrays\n"
    "  _cfs_complete \"$@\"\n"
    "}\n"
    "complete -F _cfs_complete_zsh cimg clusterfs\n";

}  // namespace

void AddCompletionCommand(CLI::App& app) {
  auto* c = app.add_subcommand("completion", "Print the shell completion of cimg and clusterfs");
  static std::string shell;
  c->add_option("SHELL", shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  c->footer(
      "Examples:\n"
      "  source <(cimg completion bash)          # this shell; the .deb installs it for all\n"
      "  cimg completion zsh > ~/.zfunc/_cimg    # zsh, after compinit");
  c->callback([] {
    if (shell == "zsh") std::fputs(kZshPrelude, stdout);
    std::fputs(completion_scripts::kCimg, stdout);
    if (shell == "zsh") std::fputs(kZshEpilogue, stdout);
  });
}

}  // namespace cimg
