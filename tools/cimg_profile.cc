// cimg profile attach|show: bring-up profiles (store/read_profile.h) kept
// with an image. Argument parsing and printing only.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/io.h"
#include "store/read_profile.h"
#include "tools/cimg_common.h"

namespace cimg {

namespace {

// The annotations of an image's stored manifest.
std::map<std::string, std::string> ManifestAnnotations(const cfs::ImageDetails& d) {
  std::map<std::string, std::string> out;
  auto m = nlohmann::json::parse(d.manifest, nullptr, false);
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object()) return out;
  for (const auto& [k, v] : m["annotations"].items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

// The artifacts attached to the image before (an SBOM of build --sbom), now
// attached to the new manifest, with their creation times: a profile must
// not cost the image its SBOM.
void KeepArtifacts(cfs::Store& store, const std::string& image, const cfs::ImageDetails& before) {
  for (const auto& r : before.referrers) {
    std::string bytes = Must(store.ReadBlob(r.blob));
    auto m = nlohmann::json::parse(Must(store.ReadBlob(r.manifest)), nullptr, false);
    std::string created;
    if (m.is_object() && m.contains("annotations") && m["annotations"].is_object())
      created = m["annotations"].value("org.opencontainers.image.created", "");
    Must(store.AttachArtifact(image, r.artifact_type, bytes, created));
  }
}

}  // namespace

void AddProfileCommands(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* profile = app.add_subcommand("profile", "Bring-up profiles kept with images");
  profile->require_subcommand(1);
  static auto* attach = profile->add_subcommand(
      "attach", "Keep a profile (clusterfs mount --record-profile) with an image");
  static std::string image, file;
  attach->add_option("IMAGE", image, "Image of the store")->required();
  attach->add_option("FILE", file, "Profile file")->required();
  attach->footer(
      "The image gets a new manifest (annotation io.cimg.read-profile; its ID, the config digest,\n"
      "stays); push and pull carry it, and a lazy clusterfs mount of the image fetches the\n"
      "profile's file ranges in the background, in order.\n\n"
      "Example:\n"
      "  clusterfs mount --record-profile /tmp/app.profile demo/app:1 /mnt/app  # run, umount\n"
      "  cimg profile attach demo/app:1 /tmp/app.profile");
  attach->callback([&] {
    auto text = Must(cfs::ReadFile(file, 64 << 20));
    cfs::ReadProfile p = Must(cfs::ReadProfile::ParseText(text, file));
    auto store = Must(OpenStore(g));
    cfs::ImageDetails d = Must(store->Inspect(image));
    auto annotations = ManifestAnnotations(d);
    annotations[cfs::kReadProfileAnnotation] = p.ToAnnotation();
    cfs::ImageDetails made = Must(store->CreateImage(image, d.config, d.source, {}, annotations));
    KeepArtifacts(*store, image, d);
    if (!quiet)
      std::printf("%s: profile of %zu file ranges attached (manifest %s)\n", image.c_str(), p.ranges.size(),
                  made.summary.manifest_digest.ToString().c_str());
  });
  static auto* show = profile->add_subcommand("show", "Print an image's profile");
  static std::string show_image;
  show->add_option("IMAGE", show_image, "Image of the store")->required();
  show->callback([&] {
    auto store = Must(OpenStore(g));
    auto annotations = ManifestAnnotations(Must(store->Inspect(show_image)));
    auto it = annotations.find(cfs::kReadProfileAnnotation);
    if (it == annotations.end()) Fail(cfs::Status::NotFound(show_image + " has no profile"));
    std::fputs(Must(cfs::ReadProfile::FromAnnotation(it->second)).ToText().c_str(), stdout);
  });
}

}  // namespace cimg
