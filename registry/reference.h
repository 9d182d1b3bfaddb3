// Image references in a registry: [docker://]REGISTRY/REPO[:TAG][@DIGEST],
// with the short forms docker and podman accept ("nginx" is
// docker.io/library/nginx:latest).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/status.h"

namespace cfs::registry {

struct Reference {
  std::string registry;    // "docker.io", "127.0.0.1:5000", "quay.io"
  std::string repository;  // "library/nginx", "team/app"
  std::string tag;         // "" when only a digest is given
  std::optional<Digest> digest;

  // Parses a reference; a leading "docker://" is dropped. A missing tag and
  // digest mean "latest". Invalid with the reason for anything else.
  static Result<Reference> Parse(std::string_view s);

  // The tag, else the digest: what goes after /manifests/.
  std::string ManifestRef() const { return digest ? digest->ToString() : tag; }
  // "REGISTRY/REPO:TAG", "REGISTRY/REPO@sha256:…" or both.
  std::string ToString() const;
  // The name an image pulled by this reference gets in the store:
  // "REGISTRY/REPO:TAG", or "REGISTRY/REPO@sha256:…" when pulled by digest.
  std::string LocalName() const;
  // The host to talk to: docker.io is served by registry-1.docker.io.
  std::string ApiHost() const;
};

// True when s names a registry (has a transport prefix docker://, or is not
// one of the local transports oci:, oci-archive:, docker-archive:).
bool IsRegistryReference(std::string_view s);

// Normalizes a registry name as given to `login`/`logout` ("docker.io",
// "https://index.docker.io/v1/" → "docker.io"; "HOST:PORT/…" → "HOST:PORT").
std::string NormalizeRegistryHost(std::string_view s);

}  // namespace cfs::registry
