// Directory listings as readdir serves them: the merged entries of a
// directory (upper first, then each lower; whiteouts hide names below them)
// in the order of their hash cookies (DirListing, fs/overlay_impl.h), and
// the snapshots kept between readdir calls.
#include <dirent.h>

#include <algorithm>
#include <unordered_set>

#include "fs/overlay_impl.h"

namespace cfs {

namespace {
// Listings kept between readdir calls (each dropped when read to its end).
constexpr size_t kMaxListings = 64;

uint64_t Mix64(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t NameCookie(uint64_t key, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull ^ key;  // FNV-1a, keyed
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return 3 + (Mix64(h ^ key) >> 2);
}
}  // namespace

std::shared_ptr<const DirListing> OverlayFs::Listing(Inode* n, bool fresh, int* err) {
  *err = 0;
  if (!fresh) {
    MutexLock l(&listings_mu_);
    auto it = listings_.find(n->ino);
    if (it != listings_.end()) return it->second;
  }
  DirHandle dh;
  if ((*err = FillDir(n, &dh)) != 0) return nullptr;
  std::vector<std::pair<uint64_t, size_t>> order;
  order.reserve(dh.entries.size());
  for (size_t i = 0; i < dh.entries.size(); ++i)
    order.emplace_back(i < 2 ? i + 1 : NameCookie(cookie_key_, dh.entries[i].name), i);
  std::sort(order.begin(), order.end());
  auto list = std::make_shared<DirListing>();
  list->entries.reserve(order.size());
  list->cookies.reserve(order.size());
  for (auto& [cookie, i] : order) {
    // Two names with one cookie (odds ~n^2/2^63): the second takes the next
    // free value, which only it can claim in this snapshot.
    if (!list->cookies.empty() && cookie <= list->cookies.back()) cookie = list->cookies.back() + 1;
    list->cookies.push_back(cookie);
    list->entries.push_back(std::move(dh.entries[i]));
  }
  MutexLock l(&listings_mu_);
  if (listings_.size() >= kMaxListings && !listings_.count(n->ino)) listings_.erase(listings_.begin());
  listings_[n->ino] = list;
  return list;
}

void OverlayFs::DropListing(uint64_t ino) {
  MutexLock l(&listings_mu_);
  listings_.erase(ino);
}

int OverlayFs::FillDir(Inode* n, DirHandle* dh) {
  ReaderLock l(&ns_mu_);
  return FillDirLocked(n, dh);
}

int OverlayFs::FillDirLocked(Inode* n, DirHandle* dh) {
  dh->entries.clear();
  dh->entries.push_back({".", n->ino, DT_DIR});
  dh->entries.push_back({"..", n->parent ? n->parent->ino : n->ino, DT_DIR});
  std::unordered_set<std::string> seen;
  std::vector<LowerDirEntry> items;
  int ufd = UpperFd(n);
  if (ufd >= 0) {
    Status s = ReadDirAt(ufd, table_.inos(), &items);
    if (!s.ok()) return s.err() ? s.err() : EIO;
    for (auto& it : items) {
      seen.insert(it.name);
      if (it.whiteout) continue;
      dh->entries.push_back({std::move(it.name), table_.OriginOf(it.ino), it.d_type});
    }
  }
  std::string path = n->dir_lowers.empty() ? std::string() : MergedPath(n);
  for (int l : n->dir_lowers) {
    items.clear();
    Status s = lowers_[l]->ReadDir(path, &items);
    if (!s.ok()) return ToErrno(s);
    for (auto& it : items) {
      if (!seen.insert(it.name).second || it.whiteout) continue;
      dh->entries.push_back({std::move(it.name), it.ino, it.d_type});
    }
  }
  return 0;
}

}  // namespace cfs
