// docker's credential helper protocol: `docker-credential-NAME get` reads
// the server URL on stdin and answers {"ServerURL","Username","Secret"} on
// stdout (Username "<token>": Secret is an identity token); a helper that
// has nothing exits non-zero saying "credentials not found in native
// keychain". What config.json's credHelpers and credsStore name.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "base/status.h"
#include "registry/auth.h"

namespace cfs::registry {

struct CredentialHelperOptions {
  // The helper is killed when it has not answered by then.
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
};

// Runs docker-credential-<helper> (looked up on $PATH, no shell) for
// server_url. nullopt when the helper has no credentials for it; Invalid /
// Unavailable with a one-line reason (not found on PATH, exit status and the
// first line of its output, no answer within the timeout, malformed JSON);
// the secret never appears in a message.
Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper,
                                                       const std::string& server_url,
                                                       const CredentialHelperOptions& o = {});

}  // namespace cfs::registry
