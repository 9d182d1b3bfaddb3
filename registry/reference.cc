#include "registry/reference.h"

#include <cctype>

namespace cfs::registry {

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)*
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  for (size_t i = 0; i < c.size(); i++) {
    char ch = c[i];
    if (IsLowerAlnum(ch)) continue;
    if (ch == '.' || ch == '_' || ch == '-') {
      // separators: ".", "_", "__", or a run of "-"
      size_t j = i;
      while (j < c.size() && !IsLowerAlnum(c[j])) j++;
      std::string_view sep = c.substr(i, j - i);
      bool ok = sep == "." || sep == "_" || sep == "__" ||
                sep.find_first_not_of('-') == std::string_view::npos;
      if (!ok) return false;
      i = j - 1;
      continue;
    }
    return false;
  }
  return true;
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(t.front())) return false;
  for (char c : t)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

// host[:port]: DNS labels (alphanumerics and inner '-') joined by '.', or a
// bracketed IPv6 address; the port is decimal.
bool ValidHost(std::string_view h) {
  if (h.empty()) return false;
  std::string_view host = h, port;
  if (h.front() == '[') {
    auto close = h.find(']');
    if (close == std::string_view::npos || close < 2) return false;
    for (char c : h.substr(1, close - 1))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    std::string_view rest = h.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
    host = {};
  } else {
    auto colon = h.find(':');
    if (colon != std::string_view::npos) {
      port = h.substr(colon + 1);
      host = h.substr(0, colon);
      if (port.empty()) return false;
    }
  }
  if (!port.empty() || h.find(':') != std::string_view::npos) {
    if (port.empty() || port.size() > 5) return false;
    for (char c : port)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  if (h.front() == '[') return true;
  if (host.empty()) return false;
  size_t start = 0;
  while (true) {
    auto dot = host.find('.', start);
    std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

bool LooksLikeHost(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
         first == "localhost";
}

}  // namespace

Result<Reference> Reference::Parse(std::string_view in) {
  std::string_view s = in;
  if (s.rfind("docker://", 0) == 0) s.remove_prefix(9);
  auto bad = [&](const std::string& why) {
    return Status::Invalid("invalid image reference \"" + std::string(in) + "\": " + why);
  };
  if (s.empty()) return bad("empty");
  if (s.size() > 1024) return bad("too long");
  Reference r;
  auto at = s.find('@');
  if (at != std::string_view::npos) {
    auto d = Digest::Parse(s.substr(at + 1));
    if (!d.ok()) return bad("digest: " + d.status().message());
    r.digest = *d;
    s = s.substr(0, at);
  }
  auto slash = s.find('/');
  std::string_view rest = s;
  if (slash != std::string_view::npos && LooksLikeHost(s.substr(0, slash))) {
    r.registry = std::string(s.substr(0, slash));
    rest = s.substr(slash + 1);
    if (!ValidHost(r.registry)) return bad("bad registry host \"" + r.registry + "\"");
  } else {
    r.registry = "docker.io";
  }
  if (r.registry == "index.docker.io" || r.registry == "registry-1.docker.io")
    r.registry = "docker.io";
  auto last_slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    r.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!ValidTag(r.tag)) return bad("bad tag \"" + r.tag + "\"");
  }
  if (rest.empty()) return bad("no repository");
  r.repository = std::string(rest);
  if (r.registry == "docker.io" && r.repository.find('/') == std::string::npos)
    r.repository = "library/" + r.repository;
  size_t start = 0;
  while (true) {
    auto end = r.repository.find('/', start);
    std::string_view comp = std::string_view(r.repository).substr(
        start, end == std::string::npos ? std::string::npos : end - start);
    if (!ValidComponent(comp)) {
      for (char c : comp)
        if (std::isupper(static_cast<unsigned char>(c)))
          return bad("repository must be lowercase");
      return bad("bad repository path component \"" + std::string(comp) + "\"");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (r.repository.size() > 255) return bad("repository name longer than 255 characters");
  if (r.tag.empty() && !r.digest) r.tag = "latest";
  return r;
}

std::string Reference::ToString() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->ToString();
  return s;
}

std::string Reference::LocalName() const {
  std::string s = registry + "/" + repository;
  if (!tag.empty()) return s + ":" + tag;
  return s + "@" + digest->ToString();
}

std::string Reference::ApiHost() const {
  return registry == "docker.io" ? "registry-1.docker.io" : registry;
}

bool IsRegistryReference(std::string_view s) {
  if (s.rfind("docker://", 0) == 0) return true;
  for (const char* p : {"oci:", "oci-archive:", "docker-archive:", "dir:", "containers-storage:"})
    if (s.rfind(p, 0) == 0) return false;
  return true;
}

std::string NormalizeRegistryHost(std::string_view s) {
  std::string h(s);
  for (const char* p : {"docker://", "https://", "http://"})
    if (h.rfind(p, 0) == 0) h = h.substr(std::string_view(p).size());
  auto slash = h.find('/');
  if (slash != std::string::npos) h = h.substr(0, slash);
  if (h == "index.docker.io" || h == "registry-1.docker.io") h = "docker.io";
  return h;
}

}  // namespace cfs::registry
