// Package URLs (purl, github.com/package-url/purl-spec): the identifiers an
// SBOM gives its packages, so scanners can match them against advisories.
//   pkg:TYPE/NAMESPACE/NAME@VERSION?KEY=VALUE&...
// Every component is percent-encoded (PurlEncode); qualifiers are sorted by
// key, as the spec's canonical form asks.
#pragma once

#include <string>
#include <string_view>

#include "base/digest.h"
#include "sbom/dpkg_status.h"

namespace cfs::sbom {

// Percent-encodes every byte except the unreserved A-Z a-z 0-9 . - _ ~
// ("1:2.3+dfsg" -> "1%3A2.3%2Bdfsg").
std::string PurlEncode(std::string_view s);

// pkg:deb/debian/NAME@VERSION?arch=ARCH (no arch qualifier when unknown).
std::string DebPurl(const DebPackage& p);

// pkg:oci/NAME@sha256%3AHEX?tag=TAG: NAME is the last component of
// repository, lowercased (the type's rule: oci purls name no registry or
// namespace); no tag qualifier when tag is "".
std::string OciPurl(std::string_view repository, const Digest& digest, std::string_view tag);

}  // namespace cfs::sbom
