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
// and the last one deletes it. An Inode also holds one reference to its
// parent, so the names its path is made of live as long as it does. The
// root is never forgotten.
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
#include "fs/ino_index.h"
#include "fs/ino_map.h"
#include "fs/lower_list.h"

namespace cfs {

struct Resolved;  // fs/overlay_lookup.h

// One object the kernel knows. Laid out for size (a million-file image
// holds a million of these after a `find`): 104 bytes, one 112-byte malloc
// block. The name and parent replace a full path per Inode: a path is
// rebuilt by walking parents (MergedPath), so a directory rename moves
// every descendant with it.
struct Inode {
  Inode(uint64_t i, mode_t t) : ino(i), type(static_cast<uint16_t>(t)) {}
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;
  ~Inode() {
    int fd = upper.load();
    if (fd >= 0) ::close(fd);
  }

  const uint64_t ino;  // st_ino

  // Guarded by OverlayFs::ns_mu_ (written exclusive, read shared), and set
  // before the Inode is published.
  // The directory it was found in (holding one of its lookup references),
  // nullptr for the root and for views (DirView).
  Inode* parent = nullptr;
  // Its name in parent; the root's is "." and a view's its whole path.
  std::string name;

  std::atomic<uint64_t> probed_gen{0};  // copy-up generation a missing upper was checked at
  // Kernel lookup references plus one per Inode whose parent this is.
  uint64_t nlookup = 0;  // guarded by InodeTable::mu_
  Inode* index_next = nullptr;  // InoIndex chain; guarded by InodeTable::mu_

  // Guarded by OverlayFs::ns_mu_ (written exclusive, read shared).
  LowerList dir_lowers;  // dirs: lowers merged below the upper, top first
  // Set once (-1 until the object has an upper file); closed with the Inode.
  std::atomic<int> upper{-1};  // O_PATH fd of the upper file
  int lower = -1;              // non-dir without upper: the lower holding it
  uint32_t lower_nlink = 1;    // names of its hard-link group in that lower
  const uint16_t type;         // S_IFMT bits
  // Its last name was removed (kept for open fds). Written under ns_mu_
  // exclusive and InodeTable::mu_.
  bool unlinked = false;
};

// The merged path of n ("." for the root; "a/b" below it), from the names
// of n and its parents. REQUIRES: the overlay's ns_mu_ (shared is enough).
std::string MergedPath(const Inode* n);

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

  // The Inode for the object `r` describes, found as `name` in directory
  // `dir`, with one more lookup reference: the live Inode of r->st.st_ino if
  // it still is that object, else a new one (which takes r's upper fd and
  // dir_lowers, and a reference to dir). A live Inode of a lower hard-link
  // group found under another name remembers that path as an alias.
  // REQUIRES: the caller holds the overlay's ns_mu_ (shared is enough); dir
  // is in this table (not a DirView).
  Inode* Remember(Inode* dir, const std::string& name, Resolved* r) EXCLUDES(mu_);
  // Drops `count` lookup references; deletes n at zero (never the root),
  // then drops the reference it held to its parent.
  void Forget(Inode* n, uint64_t count) EXCLUDES(mu_);
  // n is now `name` in `dir` (a rename): takes a reference to dir, drops
  // the one to its old parent. REQUIRES: the overlay's ns_mu_ exclusive;
  // dir is in this table.
  void Move(Inode* n, Inode* dir, const std::string& name) EXCLUDES(mu_);
  // Inodes in the table (the root included; not the unlinked ones a newer
  // Inode of the same number replaced).
  size_t size() EXCLUDES(mu_);
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
  Inode* FindLive(Inode* dir, const std::string& name, Resolved* r) REQUIRES(mu_);
  void AddAlias(Inode* n, const std::string& path) REQUIRES(mu_);
  // Drops `count` references of n, and of each parent an Inode deleted
  // here held.
  void Unref(Inode* n, uint64_t count) REQUIRES(mu_);

  const std::unique_ptr<InoMap> inos_;
  Inode* root_ = nullptr;  // set once by AddRoot
  Mutex mu_;
  InoIndex<Inode> nodes_ GUARDED_BY(mu_);  // st_ino -> newest Inode
  // Other paths of a lower hard-link group's Inode seen so far (rare: kept
  // here, not in every Inode).
  std::unordered_map<const Inode*, std::vector<std::string>> aliases_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, uint64_t> origin_ GUARDED_BY(mu_);  // upper st_ino -> st_ino
};

}  // namespace cfs
