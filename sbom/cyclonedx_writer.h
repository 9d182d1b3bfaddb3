// CycloneDX 1.5 JSON (cyclonedx.org/docs/1.5/json): bomFormat, specVersion,
// serialNumber (urn:uuid of the image), metadata (timestamp, the tool, the
// image as the container component), components: Debian packages
// (library, purl), container images of the built-in registry (container,
// purl, SHA-256 hash of the manifest), files (file, SHA-256 hash). Private
// to sbom/.
#pragma once

#include "base/io.h"
#include "base/status.h"
#include "sbom/sbom.h"

namespace cfs::sbom {

Status WriteCycloneDxJson(const SbomDocument& doc, ByteSink& out);

}  // namespace cfs::sbom
