#include "store/status.h"

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
  }
  return EIO;
}

}  // namespace cfs
