// cimg sbom: an image's software bill of materials (sbom/sbom.h) as SPDX 2.3
// or CycloneDX 1.5 JSON; and the SBOM cimg build --sbom attaches. Argument
// parsing and printing only.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/io.h"
#include "lazy/readable_image.h"
#include "registry/remote_inspect.h"
#include "sbom/sbom.h"
#include "tools/cimg_common.h"
#include "tools/cimg_source.h"

namespace cimg {

namespace {

using cfs::sbom::SbomFormat;

void SetPlatform(const std::string& config, cfs::sbom::ImageIdentity* id) {
  auto c = nlohmann::json::parse(config, nullptr, false);
  if (!c.is_object()) return;
  id->architecture = c.value("architecture", "");
  id->os = c.value("os", "");
}

// What the SBOM says of the image itself: from the store, or for a registry
// image from its manifest and config (two small requests).
cfs::sbom::ImageIdentity Identity(cfs::Store& store, const std::string& name,
                                  const SourceFlags& reg) {
  cfs::sbom::ImageIdentity id;
  id.name = name;
  if (!cfs::lazy::IsRegistryImageName(store, name)) {
    cfs::ImageDetails d = Must(store.Inspect(name));
    id.manifest = d.summary.manifest_digest;
    SetPlatform(d.config, &id);
    return id;
  }
  cfs::registry::RemoteInspectOptions o;
  o.client = reg.Options();
  if (!reg.platform.empty()) o.platform = Must(cfs::Platform::Parse(reg.platform));
  auto r = Must(cfs::registry::InspectRegistryImage(name, o));
  id.manifest = r.image.manifest_digest;
  SetPlatform(r.image.config, &id);
  return id;
}

// The SBOM of name in format f, to out.
Status WriteImageSbom(cfs::Store& store, const std::string& name, const SourceFlags& reg,
                      SbomFormat f, cfs::ByteSink& out) {
  cfs::sbom::SbomDocument doc;
  doc.image = Identity(store, name, reg);
  auto img = OpenImage(store, name, reg);
  auto inv = cfs::sbom::CollectInventory(img->stack(), img->chunks());
  if (!inv.ok()) return inv.status().Prefix(name);
  doc.inventory = std::move(*inv);
  doc.tool_version = CimgVersion().version;
  doc.created = cfs::sbom::SbomCreationTime();
  return cfs::sbom::WriteSbom(doc, f, out);
}

// The attached SBOM of a stored image: of format when given, else the
// SPDX one when there is one, else any.
std::string AttachedSbom(cfs::Store& store, const std::string& name, const std::string& format) {
  cfs::ImageDetails d = Must(store.Inspect(name));
  const cfs::Referrer* found = nullptr;
  for (const auto& r : d.referrers) {
    auto f = cfs::sbom::SbomFormatOfMediaType(r.artifact_type);
    if (!f.ok()) continue;
    const std::string fname = cfs::sbom::SbomFormatName(*f);
    if (!format.empty() && fname != format) continue;
    if (!found || fname == "spdx-json") found = &r;
  }
  if (!found)
    Fail(Status::NotFound(name + " has no attached SBOM" + (format.empty() ? "" : " in " + format) +
                          " (cimg build --sbom FORMAT attaches one)"));
  return Must(store.ReadBlob(found->blob));
}

void Output(const std::string& output, const std::function<Status(cfs::ByteSink&)>& write) {
  if (output.empty() || output == "-") {
    cfs::FdSink out(1);
    Must(write(out));
    return;
  }
  auto file = Must(cfs::AtomicFileSink::Create(output));
  Must(write(*file).Prefix(output));
  Must(file->Commit().Prefix(output));
}

}  // namespace

Status AttachSbom(cfs::Store& store, const std::string& image, const std::string& format) {
  ASSIGN_OR_RETURN(SbomFormat f, cfs::sbom::ParseSbomFormat(format));
  std::string bytes;
  cfs::StringSink sink(&bytes);
  RETURN_IF_ERROR(WriteImageSbom(store, image, SourceFlags(), f, sink));
  auto r = store.AttachArtifact(image, cfs::sbom::SbomMediaType(f), bytes,
                                cfs::Rfc3339Utc(cfs::sbom::SbomCreationTime()));
  return r.status();
}

void AddSbomCommand(CLI::App& app, const Global& g) {
  static auto* sbom =
      app.add_subcommand("sbom", "Print an image's software bill of materials (SPDX or CycloneDX)");
  static std::string image, format, output;
  static bool attached = false;
  static SourceFlags reg;
  sbom->add_option("IMAGE", image, "An image of the store or REGISTRY/REPO[:TAG] (read lazily)")
      ->required();
  sbom->add_option("--format", format, "spdx-json (default) or cyclonedx-json");
  sbom->add_option("-o,--output", output, "Write to FILE (default: stdout)");
  sbom->add_flag("--attached", attached,
                 "Print the SBOM cimg build --sbom attached to a stored image");
  reg.Add(sbom);
  sbom->footer(
      "Lists every regular file with its SHA-256 (from the layers' TOCs; only files of several\n"
      "chunks are read), the Debian packages of var/lib/dpkg/status (and status.d/) as\n"
      "pkg:deb purls, and the container images of the built-in registry (registry/) with their\n"
      "digests as pkg:oci purls. Deterministic for one image apart from the creation time\n"
      "($SOURCE_DATE_EPOCH fixes that too). A registry image is read lazily: its TOCs, its\n"
      "small metadata files and the chunks of files of several chunks.\n\n"
      "Examples:\n"
      "  cimg sbom demo/app:1 -o app.spdx.json\n"
      "  cimg sbom demo/app:1 --format cyclonedx-json | jq '.components | length'\n"
      "  cimg sbom 127.0.0.1:5000/team/app:1 --tls-verify=false\n"
      "  cimg build --sbom spdx-json -t demo/app:1 ctx && cimg sbom --attached demo/app:1");
  sbom->callback([&] {
    auto store = Must(OpenStore(g));
    if (attached) {
      if (!format.empty()) Must(cfs::sbom::ParseSbomFormat(format).status());
      std::string bytes = AttachedSbom(*store, image, format);
      Output(output, [&](cfs::ByteSink& out) { return out.Write(bytes); });
      return;
    }
    SbomFormat f = Must(cfs::sbom::ParseSbomFormat(format.empty() ? "spdx-json" : format));
    Output(output, [&](cfs::ByteSink& out) { return WriteImageSbom(*store, image, reg, f, out); });
  });
}

}  // namespace cimg
