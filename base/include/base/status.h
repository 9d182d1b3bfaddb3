// Status and Result<T>: how errors cross every library boundary in clusterfs.
//
// A Status is OK or carries a code and a one-line message a user can act on
// ("layer sha256:ab12…: chunk 3 digest mismatch"). Result<T> is a value or a
// non-OK Status. Neither throws; callers check ok() and return early.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace cfs {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kNotFound,
    kInvalidArgument,  // bad user input: names, flags, malformed files
    kCorruption,       // data does not match its digest or format
    kIOError,          // the OS said no (carries errno)
    kAlreadyExists,
    kUnsupported,
    kBusy,             // a lock or resource is held by someone else
    kAborted,          // interrupted (signal, cancelled)
    kUnavailable,      // a remote end is unreachable or failing (network, 5xx)
    kPermissionDenied, // authentication failed or access denied
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status Invalid(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status Exists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
  static Status Unsupported(std::string m) { return Status(Code::kUnsupported, std::move(m)); }
  static Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }
  static Status Aborted(std::string m) { return Status(Code::kAborted, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Denied(std::string m) { return Status(Code::kPermissionDenied, std::move(m)); }
  // IOError from errno: "what: strerror(err)".
  static Status IOError(const std::string& what, int err = errno);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  int err() const { return errno_; }  // errno for kIOError, else 0
  const std::string& message() const { return msg_; }
  std::string ToString() const { return ok() ? "OK" : msg_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }

  // Returns a copy whose message is "prefix: message" (for adding context).
  Status Prefix(const std::string& prefix) const {
    if (ok()) return *this;
    Status s = *this;
    s.msg_ = prefix + ": " + msg_;
    return s;
  }
  // Maps the status to the errno a FUSE handler should return.
  int ToErrno() const;

 private:
  Status(Code c, std::string m, int e = 0) : code_(c), errno_(e), msg_(std::move(m)) {}
  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string msg_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::move(v)) {}                  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}             // NOLINT: REQUIRES: !s.ok()
  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

// Quotes a name for an error message: "name", with control bytes, quotes and
// backslashes shown as \xNN so a hostile name cannot break a one-line message.
std::string QuoteForMessage(std::string_view s);

}  // namespace cfs

#define CFS_CONCAT_INNER(a, b) a##b
#define CFS_CONCAT(a, b) CFS_CONCAT_INNER(a, b)

// RETURN_IF_ERROR(expr): returns the Status of expr from the enclosing
// function when it is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::cfs::Status _st = (expr);              \
    if (!_st.ok()) return _st;               \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates a Result<T>; on error returns its
// Status, else moves the value into lhs (which may be a declaration).
// It expands to several statements: inside an if/else/for, use braces.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(CFS_CONCAT(_res_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
