// cimg build and cimg commit. Argument parsing and printing only.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "builder/builder.h"
#include "mount/commit.h"
#include "store/store.h"
#include "tools/cimg_common.h"

namespace cimg {

namespace {

using nlohmann::json;

// cimg build
void AddBuildCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* build = app.add_subcommand("build", "Build a cluster image from a Kubefile");
  static cfs::builder::BuildOptions bo;
  static std::vector<std::string> build_args;
  static std::string build_platform;
  static RegistryFlags build_reg;
  build->add_option("-f,--file", bo.kubefile, "Kubefile (default: CONTEXT/Kubefile)");
  build->add_option("-t,--tag", bo.tag, "Name of the image")->required();
  build->add_option("--build-arg", build_args, "K=V for an ARG (repeatable)");
  build->add_option("--platform", build_platform, "os/arch[/variant] of the image (default: this host)");
  build->add_flag("--no-cache", bo.no_cache,
                  "Run every step, ignoring the build cache; every context file is read and "
                  "hashed again (its digest cache record rewritten)");
  build->add_option("--image-list", bo.image_list, "More container images to collect (one a line)");
  build->add_option("--ignored-image-list", bo.ignored_image_list, "Container images not to collect (one a line)");
  build->add_option("--profile", bo.profile,
                    "A bring-up profile (clusterfs mount --record-profile) to keep with the image");
  build->add_option("--build-mode", bo.build_mode,
                    "lite (default): collect the container images the rootfs names into registry/; "
                    "all: also the image archives under images/")
      ->check(CLI::IsMember({"lite", "all"}));
  build->add_option("--max-download", bo.download.max_bytes,
                    "Largest COPY http(s):// download (default 1GiB; k/M/G suffixes)")
      ->transform(CLI::AsSizeValue(false));
  build->add_option("--download-timeout", bo.download.timeout_s,
                    "Seconds a COPY http(s):// download may take (default 1800)")
      ->check(CLI::PositiveNumber);
  static std::string build_sbom;
  build->add_option("--sbom", build_sbom,
                    "Attach the image's SBOM (spdx-json or cyclonedx-json) as an OCI artifact that "
                    "push carries (see cimg sbom)")
      ->check(CLI::IsMember({"spdx-json", "cyclonedx-json"}));
  build_reg.Add(build);
  build->add_option("CONTEXT", bo.context, "Build context directory")->required();
  build->footer(
      "Examples:\n"
      "  cimg build -t demo/base:1 examples/base\n"
      "  cimg build -f Kubefile.app -t demo/app:1 --build-arg Version=v1.27 ctx\n"
      "  cimg build --sbom spdx-json -t demo/app:1 ctx    # then: cimg sbom --attached demo/app:1\n\n"
      "Example Kubefile (sealer's instructions; see README \"Building images\"):\n"
      "  FROM cimg-examples/base:1\n"
      "  COPY etc etc                  # a directory's contents, as buildah copies\n"
      "  ADD helm-v3.12.tar.gz opt/    # a local tar archive (gz, bz2, xz, zst) is unpacked\n"
      "  APP nginx local://nginx.yaml\n"
      "  LAUNCH [\"nginx\"]             # or CMDS [\"kubectl apply -f manifests/\"]\n");
  build->callback([&] {
    auto store = Must(OpenStore(g));
    for (const auto& a : build_args) {
      auto eq = a.find('=');
      if (eq == std::string::npos || eq == 0) Fail(Status::Invalid("--build-arg " + a + ": want K=V"));
      bo.build_args.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }
    if (!build_platform.empty()) bo.platform = Must(cfs::Platform::Parse(build_platform));
    bo.registry = build_reg.Options();
    bo.log = [&](const std::string& line) {
      if (!quiet) std::fprintf(stderr, "%s\n", line.c_str());
    };
    bo.progress = StderrProgress(quiet);
    auto t0 = std::chrono::steady_clock::now();
    auto r = Must(cfs::builder::Build(*store, bo));
    if (!build_sbom.empty()) Must(AttachSbom(*store, bo.tag, build_sbom).Prefix(bo.tag + ": --sbom"));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s  %s\n", bo.tag.c_str(), r.image.summary.image_id.ToString().c_str());
    std::printf("  %d steps (%d layer steps cached), %zu layers, %s, %zu container images, %.2f s\n",
                r.steps, r.cached, r.image.layers.size(), HumanSize(r.image.summary.size).c_str(),
                r.images.size(), secs);
  });
}

// cimg commit
void AddCommitCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* commit = app.add_subcommand("commit",
                                    "Make a writable clusterfs mount's changes (its upper dir) a new image");
  commit->footer("Example:\n"
      "  cimg commit /mnt/app demo/app:2 -m 'new config'");
  static std::string commit_mnt, commit_name, commit_msg;
  commit->add_option("MNT", commit_mnt, "Mount point of a clusterfs mount with an upper dir")->required();
  commit->add_option("NAME", commit_name, "Name of the new image")->required();
  commit->add_option("-m,--message", commit_msg, "Comment in the image history");
  commit->callback([&] {
    auto m = Must(cfs::mount::CommittableMount(commit_mnt));
    auto store = Must(OpenStore(g));
    auto r = Must(cfs::mount::CommitMount(*store, m, commit_name, commit_msg,
                                          StderrProgress(quiet)));
    std::printf("%s  %s\n  %zu layers (+1: %llu entries, %s)\n", commit_name.c_str(),
                r.image.summary.image_id.ToString().c_str(), r.image.layers.size(),
                static_cast<unsigned long long>(r.layer.entries), HumanSize(r.layer.tar_size).c_str());
  });
}

}  // namespace

void AddBuildCommands(CLI::App& app, const Global& g, const bool& quiet) {
  AddBuildCommand(app, g, quiet);
  AddCommitCommand(app, g, quiet);
}

}  // namespace cimg
