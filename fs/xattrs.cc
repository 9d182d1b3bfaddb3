// Extended attributes through the mount: read from the upper file when
// there is one, else from the lower n is served from; written after a
// copy-up (setxattr, removexattr hold ns_mu_ exclusive). The overlay's own
// trusted.overlay.* never shows through the mount and cannot be set.
#include <sys/xattr.h>

#include <cerrno>

#include "fs/overlay_impl.h"

namespace cfs {

int OverlayFs::LowerXattrs(Inode* n, XattrList* out) {
  int l = ServingLower(n);
  if (l < 0) return ESTALE;
  auto xs = lowers_[l]->Xattrs(MergedPath(n));
  if (!xs.ok()) return ToErrno(xs.status());
  *out = std::move(*xs);
  return 0;
}

int OverlayFs::GetXattr(Inode* n, const std::string& name, std::string* value) {
  if (IsPrivateXattr(name)) return ENODATA;
  ReaderLock l(&ns_mu_);
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    std::string p = ProcPath(ufd);
    std::string buf(65536, '\0');
    ssize_t len = ::getxattr(p.c_str(), name.c_str(), buf.data(), buf.size());
    if (len < 0 && errno == ENOTSUP) return ENODATA;
    if (len < 0) return errno;
    buf.resize(len);
    *value = std::move(buf);
    return 0;
  }
  XattrList xs;
  if (int err = LowerXattrs(n, &xs)) return err;
  for (auto& [k, v] : xs) {
    if (k == name) {
      *value = v;
      return 0;
    }
  }
  return ENODATA;
}

int OverlayFs::ListXattr(Inode* n, std::string* names) {
  ReaderLock l(&ns_mu_);
  std::vector<std::string> all;
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    std::string p = ProcPath(ufd);
    std::string buf(65536, '\0');
    ssize_t len = ::listxattr(p.c_str(), buf.data(), buf.size());
    if (len < 0 && errno != ENOTSUP) return errno;
    for (ssize_t i = 0; i < len;) {
      all.emplace_back(buf.c_str() + i);
      i += all.back().size() + 1;
    }
  } else {
    XattrList xs;
    if (int err = LowerXattrs(n, &xs)) return err;
    for (auto& kv : xs) all.push_back(kv.first);
  }
  names->clear();
  for (const auto& k : all) {
    if (IsPrivateXattr(k)) continue;
    names->append(k);
    names->push_back('\0');
  }
  return 0;
}

int OverlayFs::SetXattr(Inode* n, const std::string& name, const std::string& value, int flags) {
  if (IsPrivateXattr(name)) return EPERM;
  if (!writable()) return EROFS;
  WriterLock l(&ns_mu_);
  if (int err = EnsureUpper(n)) return err;
  std::string p = ProcPath(UpperFd(n));
  if (::setxattr(p.c_str(), name.c_str(), value.data(), value.size(), flags) != 0) return errno;
  return 0;
}

int OverlayFs::RemoveXattr(Inode* n, const std::string& name) {
  if (IsPrivateXattr(name)) return ENODATA;
  if (!writable()) return EROFS;
  WriterLock l(&ns_mu_);
  if (UpperFd(n) < 0) {
    // Nothing to remove: fail without copying up, as the kernel does.
    XattrList xs;
    if (int err = LowerXattrs(n, &xs)) return err;
    bool has = false;
    for (const auto& kv : xs) has |= kv.first == name;
    if (!has) return ENODATA;
  }
  if (int err = EnsureUpper(n)) return err;
  std::string p = ProcPath(UpperFd(n));
  if (::removexattr(p.c_str(), name.c_str()) != 0) return errno;
  return 0;
}

}  // namespace cfs
