// SPDX 2.3 JSON (spdx.github.io/spdx-spec/v2.3): the document (clause 6),
// one package for the image (DESCRIBES; primaryPackagePurpose CONTAINER),
// one per Debian package and per container image of the built-in registry
// (each with its purl as a PACKAGE-MANAGER external reference), one file
// element per regular file (clause 8: "./path", SHA256 checksum), and a
// CONTAINS relationship from the image to each of them. SPDX identifiers
// are positional (SPDXRef-File-N, SPDXRef-Deb-N, SPDXRef-OCI-N) over the
// sorted lists, so they are stable for one image. Private to sbom/.
#pragma once

#include "base/io.h"
#include "base/status.h"
#include "sbom/sbom.h"

namespace cfs::sbom {

Status WriteSpdxJson(const SbomDocument& doc, ByteSink& out);

}  // namespace cfs::sbom
