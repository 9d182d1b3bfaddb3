#include "sbom/sbom.h"

#include <cstdlib>
#include <ctime>

#include "sbom/cyclonedx_writer.h"
#include "sbom/spdx_writer.h"

namespace cfs::sbom {

namespace {
constexpr const char* kSpdxMediaType = "application/spdx+json";
constexpr const char* kCycloneDxMediaType = "application/vnd.cyclonedx+json";
}  // namespace

Result<SbomFormat> ParseSbomFormat(std::string_view s) {
  if (s == "spdx-json") return SbomFormat::kSpdxJson;
  if (s == "cyclonedx-json") return SbomFormat::kCycloneDxJson;
  return Status::Invalid("unknown SBOM format \"" + std::string(s) +
                         "\" (use spdx-json or cyclonedx-json)");
}

const char* SbomFormatName(SbomFormat f) {
  return f == SbomFormat::kSpdxJson ? "spdx-json" : "cyclonedx-json";
}

const char* SbomMediaType(SbomFormat f) {
  return f == SbomFormat::kSpdxJson ? kSpdxMediaType : kCycloneDxMediaType;
}

Result<SbomFormat> SbomFormatOfMediaType(std::string_view media_type) {
  if (media_type == kSpdxMediaType) return SbomFormat::kSpdxJson;
  if (media_type == kCycloneDxMediaType) return SbomFormat::kCycloneDxJson;
  return Status::Invalid("not an SBOM media type: " + std::string(media_type));
}

int64_t SbomCreationTime() {
  if (const char* e = std::getenv("SOURCE_DATE_EPOCH"); e && *e) {
    char* end = nullptr;
    long long v = std::strtoll(e, &end, 10);
    if (*end == '\0' && v >= 0) return v;
  }
  return static_cast<int64_t>(std::time(nullptr));
}

std::string ImageUuid(const Digest& manifest) {
  Digest h = Digest::Of("cimg-sbom:" + manifest.ToString());
  auto b = h.bytes;
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x80);  // version 8
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 9562 variant
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

void SplitImageName(std::string_view name, std::string* repository, std::string* tag) {
  if (name.rfind("docker://", 0) == 0) name.remove_prefix(9);
  size_t at = name.find('@');
  if (at != std::string_view::npos) {
    *repository = std::string(name.substr(0, at));
    tag->clear();
    return;
  }
  size_t colon = name.rfind(':');
  size_t slash = name.rfind('/');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash)) {
    *repository = std::string(name);
    *tag = "latest";
    return;
  }
  *repository = std::string(name.substr(0, colon));
  *tag = std::string(name.substr(colon + 1));
}

Status WriteSbom(const SbomDocument& doc, SbomFormat f, ByteSink& out) {
  return f == SbomFormat::kSpdxJson ? WriteSpdxJson(doc, out) : WriteCycloneDxJson(doc, out);
}

}  // namespace cfs::sbom
