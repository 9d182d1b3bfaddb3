#include "fs/inode_table.h"

#include <algorithm>

#include "fs/overlay_lookup.h"

namespace cfs {

namespace {
// Alias paths remembered per hard-link group, at most.
constexpr size_t kMaxAliases = 64;
}  // namespace

InodeTable::~InodeTable() {
  MutexLock l(&mu_);
  for (auto& [ino, n] : nodes_)
    if (n != root_) delete n;
  delete root_;
}

Inode* InodeTable::AddRoot(uint64_t ino) {
  root_ = new Inode(ino, S_IFDIR);
  root_->path = std::string(1, '.');  // "." (not a literal: GCC 12 -Wrestrict false positive)
  root_->parent_ino.store(ino);
  MutexLock l(&mu_);
  root_->nlookup = 1;
  nodes_[ino] = root_;
  return root_;
}

Inode* InodeTable::FindLive(const std::string& path, Resolved* r) {
  auto it = nodes_.find(r->st.st_ino);
  if (it == nodes_.end()) return nullptr;
  Inode* n = it->second;
  if (n->type != (r->st.st_mode & S_IFMT) || n->unlinked) return nullptr;
  int ufd = n->upper.load();
  if (ufd >= 0 && r->upper.valid()) {
    // The upper fs may reuse the number of a deleted file.
    struct stat a, b;
    if (::fstat(ufd, &a) != 0 || ::fstat(r->upper.get(), &b) != 0 || a.st_ino != b.st_ino ||
        a.st_dev != b.st_dev || a.st_nlink == 0) {
      return nullptr;
    }
  }
  ++n->nlookup;
  if (ufd < 0 && r->upper.valid()) {
    int expected = -1;
    if (n->upper.compare_exchange_strong(expected, r->upper.get())) r->upper.Release();
  }
  if (n->path != path && n->type != S_IFDIR && r->lower >= 0) AddAlias(n, path);
  return n;
}

void InodeTable::AddAlias(Inode* n, const std::string& path) {
  if (!n->aliases) n->aliases = std::make_unique<std::vector<std::string>>();
  bool known = false;
  for (const auto& a : *n->aliases) known |= a == path;
  if (!known && n->aliases->size() < kMaxAliases) n->aliases->push_back(path);
}

Inode* InodeTable::Remember(const std::string& path, Resolved* r) {
  MutexLock l(&mu_);
  if (Inode* n = FindLive(path, r)) return n;
  Inode* n = new Inode(r->st.st_ino, r->st.st_mode & S_IFMT);
  n->path = path;
  n->lower = r->lower;
  n->dir_lowers = std::move(r->dir_lowers);
  n->lower_nlink = r->lower_nlink;
  if (r->upper.valid()) n->upper = r->upper.Release();
  n->nlookup = 1;
  nodes_[n->ino] = n;
  return n;
}

void InodeTable::Forget(Inode* n, uint64_t count) {
  MutexLock l(&mu_);
  if (n == root_) return;
  n->nlookup -= std::min(n->nlookup, count);
  if (n->nlookup > 0) return;
  auto it = nodes_.find(n->ino);
  if (it != nodes_.end() && it->second == n) nodes_.erase(it);
  delete n;
}

void InodeTable::MarkUnlinked(uint64_t ino, bool unless_more_lower_names) {
  MutexLock l(&mu_);
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Inode* n = it->second;
  if (!unless_more_lower_names || n->lower_nlink <= 1) n->unlinked = true;
}

std::vector<std::string> InodeTable::Aliases(Inode* n) {
  MutexLock l(&mu_);
  return n->aliases ? *n->aliases : std::vector<std::string>();
}

uint64_t InodeTable::OriginOf(uint64_t mapped) {
  MutexLock l(&mu_);
  auto it = origin_.find(mapped);
  return it == origin_.end() ? mapped : it->second;
}

uint64_t InodeTable::UpperIno(const struct stat& st) {
  return OriginOf(inos_->ForReal(st.st_dev, st.st_ino));
}

void InodeTable::SetOrigin(const struct stat& upper, uint64_t origin) {
  uint64_t mapped = inos_->ForReal(upper.st_dev, upper.st_ino);
  MutexLock l(&mu_);
  origin_[mapped] = origin;
}

}  // namespace cfs
