#include "deploy/htpasswd.h"

#include <crypt.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace cfs::deploy {

namespace {

constexpr unsigned long kCost = 10;

}  // namespace

Status CheckHtpasswdInput(const std::string& user, const std::string& password) {
  auto control = [](unsigned char ch) { return ch < 0x20 || ch == 0x7f; };
  if (user.empty() || user.find(':') != std::string::npos ||
      std::any_of(user.begin(), user.end(), control))
    return Status::Invalid("registry username \"" + user +
                           "\": give a non-empty name without ':' or control characters");
  if (password.empty() || password.find_first_of(std::string("\0\n\r", 3)) != std::string::npos)
    return Status::Invalid("registry password of " + user +
                           ": give a non-empty password without NUL or line breaks");
  if (password.size() > 72)
    return Status::Invalid("registry password of " + user +
                           " is longer than 72 bytes, which bcrypt (htpasswd) ignores; shorten it");
  return Status::Ok();
}

Result<std::string> HtpasswdLine(const std::string& user, const std::string& password) {
  RETURN_IF_ERROR(CheckHtpasswdInput(user, password));
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2b$", kCost, nullptr, 0, setting, sizeof setting))
    return Status::IOError("htpasswd: crypt_gensalt_rn($2b$)");
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* hash = crypt_r(password.c_str(), setting, data.get());
  if (!hash || hash[0] == '*') return Status::IOError("htpasswd: bcrypt (crypt_r)");
  std::string line = user + ":" + hash + "\n";
  std::memset(data.get(), 0, sizeof(crypt_data));  // no copy of the input left behind
  return line;
}

}  // namespace cfs::deploy
