#include "registry/auth.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "registry/credential_helper.h"
#include "registry/reference.h"
#include "base/io.h"

namespace cfs::registry {

using nlohmann::json;

namespace {

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The key docker writes for a registry.
std::string AuthKey(const std::string& registry) {
  return registry == "docker.io" ? "https://index.docker.io/v1/" : registry;
}

Result<json> LoadAuthFile(const std::string& path) {
  auto bytes = ReadFile(path, 16 << 20);
  if (!bytes.ok()) {
    if (bytes.status().err() == ENOENT) return json::object();
    return bytes.status();
  }
  if (bytes->find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  try {
    json j = json::parse(*bytes);
    if (!j.is_object()) return Status::Invalid(path + ": not a JSON object");
    if (j.contains("auths") && !j["auths"].is_object())
      return Status::Invalid(path + ": \"auths\" is not an object");
    return j;
  } catch (const std::exception& e) {
    return Status::Invalid(path + ": malformed JSON: " + e.what());
  }
}

}  // namespace

std::string DefaultAuthFile() {
  if (const char* f = std::getenv("REGISTRY_AUTH_FILE"); f && *f) return f;
  if (const char* d = std::getenv("DOCKER_CONFIG"); d && *d) return std::string(d) + "/config.json";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.docker/config.json";
}

Result<std::optional<Credentials>> LookupCredentials(const std::string& auth_file,
                                                     const std::string& registry) {
  ASSIGN_OR_RETURN(json j, LoadAuthFile(auth_file));
  if (!j.contains("auths")) return std::optional<Credentials>();
  for (auto& [key, entry] : j["auths"].items()) {
    if (NormalizeRegistryHost(key) != registry || !entry.is_object()) continue;
    Credentials c;
    if (entry.contains("auth") && entry["auth"].is_string()) {
      std::string a = entry["auth"].get<std::string>();
      if (!a.empty()) {
        auto raw = Base64Decode(a);
        if (!raw.ok()) return Status::Invalid(auth_file + ": auths." + key + ".auth: bad base64");
        auto colon = raw->find(':');
        if (colon == std::string::npos)
          return Status::Invalid(auth_file + ": auths." + key + ".auth: not user:password");
        c.username = raw->substr(0, colon);
        c.password = raw->substr(colon + 1);
      }
    }
    if (entry.contains("identitytoken") && entry["identitytoken"].is_string())
      c.identity_token = entry["identitytoken"].get<std::string>();
    if (!c.empty()) return std::optional<Credentials>(c);
  }
  return std::optional<Credentials>();
}

namespace {

std::string EnvOr(const char* name, const std::string& dflt) {
  const char* v = std::getenv(name);
  return v && *v ? v : dflt;
}

Result<std::optional<Credentials>> FromHelper(const std::string& helper, const std::string& registry,
                                              const std::string& file, const char* key) {
  auto c = RunCredentialHelper(helper, AuthKey(registry));
  if (!c.ok()) return c.status().Prefix(file + ": " + key);
  return c;
}

// One auth file: credHelpers[registry], else auths[registry], else (when
// with_store) credsStore. found: the file had an entry that decided.
Result<std::optional<Credentials>> LookupInFile(const std::string& file, const std::string& registry,
                                                bool with_store, bool* decided) {
  *decided = false;
  ASSIGN_OR_RETURN(json j, LoadAuthFile(file));
  if (j.contains("credHelpers") && j["credHelpers"].is_object()) {
    for (auto& [key, helper] : j["credHelpers"].items()) {
      if (NormalizeRegistryHost(key) != registry || !helper.is_string()) continue;
      *decided = true;
      return FromHelper(helper.get<std::string>(), registry, file, "credHelpers");
    }
  }
  ASSIGN_OR_RETURN(auto c, LookupCredentials(file, registry));
  if (c) {
    *decided = true;
    return c;
  }
  if (with_store && j.contains("credsStore") && j["credsStore"].is_string() &&
      !j["credsStore"].get<std::string>().empty()) {
    ASSIGN_OR_RETURN(c, FromHelper(j["credsStore"].get<std::string>(), registry, file, "credsStore"));
    *decided = c.has_value();
    return c;
  }
  return std::optional<Credentials>();
}

}  // namespace

Result<std::optional<Credentials>> FindCredentials(const std::string& auth_file,
                                                   const std::string& registry) {
  bool decided = false;
  std::string given = auth_file.empty() ? EnvOr("REGISTRY_AUTH_FILE", "") : auth_file;
  if (!given.empty()) return LookupInFile(given, registry, true, &decided);
  const std::string home = EnvOr("HOME", "/root");
  std::vector<std::string> files = {EnvOr("DOCKER_CONFIG", home + "/.docker") + "/config.json"};
  if (const char* run = std::getenv("XDG_RUNTIME_DIR"); run && *run)
    files.push_back(std::string(run) + "/containers/auth.json");
  files.push_back(EnvOr("XDG_CONFIG_HOME", home + "/.config") + "/containers/auth.json");
  for (size_t i = 0; i < files.size(); i++) {
    ASSIGN_OR_RETURN(auto c, LookupInFile(files[i], registry, i == 0, &decided));
    if (decided) return c;
  }
  return std::optional<Credentials>();
}

Status StoreCredentials(const std::string& auth_file, const std::string& registry,
                        const Credentials& c) {
  ASSIGN_OR_RETURN(json j, LoadAuthFile(auth_file));
  if (!j.contains("auths")) j["auths"] = json::object();
  std::vector<std::string> drop;
  for (auto& [key, entry] : j["auths"].items())
    if (NormalizeRegistryHost(key) == registry) drop.push_back(key);
  for (const auto& k : drop) j["auths"].erase(k);
  json e = json::object();
  e["auth"] = Base64Encode(c.username + ":" + c.password);
  if (!c.identity_token.empty()) e["identitytoken"] = c.identity_token;
  j["auths"][AuthKey(registry)] = e;
  auto slash = auth_file.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::string dir = auth_file.substr(0, slash);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) RETURN_IF_ERROR(MakeDirs(dir, 0700));
  }
  return WriteFileAtomic(auth_file, j.dump(1, '\t') + "\n", 0600);
}

Result<bool> RemoveCredentials(const std::string& auth_file, const std::string& registry) {
  ASSIGN_OR_RETURN(json j, LoadAuthFile(auth_file));
  if (!j.contains("auths")) return false;
  std::vector<std::string> drop;
  for (auto& [key, entry] : j["auths"].items())
    if (NormalizeRegistryHost(key) == registry) drop.push_back(key);
  if (drop.empty()) return false;
  for (const auto& k : drop) j["auths"].erase(k);
  RETURN_IF_ERROR(WriteFileAtomic(auth_file, j.dump(1, '\t') + "\n", 0600));
  return true;
}

std::optional<Challenge> ParseChallenge(std::string_view h) {
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t')) i++;
  };
  skip_ws();
  size_t start = i;
  // The scheme is an RFC 9110 token.
  auto tchar = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  };
  while (i < h.size() && h[i] != ' ' && h[i] != '\t') {
    if (!tchar(h[i])) return std::nullopt;
    i++;
  }
  if (i == start) return std::nullopt;
  Challenge c;
  c.scheme = Lower(std::string(h.substr(start, i - start)));
  while (true) {
    skip_ws();
    while (i < h.size() && (h[i] == ',' || h[i] == ' ' || h[i] == '\t')) i++;  // empty items
    if (i >= h.size()) break;
    size_t ks = i;
    while (i < h.size() && h[i] != '=' && h[i] != ',' && h[i] != ' ') i++;
    std::string key = Lower(std::string(h.substr(ks, i - ks)));
    skip_ws();
    if (i >= h.size() || h[i] != '=') {
      // token68 or the start of a second challenge: stop here
      break;
    }
    i++;
    skip_ws();
    std::string val;
    if (i < h.size() && h[i] == '"') {
      i++;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) i++;
        val += h[i++];
      }
      if (i >= h.size()) return std::nullopt;  // unterminated quote
      i++;
    } else {
      size_t vs = i;
      while (i < h.size() && h[i] != ',' && h[i] != ' ') i++;
      val = std::string(h.substr(vs, i - vs));
    }
    if (!key.empty()) c.params[key] = val;
    skip_ws();
    if (i < h.size() && h[i] == ',') i++;
  }
  return c;
}

}  // namespace cfs::registry
