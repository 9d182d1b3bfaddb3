#include "fs/inode_table.h"

#include <algorithm>
#include <cstring>

#include "fs/overlay_lookup.h"

namespace cfs {

namespace {
// Alias paths remembered per hard-link group, at most.
constexpr size_t kMaxAliases = 64;
}  // namespace

std::string MergedPath(const Inode* n) {
  if (!n->parent) return n->name;
  // Sizes first, then the names written back to front: one allocation.
  size_t len = 0;
  const Inode* top = n;
  for (; top->parent; top = top->parent) len += top->name.size() + 1;
  bool at_root = top->name == ".";
  if (at_root) --len;  // no "./" prefix
  else len += top->name.size();
  std::string out(len, '/');
  size_t pos = len;
  for (const Inode* p = n; p->parent; p = p->parent) {
    pos -= p->name.size();
    std::memcpy(out.data() + pos, p->name.data(), p->name.size());
    if (pos > 0) --pos;  // the '/' before it
  }
  if (!at_root) std::memcpy(out.data(), top->name.data(), top->name.size());
  return out;
}

InodeTable::~InodeTable() {
  MutexLock l(&mu_);
  std::vector<Inode*> all;
  nodes_.ForEach([&](Inode* n) { all.push_back(n); });
  for (Inode* n : all)
    if (n != root_) delete n;
  delete root_;
}

Inode* InodeTable::AddRoot(uint64_t ino) {
  root_ = new Inode(ino, S_IFDIR);
  root_->name = std::string(1, '.');  // "." (not a literal: GCC 12 -Wrestrict false positive)
  MutexLock l(&mu_);
  root_->nlookup = 1;
  nodes_.Put(root_);
  return root_;
}

Inode* InodeTable::FindLive(Inode* dir, const std::string& name, Resolved* r) {
  Inode* n = nodes_.Find(r->st.st_ino);
  if (n == nullptr) return nullptr;
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
  bool elsewhere = n->parent != dir || n->name != name;
  if (elsewhere && n != root_ && n->type != S_IFDIR && r->lower >= 0) {
    std::string at = MergedPath(dir);
    AddAlias(n, at == "." ? name : at + "/" + name);
  }
  return n;
}

void InodeTable::AddAlias(Inode* n, const std::string& path) {
  std::vector<std::string>& aliases = aliases_[n];
  bool known = false;
  for (const auto& a : aliases) known |= a == path;
  if (!known && aliases.size() < kMaxAliases) aliases.push_back(path);
}

Inode* InodeTable::Remember(Inode* dir, const std::string& name, Resolved* r) {
  MutexLock l(&mu_);
  if (Inode* n = FindLive(dir, name, r)) return n;
  Inode* n = new Inode(r->st.st_ino, r->st.st_mode & S_IFMT);
  n->parent = dir;
  if (dir != root_) ++dir->nlookup;
  n->name = name;
  n->lower = r->lower;
  n->dir_lowers = std::move(r->dir_lowers);
  n->lower_nlink = r->lower_nlink;
  if (r->upper.valid()) n->upper = r->upper.Release();
  n->nlookup = 1;
  nodes_.Put(n);  // a replaced Inode stays alive while the kernel holds it
  return n;
}

void InodeTable::Unref(Inode* n, uint64_t count) {
  while (n != nullptr && n != root_) {
    n->nlookup -= std::min(n->nlookup, count);
    if (n->nlookup > 0) return;
    if (nodes_.Find(n->ino) == n) nodes_.Erase(n->ino);
    aliases_.erase(n);
    Inode* parent = n->parent;
    delete n;
    n = parent;
    count = 1;
  }
}

void InodeTable::Forget(Inode* n, uint64_t count) {
  MutexLock l(&mu_);
  Unref(n, count);
}

void InodeTable::Move(Inode* n, Inode* dir, const std::string& name) {
  MutexLock l(&mu_);
  if (dir != root_) ++dir->nlookup;
  Inode* old = n->parent;
  n->parent = dir;
  n->name = name;
  Unref(old, 1);
}

size_t InodeTable::size() {
  MutexLock l(&mu_);
  return nodes_.size();
}

void InodeTable::MarkUnlinked(uint64_t ino, bool unless_more_lower_names) {
  MutexLock l(&mu_);
  Inode* n = nodes_.Find(ino);
  if (n == nullptr) return;
  if (!unless_more_lower_names || n->lower_nlink <= 1) n->unlinked = true;
}

std::vector<std::string> InodeTable::Aliases(Inode* n) {
  MutexLock l(&mu_);
  auto it = aliases_.find(n);
  return it == aliases_.end() ? std::vector<std::string>() : it->second;
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
