// The line of an htpasswd file docker-registry's `auth: htpasswd` reads for
// spec.registry.localRegistry.{username,password}: "USER:HASH", HASH a
// bcrypt hash ($2b$, cost 10, a fresh random salt) made with libxcrypt's
// crypt_gensalt_rn/crypt_r -- docker-registry accepts bcrypt only. The
// password is never passed to another program.
#pragma once

#include <string>

#include "base/status.h"

namespace cfs::deploy {

// Invalid when the user is empty or holds ':' or a control character, or
// the password is empty, holds a NUL or newline, or is longer than
// bcrypt's 72 bytes (the rest would be ignored).
Status CheckHtpasswdInput(const std::string& user, const std::string& password);

// The line; bad input is refused as CheckHtpasswdInput refuses it.
Result<std::string> HtpasswdLine(const std::string& user, const std::string& password);

}  // namespace cfs::deploy
