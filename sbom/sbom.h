// Software bills of materials of cluster images: `cimg sbom`, and what
// `cimg build --sbom` attaches to an image. An SbomDocument (the image and
// its Inventory, sbom/inventory.h) is written as SPDX 2.3 JSON or
// CycloneDX 1.5 JSON, streamed element by element to a ByteSink (a large
// image's list of files is never held twice). The output is deterministic
// for one image apart from the creation time: every list is sorted, every
// identifier derived from the image's manifest digest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/io.h"
#include "base/status.h"
#include "base/time.h"
#include "sbom/inventory.h"

namespace cfs::sbom {

enum class SbomFormat { kSpdxJson, kCycloneDxJson };

// "spdx-json" or "cyclonedx-json"; Invalid naming both otherwise.
Result<SbomFormat> ParseSbomFormat(std::string_view s);
const char* SbomFormatName(SbomFormat f);
// The media type of the document: application/spdx+json,
// application/vnd.cyclonedx+json (an OCI artifact's artifactType).
const char* SbomMediaType(SbomFormat f);
// The format of a media type SbomMediaType returns; Invalid otherwise.
Result<SbomFormat> SbomFormatOfMediaType(std::string_view media_type);

// The image an SBOM describes.
struct ImageIdentity {
  std::string name;          // "demo/app:1" (what the user named; may be a digest)
  Digest manifest;           // its manifest digest: the SBOM's subject
  std::string architecture;  // from the config ("" unknown)
  std::string os;
};

struct SbomDocument {
  ImageIdentity image;
  Inventory inventory;
  std::string tool_version;  // "cimg-VERSION" is the creator
  int64_t created = 0;       // seconds since the epoch (SbomCreationTime())
};

// $SOURCE_DATE_EPOCH when it is a decimal number of seconds, else now.
int64_t SbomCreationTime();
// A UUID derived from the manifest digest (RFC 9562 version 8: SHA-256
// based, name-derived), "xxxxxxxx-xxxx-8xxx-yxxx-xxxxxxxxxxxx": the same
// image always gets the same document namespace and serial number.
std::string ImageUuid(const Digest& manifest);
// The repository and tag of an image name ("reg:5000/a/b:1" -> "reg:5000/a/b", "1";
// a digest name "a@sha256:..." gives tag "").
void SplitImageName(std::string_view name, std::string* repository, std::string* tag);

// Writes doc in format f. Errors are out's.
Status WriteSbom(const SbomDocument& doc, SbomFormat f, ByteSink& out);

}  // namespace cfs::sbom
