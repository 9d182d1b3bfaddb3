#include "sbom/cyclonedx_writer.h"

#include <nlohmann/json.hpp>
#include <string>

#include "sbom/json_stream.h"
#include "sbom/purl.h"

namespace cfs::sbom {

namespace {

using nlohmann::json;

json Hashes(const Digest& d) { return json::array({{{"alg", "SHA-256"}, {"content", d.Hex()}}}); }

json ImageComponent(const ImageIdentity& im) {
  std::string repo, tag;
  SplitImageName(im.name, &repo, &tag);
  json c = {{"type", "container"},
            {"bom-ref", "image"},
            {"name", im.name},
            {"version", im.manifest.ToString()},
            {"purl", OciPurl(repo, im.manifest, tag)},
            {"hashes", Hashes(im.manifest)}};
  if (!im.os.empty())
    c["properties"] =
        json::array({{{"name", "cimg:platform"}, {"value", im.os + "/" + im.architecture}}});
  return c;
}

json Head(const SbomDocument& doc) {
  json tool = {{"type", "application"}, {"name", "cimg"}, {"version", doc.tool_version}};
  return {{"bomFormat", "CycloneDX"},
          {"specVersion", "1.5"},
          {"serialNumber", "urn:uuid:" + ImageUuid(doc.image.manifest)},
          {"version", 1},
          {"metadata",
           {{"timestamp", Rfc3339Utc(doc.created)},
            {"tools", {{"components", json::array({tool})}}},
            {"component", ImageComponent(doc.image)}}}};
}

json DebComponent(const DebPackage& d) {
  std::string purl = DebPurl(d);
  json c = {{"type", "library"},
            {"bom-ref", purl},
            {"name", d.name},
            {"version", d.version},
            {"purl", purl}};
  if (!d.source.empty() || !d.source_version.empty())
    c["properties"] =
        json::array({{{"name", "cimg:deb:source"},
                      {"value", (d.source.empty() ? d.name : d.source) + " " +
                                    (d.source_version.empty() ? d.version : d.source_version)}}});
  return c;
}

json OciComponent(const ContainerImage& im) {
  std::string purl = OciPurl(im.repository, im.digest, im.tag);
  return {{"type", "container"},
          {"bom-ref", "registry:" + im.repository + ":" + im.tag},
          {"name", im.repository + ":" + im.tag},
          {"version", im.digest.ToString()},
          {"purl", purl},
          {"hashes", Hashes(im.digest)}};
}

}  // namespace

Status WriteCycloneDxJson(const SbomDocument& doc, ByteSink& out) {
  RETURN_IF_ERROR(out.Write(OpenObject(Head(doc))));
  JsonArrayStream a(out, "components");
  const Inventory& inv = doc.inventory;
  for (const auto& p : inv.packages) a.Add(DebComponent(p));
  for (const auto& im : inv.images) a.Add(OciComponent(im));
  for (const auto& f : inv.files)
    a.Add({{"type", "file"},
           {"bom-ref", "file:" + f.path},
           {"name", f.path},
           {"hashes", Hashes(f.sha256)}});
  RETURN_IF_ERROR(a.Close());
  return out.Write("}\n");
}

}  // namespace cfs::sbom
