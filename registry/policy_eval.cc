// SignaturePolicy::Check and the signedIdentity rules: whether an image
// satisfies the requirement list that applies to it (policy.h).
#include <optional>

#include "base/io.h"
#include "registry/policy.h"

namespace cfs::registry {

namespace {

using sigstore::PublicKey;
using sigstore::Signature;

// True when s names a tag or a digest (docker's !IsNameOnly): after the
// last '/', a ':' or an '@'.
bool HasTagOrDigest(const std::string& s) {
  size_t slash = s.rfind('/');
  std::string last = slash == std::string::npos ? s : s.substr(slash + 1);
  return last.find(':') != std::string::npos || s.find('@') != std::string::npos;
}

std::optional<Reference> ParseExact(const std::string& s) {
  if (!HasTagOrDigest(s)) return std::nullopt;
  auto r = Reference::Parse(s);
  if (!r.ok()) return std::nullopt;
  return *r;
}

std::optional<Reference> ParseName(const std::string& s) {
  auto r = Reference::Parse(s);
  if (!r.ok()) return std::nullopt;
  return *r;
}

bool SameName(const Reference& a, const Reference& b) {
  return a.registry == b.registry && a.repository == b.repository;
}

bool RepoDigestOrExact(const Reference& intended, const std::string& signed_ref) {
  auto sig = ParseExact(signed_ref);
  if (!sig) return false;
  if (!intended.tag.empty()) return sig->ToString() == intended.ToString();
  if (intended.digest) return SameName(*sig, intended);
  return false;
}

// remapIdentity: intended with prefix (a name, or a name up to a '/')
// replaced by signed_prefix.
std::optional<Reference> Remap(const SignedIdentity& id, const Reference& intended) {
  const std::string name = intended.registry + "/" + intended.repository;
  const bool match = name == id.prefix ||
                     (name.size() > id.prefix.size() && name.compare(0, id.prefix.size(), id.prefix) == 0 &&
                      name[id.prefix.size()] == '/');
  if (!match) return intended;
  std::string s = intended.ToString();
  s.replace(0, id.prefix.size(), id.signed_prefix);
  auto r = Reference::Parse(s);
  if (!r.ok()) return std::nullopt;
  return *r;
}

Result<std::vector<PublicKey>> LoadKeys(const PolicyRequirement& r) {
  std::vector<PublicKey> keys;
  for (const auto& p : r.key_paths) {
    auto pem = ReadFile(p, 1 << 20);
    if (!pem.ok()) return pem.status();
    auto k = PublicKey::Parse(*pem);
    if (!k.ok()) return k.status().Prefix(p);
    keys.push_back(std::move(*k));
  }
  for (const auto& d : r.key_datas) {
    auto k = PublicKey::Parse(d);
    if (!k.ok()) return k.status().Prefix("keyData");
    keys.push_back(std::move(*k));
  }
  return keys;
}

// Why one signature is not accepted ("" when it is).
std::string Rejection(const PolicyRequirement& r, const std::vector<PublicKey>& keys,
                      const PolicyImage& image, const Signature& sig) {
  auto payload = sigstore::VerifySignature(keys, sig);
  if (!payload.ok()) return payload.status().message();
  if (payload->manifest_digest != image.manifest_digest)
    return "signature for digest " + payload->manifest_digest.ToString() + " does not match";
  if (!IdentityMatches(r.identity, image.reference, payload->docker_reference))
    return "signature for identity \"" + payload->docker_reference + "\" is not accepted";
  return "";
}

// Ok when one signature of the image is accepted; else the reason.
Status CheckSigstore(const PolicyRequirement& r, const PolicyImage& image,
                     std::optional<Result<std::vector<Signature>>>* cache) {
  if (image.transport != "docker" || !image.signatures)
    return Status::Denied("A signature was required, but no signature exists (cimg reads signatures from registries only)");
  ASSIGN_OR_RETURN(auto keys, LoadKeys(r));
  if (!cache->has_value()) *cache = image.signatures();
  const auto& sigs = **cache;
  if (!sigs.ok()) return sigs.status().Prefix("reading its signatures");
  std::vector<std::string> reasons;
  for (const auto& s : *sigs) {
    if (s.media_type != sigstore::kSignatureMediaType) continue;
    std::string why = Rejection(r, keys, image, s);
    if (why.empty()) return Status::Ok();
    reasons.push_back(why);
  }
  if (reasons.empty()) return Status::Denied("A signature was required, but no signature exists");
  if (reasons.size() == 1) return Status::Denied(reasons[0]);
  std::string all = "None of the signatures were accepted, reasons: ";
  for (size_t i = 0; i < reasons.size(); i++) all += (i ? "; " : "") + reasons[i];
  return Status::Denied(all);
}

}  // namespace

bool IdentityMatches(const SignedIdentity& id, const Reference& intended, const std::string& signed_ref) {
  using T = SignedIdentity::Type;
  switch (id.type) {
    case T::kMatchRepoDigestOrExact:
      return RepoDigestOrExact(intended, signed_ref);
    case T::kMatchExact: {
      auto sig = ParseExact(signed_ref);
      return sig && sig->ToString() == intended.ToString();
    }
    case T::kMatchRepository: {
      auto sig = ParseName(signed_ref);
      return sig && SameName(*sig, intended);
    }
    case T::kExactReference: {
      auto want = ParseExact(id.reference), sig = ParseExact(signed_ref);
      return want && sig && want->ToString() == sig->ToString();
    }
    case T::kExactRepository: {
      auto want = ParseName(id.reference), sig = ParseName(signed_ref);
      return want && sig && SameName(*want, *sig);
    }
    case T::kRemapIdentity: {
      auto remapped = Remap(id, intended);
      return remapped && RepoDigestOrExact(*remapped, signed_ref);
    }
  }
  return false;
}

Status SignaturePolicy::Check(const PolicyScope& scope, const PolicyImage& image) {
  std::optional<Result<std::vector<Signature>>> sigs;
  for (const auto& r : *scope.requirements) {
    Status s;
    switch (r.type) {
      case PolicyRequirement::Type::kInsecureAcceptAnything:
        continue;
      case PolicyRequirement::Type::kReject:
        s = Status::Denied("this scope rejects every image");
        break;
      case PolicyRequirement::Type::kUnsupported:
        s = Status::Denied(r.unsupported);
        break;
      case PolicyRequirement::Type::kSigstoreSigned:
        s = CheckSigstore(r, image, &sigs);
        break;
    }
    if (!s.ok())
      return Status::Denied(image.name + ": refused by policy " + scope.entry + " (" + r.name + "): " + s.message());
  }
  return Status::Ok();
}

}  // namespace cfs::registry
