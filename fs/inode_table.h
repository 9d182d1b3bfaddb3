// The inode table of the overlay: every object the kernel knows is an Inode,
// keyed by its st_ino, with the kernel's lookup count. Not a public header.
//
// Numbers. st_ino values come from the mount's InoMap (fs/ino_map.h: a
// public header, as the lowers and Overlay::Create's caller share it), so
// they are unique in the mount and stable for a file's life. Copy-up keeps
// st_ino: the upper file's number is recorded as an alias of its origin's
// (SetOrigin), and UpperIno maps it back whenever the upper file is found.
//
// Nodes. The FUSE node id of an Inode is its address (FUSE_ROOT_ID for the
// root). An Inode lives while the kernel holds lookup references to it: each
// reply that hands it out takes one (Remember), FORGET drops them (Forget),
// and the last one deletes it. The root is never forgotten.
//
// Thread-safe. Lock order: the overlay's ns_mu_, then the table's mu_.
#pragma once

#include <fuse3/fuse_lowlevel.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/thread_annotations.h"
#include "fs/ino_map.h"

namespace cfs {

struct Resolved;  // fs/overlay_lookup.h

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
  // Guarded by InodeTable::mu_.
  std::unique_ptr<std::vector<std::string>> aliases;
  // Its last name was removed (kept for open fds). Written under ns_mu_
  // exclusive and InodeTable::mu_.
  bool unlinked = false;

  uint64_t nlookup = 0;  // guarded by InodeTable::mu_
};

class InodeTable {
 public:
  explicit InodeTable(std::unique_ptr<InoMap> inos) : inos_(std::move(inos)) {}
  InodeTable(const InodeTable&) = delete;
  InodeTable& operator=(const InodeTable&) = delete;
  // Deletes every Inode in the table.
  ~InodeTable();

  // The mount's st_ino numbering (lives as long as the table).
  InoMap* inos() const { return inos_.get(); }

  // Makes the root directory's Inode, numbered `ino`, with one reference
  // that is never dropped. REQUIRES: called once, before any other method.
  Inode* AddRoot(uint64_t ino) EXCLUDES(mu_);
  Inode* root() const { return root_; }
  Inode* FromId(fuse_ino_t id) const {
    return id == FUSE_ROOT_ID ? root_ : reinterpret_cast<Inode*>(id);
  }
  fuse_ino_t IdOf(Inode* n) const {
    return n == root_ ? FUSE_ROOT_ID : reinterpret_cast<fuse_ino_t>(n);
  }

  // The Inode for the object `r` describes, found at merged `path`, with one
  // more lookup reference: the live Inode of r->st.st_ino if it still is
  // that object, else a new one (which takes r's upper fd and dir_lowers).
  // A live Inode of a lower hard-link group remembers `path` as an alias.
  // REQUIRES: the caller holds the overlay's ns_mu_ (shared is enough).
  Inode* Remember(const std::string& path, Resolved* r) EXCLUDES(mu_);
  // Drops `count` lookup references; deletes n at zero (never the root).
  void Forget(Inode* n, uint64_t count) EXCLUDES(mu_);
  // Marks the live Inode numbered `ino` (if any) unlinked: a removed name
  // must not be found by path again. With `unless_more_lower_names`, only
  // when the Inode's lower hard-link group has no other name.
  // REQUIRES: the caller holds the overlay's ns_mu_ exclusive.
  void MarkUnlinked(uint64_t ino, bool unless_more_lower_names) EXCLUDES(mu_);
  // The alias paths of n's lower hard-link group seen by Remember.
  std::vector<std::string> Aliases(Inode* n) EXCLUDES(mu_);

  // The st_ino of an upper file with attributes `st` (its origin's, if it
  // was copied up).
  uint64_t UpperIno(const struct stat& st) EXCLUDES(mu_);
  // The st_ino for an upper file whose InoMap number is `mapped`.
  uint64_t OriginOf(uint64_t mapped) EXCLUDES(mu_);
  // Records that the upper file with attributes `upper` is a copy of the
  // object numbered `origin`.
  void SetOrigin(const struct stat& upper, uint64_t origin) EXCLUDES(mu_);

 private:
  // The live Inode numbered r->st.st_ino when it still is the object r
  // describes (then with one more reference), else nullptr.
  Inode* FindLive(const std::string& path, Resolved* r) REQUIRES(mu_);
  void AddAlias(Inode* n, const std::string& path) REQUIRES(mu_);

  const std::unique_ptr<InoMap> inos_;
  Inode* root_ = nullptr;  // set once by AddRoot
  Mutex mu_;
  std::unordered_map<uint64_t, Inode*> nodes_ GUARDED_BY(mu_);  // st_ino -> newest Inode
  std::unordered_map<uint64_t, uint64_t> origin_ GUARDED_BY(mu_);  // upper st_ino -> st_ino
};

}  // namespace cfs
