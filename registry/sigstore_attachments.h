// The sigstore signatures of a registry image (sigstore.h describes the
// layout: the `sha256-HEX.sig` manifest of the same repository), read and
// added through a Client.
#pragma once

#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "registry/client.h"
#include "registry/sigstore.h"

namespace cfs::registry::sigstore {

// The signatures stored for manifest d of repo, in manifest order; none
// when the repository has no `sha256-HEX.sig` manifest. Every payload blob
// is verified against its digest (at most 4 MiB each).
Result<std::vector<Signature>> FetchSignatures(Client& c, const std::string& repo, const Digest& d);

// Adds sig to the signatures of manifest d of repo (the payload blob, a new
// config, the manifest under the `.sig` tag), keeping those already there;
// nothing when the same signature is there. tmp_dir: where the blobs wait.
Status PutSignature(Client& c, const std::string& repo, const Digest& d, const Signature& sig,
                    const std::string& tmp_dir);

}  // namespace cfs::registry::sigstore
