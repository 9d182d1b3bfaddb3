#include "registry/sigstore.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "base/coding.h"

namespace cfs::registry::sigstore {

namespace {

using nlohmann::json;

constexpr const char* kPayloadType = "cosign container image signature";

// obj is an object with exactly the keys `keys` (containers/image's
// ParanoidUnmarshalJSONObjectExactFields).
Status ExactKeys(const json& obj, const char* what, std::set<std::string> keys) {
  if (!obj.is_object()) return Status::Invalid(std::string(what) + " is not a JSON object");
  for (const auto& [k, v] : obj.items())
    if (!keys.erase(k)) return Status::Invalid(std::string(what) + ": unexpected field \"" + k + "\"");
  if (!keys.empty()) return Status::Invalid(std::string(what) + ": field \"" + *keys.begin() + "\" missing");
  return Status::Ok();
}

Result<std::string> StringField(const json& obj, const char* key, const char* what) {
  if (!obj[key].is_string()) return Status::Invalid(std::string(what) + "." + key + " is not a string");
  return obj[key].get<std::string>();
}

Status ParseOptional(const json& opt, Payload* p) {
  if (opt.is_null()) return Status::Ok();  // cosign writes null without annotations
  if (!opt.is_object()) return Status::Invalid("signature payload: optional is not an object");
  if (opt.contains("creator")) {
    if (!opt["creator"].is_string()) return Status::Invalid("signature payload: optional.creator is not a string");
    p->creator = opt["creator"].get<std::string>();
  }
  if (opt.contains("timestamp")) {
    const json& t = opt["timestamp"];
    if (!t.is_number()) return Status::Invalid("signature payload: optional.timestamp is not a number");
    double d = t.get<double>();
    if (!t.is_number_integer() && d != std::floor(d))
      return Status::Invalid("signature payload: optional.timestamp is not an integer");
    p->timestamp = t.is_number_integer() ? t.get<int64_t>() : static_cast<int64_t>(d);
  }
  return Status::Ok();
}

}  // namespace

std::string MarshalPayload(const Payload& p) {
  json j;
  j["critical"] = {{"identity", {{"docker-reference", p.docker_reference}}},
                   {"image", {{"docker-manifest-digest", p.manifest_digest.ToString()}}},
                   {"type", kPayloadType}};
  j["optional"] = json::object();
  if (!p.creator.empty()) j["optional"]["creator"] = p.creator;
  if (p.timestamp) j["optional"]["timestamp"] = *p.timestamp;
  return j.dump();  // keys sorted, no spaces: as Go's json.Marshal of maps
}

Result<Payload> ParsePayload(std::string_view bytes) {
  json j = json::parse(bytes, nullptr, false);
  if (j.is_discarded()) return Status::Invalid("signature payload is not JSON");
  RETURN_IF_ERROR(ExactKeys(j, "signature payload", {"critical", "optional"}));
  Payload p;
  RETURN_IF_ERROR(ParseOptional(j["optional"], &p));
  const json& c = j["critical"];
  RETURN_IF_ERROR(ExactKeys(c, "signature payload critical", {"type", "image", "identity"}));
  ASSIGN_OR_RETURN(std::string type, StringField(c, "type", "critical"));
  if (type != kPayloadType) return Status::Invalid("unrecognized signature type \"" + type + "\"");
  RETURN_IF_ERROR(ExactKeys(c["image"], "critical.image", {"docker-manifest-digest"}));
  ASSIGN_OR_RETURN(std::string d, StringField(c["image"], "docker-manifest-digest", "critical.image"));
  auto digest = Digest::Parse(d);
  if (!digest.ok()) return Status::Invalid("invalid docker-manifest-digest \"" + d + "\"");
  p.manifest_digest = *digest;
  RETURN_IF_ERROR(ExactKeys(c["identity"], "critical.identity", {"docker-reference"}));
  ASSIGN_OR_RETURN(p.docker_reference, StringField(c["identity"], "docker-reference", "critical.identity"));
  return p;
}

Result<Signature> Sign(const PrivateKey& key, const Digest& manifest, const std::string& identity,
                       const std::string& creator) {
  Payload p;
  p.manifest_digest = manifest;
  p.docker_reference = identity;
  p.creator = creator;
  p.timestamp = static_cast<int64_t>(::time(nullptr));
  Signature s;
  s.media_type = kSignatureMediaType;
  s.payload = MarshalPayload(p);
  ASSIGN_OR_RETURN(std::string raw, key.Sign(s.payload));
  s.annotations[kSignatureAnnotation] = Base64Encode(raw);
  return s;
}

Result<Payload> VerifySignature(const std::vector<PublicKey>& keys, const Signature& sig) {
  auto a = sig.annotations.find(kSignatureAnnotation);
  if (a == sig.annotations.end())
    return Status::Denied(std::string("missing ") + kSignatureAnnotation + " annotation");
  auto raw = Base64Decode(a->second);
  if (!raw.ok()) return Status::Denied("signature annotation is not base64");
  bool verified = false;
  for (const auto& k : keys) verified = verified || k.Verify(sig.payload, *raw);
  if (!verified) return Status::Denied("cryptographic signature verification failed");
  return ParsePayload(sig.payload);
}

std::string AttachmentTag(const Digest& d) { return "sha256-" + d.Hex() + ".sig"; }

}  // namespace cfs::registry::sigstore
