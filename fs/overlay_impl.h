// Internals of the overlay (fs/overlay.h). Not a public header.
//
// Model. Every object the kernel knows is an Inode in the inode table
// (fs/inode_table.h: keyed by st_ino, with the kernel's lookup counts); the
// FUSE node id is the Inode's address. Names resolve to objects as
// fs/overlay_lookup.h says. An Inode remembers its name and the directory it
// was found in, so its merged path (MergedPath: also its path in every lower,
// as without redirect_dir nothing with lower data moves) follows renames of
// the directories above it; also the lowers that hold it, and an O_PATH fd of
// its upper file once it has one. Upper-side operations go through those fds, so
// renames and hard links in the upper dir never leave an Inode pointing at a
// wrong name.
//
// Copy-up keeps st_ino: the upper file's inode number is remembered as an
// alias of the origin's st_ino (InodeTable::SetOrigin), so a later lookup
// that finds it in the upper dir reports the same st_ino.
//
// Locking. ns_mu_ orders the namespace: lookups, getattr and readdir hold
// it shared; anything that changes the upper dir (create, unlink, rename,
// copy-up, setattr, xattr writes, open for write) holds it exclusive. Data
// reads and writes through open handles take no overlay lock.
// Lock order: ns_mu_, then InodeTable::mu_.
#pragma once

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "fs/inode_table.h"
#include "fs/lower.h"
#include "fs/overlay_lookup.h"
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
  Inode* FromId(fuse_ino_t id) const { return table_.FromId(id); }

  // ---- operations; each returns 0 or an errno value ----
  int Lookup(Inode* parent, const std::string& name, fuse_entry_param* e);
  void Forget(Inode* n, uint64_t count) { table_.Forget(n, count); }
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
  // ---- overlay lookup (overlay_lookup.cc) ----
  // Resolves `name` in directory `dir` (shared or exclusive ns_mu_).
  int Resolve(Inode* dir, const std::string& name, Resolved* r) REQUIRES_SHARED(ns_mu_);
  // Resolve for a name whose upper entry has attributes `st` (in dir's
  // upper fd `ufd`).
  int ResolveInUpper(Inode* dir, int ufd, const std::string& name, const struct stat& st,
                     Resolved* r) REQUIRES_SHARED(ns_mu_);
  // Resolve for a name not in dir's upper dir; `path` is its merged path.
  int ResolveInLowers(Inode* dir, const std::string& path, Resolved* r) REQUIRES_SHARED(ns_mu_);
  // Adds to r->dir_lowers the directories at `path` in dir's lowers from
  // index `from` down, as far as they merge.
  void MergeBelow(Inode* dir, const std::string& path, size_t from, Resolved* r)
      REQUIRES_SHARED(ns_mu_);
  // The Inode for `name`, resolved in `dir` as r, held with one lookup
  // reference.
  Inode* Hold(Inode* dir, const std::string& name, Resolved* r) REQUIRES_SHARED(ns_mu_);
  // Fills e for n (one lookup reference already taken).
  // `known`: n's attributes when the caller has just read them from the
  // object n is served from (saves a second stat on every lookup).
  int Entry(Inode* n, fuse_entry_param* e, const struct stat* known = nullptr)
      REQUIRES_SHARED(ns_mu_);

  // ---- where objects are served from (overlay.cc) ----
  // n's upper fd, adopting an upper file made by a copy-up of a path (or
  // -1 when there is none).
  int UpperFd(Inode* n) REQUIRES_SHARED(ns_mu_);
  // The lower n is served from when it has no upper file (-1 if none).
  int ServingLower(Inode* n) REQUIRES_SHARED(ns_mu_) {
    if (n->type != S_IFDIR) return n->lower;
    return n->dir_lowers.empty() ? -1 : n->dir_lowers[0];
  }

  // ---- readdir (dir_listing.cc) ----
  int FillDirLocked(Inode* n, DirHandle* dh) REQUIRES_SHARED(ns_mu_);

  // ---- xattrs (xattrs.cc) ----
  using XattrList = std::vector<std::pair<std::string, std::string>>;
  // n's xattrs (trusted.overlay.* included) in ServingLower(n).
  int LowerXattrs(Inode* n, XattrList* out) REQUIRES_SHARED(ns_mu_);

  // ---- copy-up (copy_up.cc) ----
  // Copies n up (parents first) unless it is in the upper dir already.
  int EnsureUpper(Inode* n) REQUIRES(ns_mu_);
  // Makes directory `path` exist in the upper dir; returns its O_PATH fd.
  int EnsureUpperDir(const std::string& path, UniqueFd* out) REQUIRES(ns_mu_);
  // The topmost lower entry at `path` (ENOENT when none or a whiteout is).
  int TopLower(const std::string& path, LowerEntry* e, int* which) REQUIRES_SHARED(ns_mu_);
  // A new name for an object being made in the work dir.
  std::string TmpName();
  // Copies the lower object at `path` into upper dir `parent_fd` as `name`.
  int CopyUpPath(int parent_fd, const std::string& name, const std::string& path)
      REQUIRES(ns_mu_);
  // Makes `tmp` in the work dir: an object of st's type with the data of
  // the object at `path` in lower l (its fd in *data_fd for a regular file).
  // On failure nothing is left in the work dir.
  int MakeInWork(const struct stat& st, int l, const std::string& path, const std::string& tmp,
                 UniqueFd* data_fd) REQUIRES(ns_mu_);
  int MakeRegularInWork(const struct stat& st, int l, const std::string& path,
                        const std::string& tmp, UniqueFd* data_fd) REQUIRES(ns_mu_);
  // Gives work dir object `tmp` the owner, mode, xattrs (but trusted.overlay.*)
  // and times of st, the object at `path` in lower l.
  int CopyMetadataInWork(const struct stat& st, int l, const std::string& path,
                         const std::string& tmp) REQUIRES(ns_mu_);
  // Removes work dir object `tmp` (a directory when `mode` says so).
  void RemoveFromWork(const std::string& tmp, mode_t mode) REQUIRES(ns_mu_);
  // Links the other names of n's lower hard-link group to its upper file.
  void LinkAliases(Inode* n) REQUIRES(ns_mu_);
  int LinkUp(Inode* n, const std::string& alias) REQUIRES(ns_mu_);

  // ---- namespace changes (mutate.cc) ----
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
  // True when a lower of `dir` has an entry (not a whiteout) at `path`.
  bool InSomeLower(Inode* dir, const std::string& path) REQUIRES_SHARED(ns_mu_);
  // Merged emptiness (whiteouts do not count).
  int CheckEmpty(Inode* dir) REQUIRES_SHARED(ns_mu_);

  const OverlayOptions opts_;
  std::vector<std::unique_ptr<Lower>> lowers_;
  UniqueFd upper_root_, work_fd_;  // work_fd_ = WORKDIR/work
  std::string work_path_;
  dev_t upper_dev_ = 0;

  SharedMutex ns_mu_;
  InodeTable table_;
  std::atomic<uint64_t> copy_gen_{1};  // bumped by every path copy-up
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

}  // namespace cfs
