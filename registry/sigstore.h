// Sigstore (cosign) image signatures as containers/image writes and reads
// them, and where a registry keeps them.
//
// The payload that is signed ("simple signing" JSON, keys sorted as Go's
// encoding/json writes them):
//   {"critical":{"identity":{"docker-reference":"REG/REPO:TAG"},
//                "image":{"docker-manifest-digest":"sha256:…"},
//                "type":"cosign container image signature"},
//    "optional":{"creator":"…","timestamp":1700000000}}
// `critical` and each object in it must have exactly these keys;
// `optional` may be null or hold anything (creator a string, timestamp an
// integer when present).
//
// A signature is that payload as a blob of media type
// application/vnd.dev.cosign.simplesigning.v1+json plus the annotation
// dev.cosignproject.cosign/signature = base64 of the ECDSA signature
// (sigstore_key.h) of the payload bytes.
//
// In a registry, the signatures of manifest sha256:HEX of repository R are
// the layers of the OCI image manifest tagged `sha256-HEX.sig` in R (its
// config an OCI image config whose rootfs.diff_ids list the layers'
// digests). Signing adds a layer to that manifest (or creates it); a
// signature already there is not added twice.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "registry/sigstore_key.h"

namespace cfs::registry::sigstore {

inline constexpr const char* kSignatureMediaType = "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr const char* kSignatureAnnotation = "dev.cosignproject.cosign/signature";

struct Payload {
  Digest manifest_digest;        // critical.image.docker-manifest-digest
  std::string docker_reference;  // critical.identity.docker-reference
  std::string creator;           // optional.creator ("" when absent)
  std::optional<int64_t> timestamp;
};

// The payload bytes for p (p.creator and p.timestamp written when set).
std::string MarshalPayload(const Payload& p);
// Strict, as containers/image: Invalid with the reason for anything else.
Result<Payload> ParsePayload(std::string_view bytes);

// One signature as stored (untrusted until verified).
struct Signature {
  std::string media_type;
  std::string payload;
  std::map<std::string, std::string> annotations;
};

// Signs manifest `manifest` as `identity` (a full docker reference with a
// tag or digest: REG/REPO:TAG). creator: "cimg VERSION".
Result<Signature> Sign(const PrivateKey& key, const Digest& manifest, const std::string& identity,
                       const std::string& creator);

// Checks the signature annotation against any of keys, then parses the
// payload. Denied ("cryptographic signature verification failed", "missing
// annotation") or Invalid (a payload that is not one) otherwise. The caller
// checks the digest and identity in the result.
Result<Payload> VerifySignature(const std::vector<PublicKey>& keys, const Signature& sig);

// "sha256-HEX.sig": the tag of manifest d's signatures.
std::string AttachmentTag(const Digest& d);

}  // namespace cfs::registry::sigstore
