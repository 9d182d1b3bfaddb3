// policy.json (containers-policy.json(5)) as containers/image reads it:
// which images may be pulled, per transport and scope.
//
//   {"default": [REQ...],
//    "transports": {"docker": {"SCOPE": [REQ...], ...}, "oci": {...}, ...}}
//
// REQ is {"type":"insecureAcceptAnything"}, {"type":"reject"}, or
// {"type":"sigstoreSigned", "keyPath"|"keyPaths"|"keyData"|"keyDatas": ...,
//  "signedIdentity": {...}} (keyData: base64 of a PEM public key); an image
// must satisfy every REQ of the list that applies. signedBy (GPG),
// signedBaseLayer and sigstoreSigned with fulcio/rekor/pki are read but
// refuse every image they apply to (cimg cannot check them).
//
// Which list applies (PolicyFor): in the image's transport, the scope equal
// to the image's identity, else the first of its namespaces present, else
// the transport's "" scope, else "default". For docker (registries) the
// identity is REG/REPO:TAG (REG/REPO@DIGEST), the namespaces REG/REPO, each
// parent (REG/NS), REG, then (port dropped) *.DOMAIN wildcards from the
// longest: "quay.io/team/app:1" tries quay.io/team/app:1, quay.io/team/app,
// quay.io/team, quay.io, *.io. For oci and oci-archive, the absolute path
// and its parent directories; docker-archive has only "".
//
// signedIdentity (default matchRepoDigestOrExact) says which
// docker-reference a signature may name: matchExact, matchRepoDigestOrExact
// (the same REG/REPO:TAG; pulled by digest: the same REG/REPO),
// matchRepository, exactReference {dockerReference}, exactRepository
// {dockerRepository}, remapIdentity {prefix, signedPrefix}.
//
// Files: $CONTAINERS_POLICY alone when set; else
// $HOME/.config/containers/policy.json when it exists; else
// /etc/containers/policy.json; none at all: every image is accepted.
// Key files are read when an image needs them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "registry/reference.h"
#include "registry/sigstore.h"

namespace cfs::registry {

struct SignedIdentity {
  enum class Type { kMatchRepoDigestOrExact, kMatchExact, kMatchRepository, kExactReference,
                    kExactRepository, kRemapIdentity };
  Type type = Type::kMatchRepoDigestOrExact;
  std::string reference;      // exactReference: dockerReference; exactRepository: dockerRepository
  std::string prefix, signed_prefix;  // remapIdentity
};

struct PolicyRequirement {
  enum class Type { kInsecureAcceptAnything, kReject, kSigstoreSigned, kUnsupported };
  Type type = Type::kReject;
  std::string name;  // the "type" as written
  std::string unsupported;  // kUnsupported: why cimg cannot check it
  // sigstoreSigned: key files (relative to nothing: as written) and PEMs.
  std::vector<std::string> key_paths;
  std::vector<std::string> key_datas;
  SignedIdentity identity;
};

// The requirement list that applies to an image, and where it was written.
struct PolicyScope {
  const std::vector<PolicyRequirement>* requirements = nullptr;
  // "default" or transports.docker["quay.io/team"], with the file:
  // `/etc/containers/policy.json transports.docker["quay.io"]`.
  std::string entry;
  // True when every requirement is insecureAcceptAnything (nothing to check).
  bool AcceptsAnything() const;
};

// What a requirement list is checked against.
struct PolicyImage {
  std::string name;       // for messages: REG/REPO:TAG, oci:/path
  std::string transport;  // "docker", "oci", "oci-archive", "docker-archive"
  // docker: the name asked for (its tag, or digest when pulled by digest).
  Reference reference;
  Digest manifest_digest;  // docker: of the manifest the name resolves to
  // docker: the image's sigstore signatures (called at most once, only when
  // a requirement needs them).
  std::function<Result<std::vector<sigstore::Signature>>()> signatures;
};

class SignaturePolicy {
 public:
  // Accepts every image (no policy file).
  SignaturePolicy();
  // path: for messages ("FILE: reason").
  static Result<SignaturePolicy> Parse(std::string_view json, const std::string& path);
  static Result<SignaturePolicy> LoadFile(const std::string& path);
  // The files above, in their order.
  static Result<SignaturePolicy> LoadDefault();
  // The file in effect ("" when none).
  static std::string DefaultPath();

  const std::string& path() const { return path_; }

  // The list that applies to an image of transport with identity and
  // namespaces (most specific first).
  PolicyScope For(const std::string& transport, const std::string& identity,
                  const std::vector<std::string>& namespaces) const;
  // For a registry image / a local one (oci:, oci-archive: by absolute path,
  // docker-archive:).
  PolicyScope ForDocker(const Reference& ref) const;
  PolicyScope ForLocal(const std::string& transport, const std::string& path) const;

  // Ok when the image satisfies every requirement of scope; else Denied with
  // one line: `REF: refused by policy ENTRY (TYPE): reason`.
  static Status Check(const PolicyScope& scope, const PolicyImage& image);

 private:
  struct Data;
  std::shared_ptr<const Data> d_;
  std::string path_;
};

// The docker transport's identity and namespaces of ref (above).
std::string DockerPolicyIdentity(const Reference& ref);
std::vector<std::string> DockerPolicyNamespaces(const Reference& ref);

// True when a signature's docker-reference is acceptable for intended.
bool IdentityMatches(const SignedIdentity& id, const Reference& intended, const std::string& signed_ref);

}  // namespace cfs::registry
