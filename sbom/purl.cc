#include "sbom/purl.h"

#include <cctype>

namespace cfs::sbom {

std::string PurlEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      out += static_cast<char>(c);
      continue;
    }
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string DebPurl(const DebPackage& p) {
  std::string out = "pkg:deb/debian/" + PurlEncode(p.name) + "@" + PurlEncode(p.version);
  if (!p.architecture.empty()) out += "?arch=" + PurlEncode(p.architecture);
  return out;
}

std::string OciPurl(std::string_view repository, const Digest& digest, std::string_view tag) {
  std::string_view last = repository.substr(repository.rfind('/') + 1);  // npos + 1 == 0
  std::string name(last);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string out = "pkg:oci/" + PurlEncode(name) + "@" + PurlEncode(digest.ToString());
  if (!tag.empty()) out += "?tag=" + PurlEncode(tag);
  return out;
}

}  // namespace cfs::sbom
