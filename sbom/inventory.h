// What an SBOM of a cluster image lists, read from the merged view of its
// layers (layer/layer_stack.h) without a mount: every regular file with its
// SHA-256, the Debian packages of the rootfs's dpkg database
// (sbom/dpkg_status.h), and the container images of the built-in registry
// (registry/docker/registry/v2/repositories/REPO/_manifests/tags/TAG/
// current/link -> the manifest digest; registry/layout.h).
//
// File digests come from the layers' TOCs: a file of one chunk has the
// chunk's digest (a chunk's digest is the SHA-256 of its bytes), an empty
// file the digest of nothing; only a file of several chunks is read (chunk
// by chunk, each verified by the ChunkSource) to hash it whole. Whiteouts
// and later layers win, as in every merged view.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "layer/chunk_source.h"
#include "layer/layer_stack.h"
#include "sbom/dpkg_status.h"

namespace cfs::sbom {

struct FileRecord {
  std::string path;  // relative, "etc/passwd"
  Digest sha256;
  uint64_t size = 0;
};

// A container image of the built-in registry.
struct ContainerImage {
  std::string repository;  // "library/nginx"
  std::string tag;         // "1.25"
  Digest digest;           // the manifest (or index) the tag names
};

struct Inventory {
  std::vector<FileRecord> files;       // regular files and hard links, sorted by path (bytewise)
  std::vector<DebPackage> packages;    // installed, sorted by name, architecture, version; unique
  std::vector<ContainerImage> images;  // sorted by repository, tag
  uint64_t files_read = 0;             // files of several chunks, read to hash them
};

// Where the built-in registry's repositories are in a cluster image.
inline constexpr const char* kBuiltinRepositories = "registry/docker/registry/v2/repositories/";

// Reads the inventory of stack. Errors name the path: a malformed dpkg
// status file (FILE:LINE), a tag link that is not a digest, a chunk that
// cannot be read. progress (may be empty) is called after each file read
// whole, with the files read and the bytes hashed so far.
Result<Inventory> CollectInventory(
    const LayerStack& stack, ChunkSource& chunks,
    const std::function<void(uint64_t files, uint64_t bytes)>& progress = {});

}  // namespace cfs::sbom
