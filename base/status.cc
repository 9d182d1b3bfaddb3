#include "base/status.h"

#include <cstring>

namespace cfs {

Status Status::IOError(const std::string& what, int err) {
  return Status(Code::kIOError, what + ": " + std::strerror(err), err);
}

int Status::ToErrno() const {
  switch (code_) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kCorruption: return EIO;
    case Code::kIOError: return errno_ ? errno_ : EIO;
    case Code::kAlreadyExists: return EEXIST;
    case Code::kUnsupported: return ENOTSUP;
    case Code::kBusy: return EBUSY;
    case Code::kAborted: return EINTR;
    case Code::kUnavailable: return EIO;
    case Code::kPermissionDenied: return EACCES;
  }
  return EIO;
}

std::string QuoteForMessage(std::string_view s) {
  static const char* kHex = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

}  // namespace cfs
