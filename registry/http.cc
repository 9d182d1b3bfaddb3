#include "registry/http.h"

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace cfs::registry::http {

using nlohmann::json;

std::string UrlEscape(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string UrlUnescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool TransientOutcome(Outcome o) {
  switch (o) {
    case Outcome::kResolveFailed:
    case Outcome::kConnectFailed:
    case Outcome::kTimedOut:
    case Outcome::kCut:
      return true;
    default:
      return false;
  }
}

bool TransientStatus(long s) { return s == 408 || s == 429 || (s >= 500 && s != 501); }

// The "errors" array of a registry error body, as one line.
std::string RegistryErrors(const std::string& body) {
  try {
    json j = json::parse(body);
    std::string out;
    if (j.contains("errors") && j["errors"].is_array()) {
      for (const auto& e : j["errors"]) {
        if (!out.empty()) out += "; ";
        out += e.value("code", "") + (e.contains("message") && e["message"].is_string()
                                          ? ": " + e["message"].get<std::string>()
                                          : "");
      }
    }
    return out;
  } catch (const std::exception&) {
    return "";
  }
}

// Resolves a Location header against the URL it answered.
std::string ResolveLocation(const std::string& base, const std::string& loc) {
  if (loc.find("://") != std::string::npos) return loc;
  auto scheme_end = base.find("://");
  auto host_end = base.find('/', scheme_end + 3);
  std::string origin = host_end == std::string::npos ? base : base.substr(0, host_end);
  if (!loc.empty() && loc[0] == '/') return origin + loc;
  std::string dir = base.substr(0, base.rfind('/') + 1);
  return dir + loc;
}

std::string WithQuery(const std::string& url, const std::string& kv) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + kv;
}

}  // namespace cfs::registry::http
