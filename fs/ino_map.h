// Mount-unique, stable st_ino values ("xino", as the kernel's overlayfs).
//
// st_ino = (slot << 56) | ino, where slot names the filesystem an inode
// comes from (slot 0 = the upper dir's filesystem, then each other st_dev in
// the order first seen) and ino is the inode number there. Store layers get
// slots from 0x80 up and use (layer << 32 | entry) or a node number as ino.
// An ino that does not fit in 56 bits gets a number from the overflow slot
// 0xFF, remembered for the life of the mount so it stays stable.
//
// Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <unordered_map>
#include <utility>

#include "base/thread_annotations.h"

namespace cfs {

class InoMap {
 public:
  static constexpr int kShift = 56;
  static constexpr uint64_t kMask = (1ull << kShift) - 1;

  // The st_ino for (dev, ino) of a real file.
  uint64_t ForReal(dev_t dev, uint64_t ino) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    uint64_t slot;
    auto it = slots_.find(dev);
    if (it != slots_.end()) {
      slot = it->second;
    } else {
      slot = next_real_slot_ < 0x80 ? next_real_slot_++ : 0xFF;
      slots_.emplace(dev, slot);
    }
    if (slot != 0xFF && ino <= kMask) return (slot << kShift) | ino;
    auto key = std::make_pair(static_cast<uint64_t>(dev), ino);
    auto o = overflow_.find(key);
    if (o != overflow_.end()) return o->second;
    uint64_t v = (0xFFull << kShift) | ++overflow_next_;
    overflow_.emplace(key, v);
    return v;
  }

  // Reserves a slot for a store layer stack.
  uint64_t ReserveStackSlot() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return next_stack_slot_ < 0xFF ? next_stack_slot_++ : 0xFE;
  }
  static uint64_t ForStack(uint64_t slot, uint64_t v) { return (slot << kShift) | (v & kMask); }

 private:
  Mutex mu_;
  std::unordered_map<dev_t, uint64_t> slots_ GUARDED_BY(mu_);
  uint64_t next_real_slot_ GUARDED_BY(mu_) = 0;
  uint64_t next_stack_slot_ GUARDED_BY(mu_) = 0x80;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> overflow_ GUARDED_BY(mu_);
  uint64_t overflow_next_ GUARDED_BY(mu_) = 0;
};

}  // namespace cfs
