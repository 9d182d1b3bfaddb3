// Internals of the overlay (fs/overlay.h). Not a public header.
//
// Model. Every object the kernel knows is an Inode, keyed by its st_ino
// (InoMap: unique in the mount, stable for the file's life); the FUSE node id
// is the Inode's address. An Inode remembers the merged path it was found at
// (which is also its path in every lower: without redirect_dir nothing with
// lower data moves), the lowers that hold it, and an O_PATH fd of its upper
// file once it has one. Upper-side operations go through those fds, so
// renames and hard links in the upper dir never leave an Inode pointing at a
// wrong name.
//
// Copy-up keeps st_ino: the upper file's inode number is remembered as an
// alias of the origin's st_ino (origin_), so a later lookup that finds it in
// the upper dir reports the same st_ino.
//
// Locking. ns_mu_ orders the namespace: lookups, getattr and readdir hold
// it shared; anything that changes the upper dir (create, unlink, rename,
// copy-up, setattr, xattr writes, open for write) holds it exclusive. Data
// reads and writes through open handles take no overlay lock.
// Lock order: ns_mu_, then table_mu_.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/lower.h"
#include "fs/overlay.h"
#include "base/io.h"
#include "base/thread_annotations.h"
#include "layer/whiteouts.h"

namespace cfs {

struct NewObject;

// Permission bits of a whiteout (char 0/0), as the kernel's WHITEOUT_MODE.
inline constexpr mode_t kWhiteoutMode = 0;
// The overlay's own xattrs (trusted.overlay.*, layer/whiteouts.h): never
// shown through the mount.
inline bool IsPrivateXattr(const std::string& n) { return n.rfind("trusted.overlay.", 0) == 0; }

struct Inode {
  Inode(uint64_t i, mode_t t) : ino(i), type(t) {}
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  const uint64_t ino;  // st_ino
  const mode_t type;   // S_IFMT bits

  ~Inode() {
    int fd = upper.load();
    if (fd >= 0) ::close(fd);
  }
  // Set once (-1 until the object has an upper file); closed with the Inode.
  std::atomic<int> upper{-1};  // O_PATH fd of the upper file
  std::atomic<uint64_t> probed_gen{0};  // copy-up generation a missing upper was checked at

  // Guarded by OverlayFs::ns_mu_ (written exclusive, read shared).
  std::string path;            // merged path when found ("." = root)
  std::atomic<uint64_t> parent_ino{0};  // st_ino of the directory it was found in
  int lower = -1;              // non-dir without upper: the lower holding it
  std::vector<uint16_t> dir_lowers;  // dirs: lowers merged below the upper, top first
  uint32_t lower_nlink = 1;    // names of its hard-link group in that lower
  // Other paths of that group seen so far (rare: allocated on first use).
  // Guarded by OverlayFs::aliases_mu_.
  std::unique_ptr<std::vector<std::string>> aliases;
  bool unlinked = false;       // its last name was removed (kept for open fds)

  uint64_t nlookup = 0;  // guarded by OverlayFs::table_mu_
};

// What a name resolves to in the merged view, before it becomes an Inode.
struct Resolved {
  bool found = false;
  struct stat st {};           // the topmost provider's attributes (st_ino mount-unique)
  UniqueFd upper;              // O_PATH fd when the name is in the upper dir
  int lower = -1;              // non-dir from a lower: which one
  std::vector<uint16_t> dir_lowers;
  uint32_t lower_nlink = 1;
  bool whiteout_in_upper = false;  // the upper dir holds a whiteout for the name
  bool in_some_lower = false;      // a lower of the parent has the name (visible or not)
};

struct FileHandle {
  UniqueFd fd;                       // a real fd (upper or directory lower)
  std::unique_ptr<LowerFile> lower;  // a store-lower file (fd() == -1)
};

struct DirEntry {
  std::string name;
  uint64_t ino;
  uint8_t d_type;
};
struct DirHandle {
  std::vector<DirEntry> entries;
};
// A directory's listing as readdir serves it: entries in cookie order.
// A cookie (the readdir offset of an entry) is 1 for ".", 2 for "..", else a
// keyed 62-bit hash of the name (+3), so "continue after cookie C" finds its
// place in any later snapshot of the same directory: telldir/seekdir and
// listings interrupted by changes stay valid with no per-open state (the
// mount uses zero-message opendir: no OPENDIR/RELEASEDIR round trips).
struct DirListing {
  std::vector<DirEntry> entries;
  std::vector<uint64_t> cookies;  // ascending
};

class OverlayFs : public Overlay {
 public:
  OverlayFs(std::vector<std::unique_ptr<Lower>> lowers, std::unique_ptr<InoMap> inos,
            const OverlayOptions& o);
  ~OverlayFs() override;
  Status Init();
  const fuse_lowlevel_ops& ops() const override;

  bool writable() const { return upper_root_.valid(); }
  // The kernel takes ENOSYS to OPENDIR as "no opendir needed" (set at INIT).
  bool no_opendir() const { return no_opendir_.load(std::memory_order_relaxed); }
  void set_no_opendir(bool v) { no_opendir_.store(v, std::memory_order_relaxed); }
  SharedMutex& ns_mu() RETURN_CAPABILITY(ns_mu_) { return ns_mu_; }
  int UpperFdOf(Inode* n) REQUIRES_SHARED(ns_mu_) { return UpperFd(n); }
  double timeout() const { return opts_.cache_timeout; }
  Inode* FromId(fuse_ino_t id) {
    return id == FUSE_ROOT_ID ? root_ : reinterpret_cast<Inode*>(id);
  }
  fuse_ino_t IdOf(Inode* n) { return n == root_ ? FUSE_ROOT_ID : reinterpret_cast<fuse_ino_t>(n); }

  // ---- operations; each returns 0 or an errno value ----
  int Lookup(Inode* parent, const std::string& name, fuse_entry_param* e);
  void Forget(Inode* n, uint64_t count);
  int GetAttr(Inode* n, struct stat* st) REQUIRES_SHARED(ns_mu_);
  int SetAttr(Inode* n, const struct stat& attr, int to_set, struct fuse_file_info* fi,
              struct stat* out);
  int ReadLink(Inode* n, std::string* out);
  int MakeNode(Inode* parent, const std::string& name, mode_t mode, dev_t rdev,
               const char* link_target, const fuse_ctx* ctx, fuse_entry_param* e);
  int Create(Inode* parent, const std::string& name, mode_t mode, int flags,
             const fuse_ctx* ctx, fuse_entry_param* e, FileHandle** fh);
  int Link(Inode* n, Inode* parent, const std::string& name, fuse_entry_param* e);
  int Unlink(Inode* parent, const std::string& name, bool dir);
  int Rename(Inode* parent, const std::string& name, Inode* newparent,
             const std::string& newname, unsigned flags);
  int Open(Inode* n, int flags, FileHandle** fh);
  int FillDir(Inode* n, DirHandle* dh);
  // The directory's listing: a fresh snapshot when fresh (readdir at offset
  // 0), else the one taken last (or a fresh one). Sets *err on failure.
  std::shared_ptr<const DirListing> Listing(Inode* n, bool fresh, int* err) EXCLUDES(listings_mu_);
  // A reader reached the end of the listing: no need to keep it.
  void DropListing(uint64_t ino) EXCLUDES(listings_mu_);
  int StatFs(struct statvfs* out);
  int GetXattr(Inode* n, const std::string& name, std::string* value);
  int ListXattr(Inode* n, std::string* names);
  int SetXattr(Inode* n, const std::string& name, const std::string& value, int flags);
  int RemoveXattr(Inode* n, const std::string& name);

 private:
  friend class CopyUp;
  // Resolves `name` in directory `dir` (shared or exclusive ns_mu_).
  int Resolve(Inode* dir, const std::string& name, Resolved* r) REQUIRES_SHARED(ns_mu_);
  // The Inode for a resolved name; takes one lookup reference.
  Inode* Remember(const std::string& path, Resolved* r) REQUIRES_SHARED(ns_mu_);
  // Fills e for n (one lookup reference already taken).
  // `known`: n's attributes when the caller has just read them from the
  // object n is served from (saves a second stat on every lookup).
  int Entry(Inode* n, fuse_entry_param* e, const struct stat* known = nullptr)
      REQUIRES_SHARED(ns_mu_);
  // n's upper fd, adopting an upper file made by a copy-up of a path (or
  // -1 when there is none).
  int UpperFd(Inode* n) REQUIRES_SHARED(ns_mu_);
  // Copies n up (parents first) unless it is in the upper dir already.
  int EnsureUpper(Inode* n) REQUIRES(ns_mu_);
  // Makes directory `path` exist in the upper dir; returns its O_PATH fd.
  int EnsureUpperDir(const std::string& path, UniqueFd* out) REQUIRES(ns_mu_);
  // Copies the lower object at `path` into upper dir `parent_fd` as `name`.
  int CopyUpPath(int parent_fd, const std::string& name, const std::string& path)
      REQUIRES(ns_mu_);
  // Links the other names of n's lower hard-link group to its upper file.
  void LinkAliases(Inode* n) REQUIRES(ns_mu_);
  int LinkUp(Inode* n, const std::string& alias) REQUIRES(ns_mu_);
  // Places a newly made object (work/tmp) at parent/name atomically; over a
  // whiteout when there is one.
  int Install(int parent_fd, const std::string& tmp, const std::string& name,
              bool replace) REQUIRES(ns_mu_);
  // A whiteout in the work dir under a new temporary name (*tmp).
  int MakeWhiteout(std::string* tmp) REQUIRES(ns_mu_);
  // A whiteout named `name` in directory dir_fd.
  int MakeWhiteoutAt(int dir_fd, const std::string& name) REQUIRES(ns_mu_);
  // Copies the parent up and says where and as whom to make a new entry.
  int PrepareNew(Inode* parent, const std::string& name, const Resolved& r,
                 const fuse_ctx* ctx, struct NewObject* o) REQUIRES(ns_mu_);
  // Resolves a just-made entry and fills e; *held (if given) gets the Inode.
  int EntryForNew(Inode* parent, const std::string& name, fuse_entry_param* e, Inode** held)
      REQUIRES(ns_mu_);
  int ClearWhiteouts(int dir_fd) REQUIRES(ns_mu_);
  int FillDirLocked(Inode* n, DirHandle* dh) REQUIRES_SHARED(ns_mu_);
  // True when a lower of `dir` has an entry (not a whiteout) at `path`.
  bool InSomeLower(Inode* dir, const std::string& path) REQUIRES_SHARED(ns_mu_);
  // The Inode for `path`, resolved in `dir`, held with one lookup reference.
  Inode* Hold(Inode* dir, const std::string& name, Resolved* r) REQUIRES_SHARED(ns_mu_);
  // Merged emptiness (whiteouts do not count).
  int CheckEmpty(Inode* dir) REQUIRES_SHARED(ns_mu_);
  uint64_t UpperIno(const struct stat& st) REQUIRES_SHARED(ns_mu_);
  // The st_ino for an upper file whose InoMap number is `mapped` (its
  // origin's, if it was copied up).
  uint64_t OriginOf(uint64_t mapped) REQUIRES_SHARED(ns_mu_);
  std::string TmpName();
  int TopLower(const std::string& path, LowerEntry* e, int* which) REQUIRES_SHARED(ns_mu_);

  const OverlayOptions opts_;
  std::vector<std::unique_ptr<Lower>> lowers_;
  std::unique_ptr<InoMap> inos_;
  UniqueFd upper_root_, work_fd_;  // work_fd_ = WORKDIR/work
  std::string work_path_;
  dev_t upper_dev_ = 0;

  SharedMutex ns_mu_;
  Inode* root_ = nullptr;
  std::atomic<uint64_t> copy_gen_{1};  // bumped by every path copy-up
  std::unordered_map<uint64_t, uint64_t> origin_ GUARDED_BY(ns_mu_);  // upper st_ino -> st_ino

  std::mutex aliases_mu_;  // guards Inode::aliases
  Mutex table_mu_;
  std::unordered_map<uint64_t, Inode*> table_ GUARDED_BY(table_mu_);  // st_ino -> newest Inode
  std::atomic<uint64_t> tmp_counter_{0};

  std::atomic<bool> no_opendir_{false};
  uint64_t cookie_key_ = 0;  // random per mount: cookies of crafted names do not collide at will
  Mutex listings_mu_;
  std::unordered_map<uint64_t, std::shared_ptr<const DirListing>> listings_ GUARDED_BY(listings_mu_);
};

// Errno for a Status from a lower or the store (logged once when it is EIO).
int ToErrno(const Status& s);
// "a/b" + "c"; "." + "c" = "c".
std::string JoinPath(const std::string& dir, const std::string& name);
std::string ProcPath(int fd);
// A view of a resolved directory, for Resolve/CheckEmpty below it; not in the
// inode table.
std::unique_ptr<Inode> DirView(const std::string& path, Resolved* r);

}  // namespace cfs
