// Registry credentials: the auth file shared with docker, podman and skopeo
// (~/.docker/config.json), and the WWW-Authenticate challenge grammar.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/coding.h"

namespace cfs::registry {

struct Credentials {
  std::string username, password;
  std::string identity_token;  // a refresh token some registries hand out
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
  // "USER[:PASSWORD]", as --creds takes it.
  static Credentials Parse(const std::string& user_colon_password) {
    Credentials c;
    auto colon = user_colon_password.find(':');
    c.username = user_colon_password.substr(0, colon);
    if (colon != std::string::npos) c.password = user_colon_password.substr(colon + 1);
    return c;
  }
};

// --authfile when given, else $REGISTRY_AUTH_FILE, else
// $DOCKER_CONFIG/config.json, else $HOME/.docker/config.json.
std::string DefaultAuthFile();

// The credentials the file holds for registry (a host[:port] as
// NormalizeRegistryHost returns it); nullopt when none. A missing file is no
// credentials; a malformed one is Invalid naming the file.
Result<std::optional<Credentials>> LookupCredentials(const std::string& auth_file,
                                                     const std::string& registry);
// The credentials for registry (host[:port]) as the containers tools and
// docker find them; the first place that has an entry wins:
//  1. auth_file when given (--authfile), else $REGISTRY_AUTH_FILE: that file
//     alone (its credHelpers, then its auths);
//  2. docker's config ($DOCKER_CONFIG/config.json, else
//     ~/.docker/config.json): credHelpers[registry] (that helper's answer is
//     final), else auths[registry], else credsStore (a helper);
//  3. podman's ${XDG_RUNTIME_DIR}/containers/auth.json, then
//     ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json (credHelpers, auths).
// Helpers run through RunCredentialHelper (credential_helper.h) with
// docker's server URL for the registry ("https://index.docker.io/v1/" for
// docker.io). nullopt: anonymous. A malformed file or a failing helper:
// the error, naming it.
Result<std::optional<Credentials>> FindCredentials(const std::string& auth_file,
                                                   const std::string& registry);

// Adds or replaces the registry's entry, keeping everything else in the file;
// writes atomically with mode 0600 (parent created 0700).
Status StoreCredentials(const std::string& auth_file, const std::string& registry,
                        const Credentials& c);
// Removes the registry's entries; false when there was none.
Result<bool> RemoveCredentials(const std::string& auth_file, const std::string& registry);

// One challenge of a WWW-Authenticate header: scheme ("bearer", "basic",
// lowercased) and its parameters (names lowercased, values unquoted).
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;
  std::string Param(const std::string& k) const {
    auto it = params.find(k);
    return it == params.end() ? "" : it->second;
  }
};
// Parses `Bearer realm="…",service="…",scope="…"` (the first challenge when
// several are given). nullopt for an empty or unparsable header.
std::optional<Challenge> ParseChallenge(std::string_view header);

}  // namespace cfs::registry
