// cimg build and cimg commit. Argument parsing and printing only.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "builder/builder.h"
#include "mount/mount_state.h"
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
  build->add_flag("--no-cache", bo.no_cache, "Run every step, ignoring the build cache");
  build->add_option("--image-list", bo.image_list, "More container images to collect (one a line)");
  build->add_option("--ignored-image-list", bo.ignored_image_list, "Container images not to collect (one a line)");
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
  build_reg.Add(build);
  build->add_option("CONTEXT", bo.context, "Build context directory")->required();
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
    bo.progress = TerminalProgress(quiet);
    auto t0 = std::chrono::steady_clock::now();
    auto r = Must(cfs::builder::Build(*store, bo));
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
  static std::string commit_mnt, commit_name, commit_msg;
  commit->add_option("MNT", commit_mnt, "Mount point of a clusterfs mount with an upper dir")->required();
  commit->add_option("NAME", commit_name, "Name of the new image")->required();
  commit->add_option("-m,--message", commit_msg, "Comment in the image history");
  commit->callback([&] {
    char* rp = ::realpath(commit_mnt.c_str(), nullptr);
    if (!rp) Fail(Status::NotFound(commit_mnt + ": no such directory"));
    std::string mnt = rp;
    ::free(rp);
    auto st = cfs::mount::ReadMountState(mnt);
    if (!st.ok() && st.status().code() == Status::Code::kCorruption) Fail(st.status());
    if (!st.ok()) Fail(Status::NotFound(commit_mnt + " is not a clusterfs mount"));
    const std::string& upper = st->upper;
    const auto& manifests = st->manifests;
    if (upper.empty()) Fail(Status::Invalid(commit_mnt + " is read-only (no upper dir): nothing to commit"));
    if (manifests.size() != 1 || manifests[0].empty() || st->dir_lowers != 0)
      Fail(Status::Unsupported(commit_mnt + ": commit needs a mount of one image from the store"));
    auto store = Must(OpenStore(g));
    if (st->root != store->root())
      Fail(Status::Invalid(commit_mnt + " is mounted from the store " + st->root +
                           " (use cimg --root " + st->root + ")"));
    // Changes made through the mount are in the upper dir once synced.
    int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::syncfs(fd);
      ::close(fd);
    }
    auto base = Must(store->Inspect(manifests[0]));
    std::unique_ptr<cfs::Store::Lease> lease2;
    auto layer = Must(store->ImportDirLayer(upper, TerminalProgress(quiet), &lease2));
    json cfg = json::parse(base.config, nullptr, false);
    if (!cfg.is_object()) cfg = json::object();
    char now[32];
    std::time_t t = std::time(nullptr);
    struct tm tm;
    gmtime_r(&t, &tm);
    std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cfg["created"] = now;
    if (!cfg.contains("rootfs") || !cfg["rootfs"].is_object())
      cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    cfg["rootfs"]["diff_ids"].push_back(layer.diff_id.ToString());
    if (!cfg.contains("history") || !cfg["history"].is_array()) cfg["history"] = json::array();
    json h = {{"created", now}, {"created_by", "cimg commit " + mnt}};
    if (!commit_msg.empty()) h["comment"] = commit_msg;
    cfg["history"].push_back(h);
    auto img = Must(store->CreateImage(commit_name, cfg.dump(), "commit:" + mnt, {layer}));
    std::printf("%s  %s\n  %zu layers (+1: %llu entries, %s)\n", commit_name.c_str(),
                img.summary.image_id.ToString().c_str(), img.layers.size(),
                static_cast<unsigned long long>(layer.entries), HumanSize(layer.tar_size).c_str());
  });
}

}  // namespace

void AddBuildCommands(CLI::App& app, const Global& g, const bool& quiet) {
  AddBuildCommand(app, g, quiet);
  AddCommitCommand(app, g, quiet);
}

}  // namespace cimg
