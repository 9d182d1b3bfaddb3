// cimg version. Argument parsing and printing only (tools/version.h).
#include <libssh2.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "template/report.h"
#include "tools/cimg_common.h"
#include "tools/version.h"

namespace cimg {

VersionInfo CimgVersion() {
  // Beyond the libraries every tool links: deploy's. yaml-cpp has no
  // version function: the version of the headers it was built with.
  return CurrentVersion({{"yaml-cpp", CFS_YAML_CPP_VERSION, false}, {"libssh2", libssh2_version(0)}});
}

void AddVersionCommand(CLI::App& app) {
  static auto* version = app.add_subcommand("version", "Show the version, git commit and libraries");
  static std::string format;
  version->add_option("-f,--format", format,
                      "json, or a Go template: {{.Version}} {{.GitCommit}} {{.BuildType}} "
                      "{{.Libraries.RocksDB}} ...");
  version->footer(
      "Examples:\n"
      "  cimg version\n"
      "  cimg version --format json\n"
      "  cimg version --format '{{.Version}} {{.GitCommit}}'\n"
      "  cimg --version");
  version->callback([] {
    VersionInfo v = CimgVersion();
    if (format.empty()) {
      std::fputs(VersionText(v).c_str(), stdout);
    } else if (cfs::tmpl::IsJsonFormat(format)) {
      std::printf("%s\n", VersionJson(v).dump(2).c_str());
    } else {
      auto report = Must(cfs::tmpl::Report::Parse(format, "", {}));
      std::fputs(Must(report.Render({FromJson(VersionJson(v))})).c_str(), stdout);
    }
  });
}

}  // namespace cimg
