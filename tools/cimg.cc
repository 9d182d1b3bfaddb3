// cimg: the cluster image tool. Argument parsing and printing only; the work
// is done by the libraries. The commands are set up in tools/cimg_*.cc.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "base/log.h"
#include "tools/cimg_common.h"
#include "tools/version.h"

using namespace cimg;

int main(int argc, char** argv) {
  CLI::App app{"cimg: build, store, move and inspect cluster images"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  cimg build -t demo/app:1 examples/app     # a cluster image from a Kubefile\n"
      "  cimg push demo/app:1 registry.example.com/team/app:1\n"
      "  cimg deploy -f Clusterfile                # to hosts over SSH\n"
      "  cimg save --since app:1 -o delta.tar app:2   # what a site holding app:1 lacks\n\n"
      "cimg COMMAND --help shows each command's options and examples (man cimg-COMMAND).");
  // Global options are accepted after the command too (`cimg images --root
  // X`); a command's own option of the same name wins (`images -q`).
  app.fallthrough();
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.set_version_flag("--version", VersionLine("cimg", CimgVersion()), "Show the version and exit");
  Global g;
  app.add_option("--root", g.root, "Store root (default: $CIMG_ROOT or /var/lib/cimg)");
  app.add_option("--threads", g.threads, "Worker threads for hashing and compression (0 = all cores)");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "No progress output");
  app.add_option_function<std::string>(
         "--log-level",
         [](const std::string& l) {
           auto level = cfs::ParseLogLevel(l);
           if (!level.ok()) throw CLI::ValidationError("--log-level", level.status().message());
           cfs::SetLogLevel(*level);
         },
         "Diagnostics on stderr from this level up: error, warn (default), info, debug (every "
         "registry request, without secrets)");
  app.add_flag_function(
      "-v,--verbose",
      [](std::int64_t n) { cfs::SetLogLevel(n >= 2 ? cfs::LogLevel::kDebug : cfs::LogLevel::kInfo); },
      "--log-level info; -vv: debug");

  AddImageCommands(app, g, quiet);
  AddBuildCommands(app, g, quiet);
  AddLoginCommands(app, g, quiet);
  AddGcFsckCommands(app, g, quiet);
  AddDeployCommands(app, g, quiet);
  AddClustersCommand(app, g);
  AddExecCommands(app, g, quiet);
  AddBrowseCommands(app, g, quiet);
  AddProfileCommands(app, g, quiet);
  AddSignCommands(app);
  AddVersionCommand(app);
  AddCompletionCommand(app);

  // Name an unknown command (CLI11 would only say one is required).
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--root" || a == "--threads" || a == "--log-level") {
      i++;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) known |= sub->get_name() == a;
    if (!known) {
      std::fprintf(stderr, "cimg: unknown command \"%s\" (see 'cimg --help')\n", a.c_str());
      return 2;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error; name the subcommand when there is one.
    std::string where = "cimg";
    for (const auto* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::fprintf(stderr, "cimg: %s (see '%s --help')\n", e.what(), where.c_str());
    return 2;
  }
  return 0;
}
