#include "sbom/spdx_writer.h"

#include <nlohmann/json.hpp>
#include <string>

#include "sbom/json_stream.h"
#include "sbom/purl.h"

namespace cfs::sbom {

namespace {

using nlohmann::json;

constexpr const char* kImageId = "SPDXRef-Image";
constexpr const char* kNoAssertion = "NOASSERTION";

json PurlRef(const std::string& purl) {
  return json::array({{{"referenceCategory", "PACKAGE-MANAGER"},
                       {"referenceType", "purl"},
                       {"referenceLocator", purl}}});
}

json Sha256(const Digest& d) {
  return json::array({{{"algorithm", "SHA256"}, {"checksumValue", d.Hex()}}});
}

// The fields every package states (clause 7: download location, whether
// files were analysed, licences and copyright not asserted).
json Package(const std::string& id, const std::string& name, const std::string& version) {
  return {{"SPDXID", id},
          {"name", name},
          {"versionInfo", version},
          {"downloadLocation", kNoAssertion},
          {"filesAnalyzed", false},
          {"licenseConcluded", kNoAssertion},
          {"licenseDeclared", kNoAssertion},
          {"copyrightText", kNoAssertion}};
}

json ImagePackage(const ImageIdentity& im) {
  std::string repo, tag;
  SplitImageName(im.name, &repo, &tag);
  json p = Package(kImageId, im.name, im.manifest.ToString());
  p["primaryPackagePurpose"] = "CONTAINER";
  p["checksums"] = Sha256(im.manifest);
  p["externalRefs"] = PurlRef(OciPurl(repo, im.manifest, tag));
  if (!im.os.empty()) p["comment"] = "platform " + im.os + "/" + im.architecture;
  return p;
}

json DebPackageJson(const DebPackage& d, size_t i) {
  json p = Package("SPDXRef-Deb-" + std::to_string(i), d.name, d.version);
  p["externalRefs"] = PurlRef(DebPurl(d));
  if (!d.source.empty() || !d.source_version.empty())
    p["sourceInfo"] = "built from Debian source package " + (d.source.empty() ? d.name : d.source) +
                      " " + (d.source_version.empty() ? d.version : d.source_version);
  return p;
}

json OciPackageJson(const ContainerImage& c, size_t i) {
  json p =
      Package("SPDXRef-OCI-" + std::to_string(i), c.repository + ":" + c.tag, c.digest.ToString());
  p["primaryPackagePurpose"] = "CONTAINER";
  p["checksums"] = Sha256(c.digest);
  p["externalRefs"] = PurlRef(OciPurl(c.repository, c.digest, c.tag));
  p["comment"] = "in the image's built-in registry (registry/) as " + c.repository + ":" + c.tag;
  return p;
}

json Relationship(const std::string& from, const char* type, const std::string& to) {
  return {{"spdxElementId", from}, {"relationshipType", type}, {"relatedSpdxElement", to}};
}

json Head(const SbomDocument& doc) {
  return {{"spdxVersion", "SPDX-2.3"},
          {"dataLicense", "CC0-1.0"},
          {"SPDXID", "SPDXRef-DOCUMENT"},
          {"name", doc.image.name},
          {"documentNamespace", "urn:uuid:" + ImageUuid(doc.image.manifest)},
          {"documentDescribes", json::array({kImageId})},
          {"creationInfo",
           {{"created", Rfc3339Utc(doc.created)},
            {"creators", json::array({"Tool: cimg-" + doc.tool_version})}}}};
}

Status WritePackages(const SbomDocument& doc, ByteSink& out) {
  JsonArrayStream a(out, "packages");
  a.Add(ImagePackage(doc.image));
  const Inventory& inv = doc.inventory;
  for (size_t i = 0; i < inv.packages.size(); i++) a.Add(DebPackageJson(inv.packages[i], i));
  for (size_t i = 0; i < inv.images.size(); i++) a.Add(OciPackageJson(inv.images[i], i));
  return a.Close();
}

Status WriteFiles(const Inventory& inv, ByteSink& out) {
  JsonArrayStream a(out, "files");
  for (size_t i = 0; i < inv.files.size(); i++)
    a.Add({{"SPDXID", "SPDXRef-File-" + std::to_string(i)},
           {"fileName", "./" + inv.files[i].path},
           {"checksums", Sha256(inv.files[i].sha256)},
           {"licenseConcluded", kNoAssertion},
           {"copyrightText", kNoAssertion}});
  return a.Close();
}

Status WriteRelationships(const Inventory& inv, ByteSink& out) {
  JsonArrayStream a(out, "relationships");
  a.Add(Relationship("SPDXRef-DOCUMENT", "DESCRIBES", kImageId));
  for (size_t i = 0; i < inv.packages.size(); i++)
    a.Add(Relationship(kImageId, "CONTAINS", "SPDXRef-Deb-" + std::to_string(i)));
  for (size_t i = 0; i < inv.images.size(); i++)
    a.Add(Relationship(kImageId, "CONTAINS", "SPDXRef-OCI-" + std::to_string(i)));
  for (size_t i = 0; i < inv.files.size(); i++)
    a.Add(Relationship(kImageId, "CONTAINS", "SPDXRef-File-" + std::to_string(i)));
  return a.Close();
}

}  // namespace

Status WriteSpdxJson(const SbomDocument& doc, ByteSink& out) {
  RETURN_IF_ERROR(out.Write(OpenObject(Head(doc))));
  RETURN_IF_ERROR(WritePackages(doc, out));
  RETURN_IF_ERROR(WriteFiles(doc.inventory, out));
  RETURN_IF_ERROR(WriteRelationships(doc.inventory, out));
  return out.Write("}\n");
}

}  // namespace cfs::sbom
