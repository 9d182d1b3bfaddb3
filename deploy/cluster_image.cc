#include "deploy/cluster_image.h"

#include <nlohmann/json.hpp>

#include "deploy/clusterfile.h"
#include "transport/oci_metadata.h"

namespace cfs::deploy {

namespace {

using json = nlohmann::json;

// Labels cimg build writes into the image config (builder/builder.h).
constexpr char kLabelCmds[] = "io.cimg.cmds";
constexpr char kLabelCmdsLaunch[] = "io.cimg.cmds-launch";
constexpr char kLabelLaunch[] = "io.cimg.launch";

// The manifest's sealer.image.extension, when it has one.
Status ReadExtension(const std::string& manifest, const std::string& name, ClusterImage* img) {
  json m = json::parse(manifest, nullptr, false);
  if (!m.is_object() || !m.contains("annotations") || !m["annotations"].is_object()) return Status::Ok();
  const json& a = m["annotations"];
  auto it = a.find(kSealerImageExtension);
  if (it == a.end()) return Status::Ok();
  if (!it->is_string()) return Status::Invalid("image " + name + ": " + kSealerImageExtension + " is not a string");
  auto ext = ParseSealerImageExtension(it->get<std::string>());
  if (!ext.ok()) return ext.status().Prefix("image " + name);
  img->extension = std::move(*ext);
  img->has_extension = true;
  return Status::Ok();
}

}  // namespace

Result<ClusterImage> ReadClusterImage(const ImageDetails& d, const std::string& name) {
  ClusterImage img;
  img.id = d.summary.image_id.ToString();
  bool cimg_labels = false;
  try {
    json cfg = json::parse(d.config);
    const json& c = cfg.value("config", json::object());
    for (const auto& e : c.value("Env", json::array())) {
      std::string kv = e.get<std::string>();
      auto p = ParseEnvEntry(kv);
      if (!p.ok())
        return Status::Invalid("image " + name + ": config Env key " +
                               QuoteForMessage(kv.substr(0, kv.find('='))) +
                               " is not a shell variable name; refusing to deploy it");
      img.env[p->first] = p->second;
    }
    img.platform.os = cfg.value("os", "");
    img.platform.arch = cfg.value("architecture", "");
    img.platform.variant = cfg.value("variant", "");
    const json& labels = c.value("Labels", json::object());
    auto list = [&](const char* key, std::vector<std::string>* out) {
      if (labels.contains(key))
        *out = json::parse(labels[key].get<std::string>()).get<std::vector<std::string>>();
    };
    list(kLabelCmds, &img.cmds);
    list(kLabelCmdsLaunch, &img.cmds_launch);
    list(kLabelLaunch, &img.launch);
    cimg_labels = labels.contains(kLabelCmds) || labels.contains(kLabelCmdsLaunch) ||
                  labels.contains(kLabelLaunch);
  } catch (const std::exception& e) {
    return Status::Corruption("image config: " + std::string(e.what()));
  }
  RETURN_IF_ERROR(ReadExtension(d.manifest, name, &img));
  // An image sealer built: its commands, else its apps (sealer's
  // GetImageLaunchCmds: launch.cmds, when given, replace the apps).
  if (img.has_extension && !cimg_labels) {
    img.cmds = img.extension.launch_cmds;
    img.commands_replace_apps = !img.cmds.empty();
    if (img.cmds.empty()) img.launch = img.extension.launch_apps;
  } else {
    img.commands_replace_apps = !img.cmds_launch.empty();
  }
  return img;
}

Status CheckHostPlatform(const ClusterImage& img, const std::string& image_name,
                         const std::string& host, const std::string& machine) {
  if (img.platform.arch.empty()) return Status::Ok();
  Platform want = Platform::FromMachine(machine);
  Platform have = img.platform;
  if (have.os.empty()) have.os = "linux";
  if (oci::PlatformMatches(want, have)) return Status::Ok();
  return Status::Invalid("host " + host + " is " + machine + " (" + want.ToString() + "), but image " +
                         image_name + " is for " + have.ToString() +
                         "; deploy an image of that platform to it (cimg pull --platform " +
                         want.ToString() + ")");
}

}  // namespace cfs::deploy
