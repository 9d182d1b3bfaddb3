// The transports behind OpenImageSource. Private to transport/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "transport/image_source.h"
#include "base/io.h"

namespace cfs::oci {

// Reads the OCI image layout in dir. tag selects a manifest of index.json by
// its org.opencontainers.image.ref.name annotation; "" takes the only image.
// name is how messages call the source ("oci:/x"). owned (may be empty) is
// kept alive as long as the reader: the unpacked archive dir lives in it.
Result<std::unique_ptr<ImageSourceReader>> OpenOciLayoutReader(std::string dir, std::string tag,
                                                               std::string name, TempDir owned);

// Whether an index.json entry is a referrer (an artifact manifest, listed
// with its "artifactType"), not an image to pick.
bool IsReferrerEntry(const Descriptor& d);
// The artifacts in the layout at dir whose subject is `subject`
// (oci_layout_referrers.cc); name is how messages call the source.
Result<std::vector<SourceReferrer>> ReadLayoutReferrers(const std::string& dir, const std::string& name,
                                                        const Digest& subject);

// Reads an unpacked `docker save` archive in dir (manifest.json at its root).
// selector picks an image: "" (the only one), "NAME:TAG" (a RepoTags entry)
// or "@N" (the N-th, from 0).
Result<std::unique_ptr<ImageSourceReader>> OpenDockerArchiveReader(std::string dir,
                                                                   std::string selector,
                                                                   std::string name, TempDir owned);

// Unpacks the tar archive (optionally compressed) at archive into dest, an
// existing directory, as OpenImageSource describes. Invalid for a refused
// member or a file that is not a tar archive; Corruption for a truncated or
// damaged one (with libarchive's message).
Status ExtractImageArchive(const std::string& archive, const std::string& dest);

}  // namespace cfs::oci
