// ChunkedFile: a lower regular file whose data is a list of store chunks,
// read through the mount's ChunkCache (every chunk verified against its
// digest there); sequential reads queue read-ahead of the next chunks.
// Used by the store-layer lowers (stack_lower.cc, index_lower.cc).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "fs/chunk_cache.h"
#include "fs/lower.h"

namespace cfs {

class ChunkedFile : public LowerFile {
 public:
  ChunkedFile(ChunkCache* cache, std::vector<ChunkRef> chunks, uint64_t size)
      : cache_(cache), chunks_(std::move(chunks)), size_(size) {
    starts_.reserve(chunks_.size() + 1);
    uint64_t pos = 0;
    for (const auto& c : chunks_) {
      starts_.push_back(pos);
      pos += c.size;
    }
    starts_.push_back(pos);
  }
  uint64_t size() const override { return size_; }

  Result<size_t> Read(uint64_t off, size_t size, char* out) override {
    std::vector<Piece> pieces;
    RETURN_IF_ERROR(ReadPieces(off, size, &pieces).status());
    size_t done = 0;
    for (const auto& p : pieces) {
      std::memcpy(out + done, p.data, p.size);
      done += p.size;
    }
    return done;
  }

  Result<bool> ReadPieces(uint64_t off, size_t size, std::vector<Piece>* out) override {
    if (off >= size_) return true;
    size = std::min<uint64_t>(size, size_ - off);
    if (starts_.back() != size_) return Status::Corruption("chunks do not add up to the file size");
    size_t i = std::upper_bound(starts_.begin(), starts_.end(), off) - starts_.begin() - 1;
    size_t last = std::upper_bound(starts_.begin(), starts_.end(), off + size - 1) -
                  starts_.begin() - 1;
    ReadAhead(off, off + size, last + 1);
    size_t done = 0;
    while (done < size) {
      uint64_t in = off + done - starts_[i];
      size_t n = std::min<uint64_t>(size - done, chunks_[i].size - in);
      ASSIGN_OR_RETURN(ChunkCache::Chunk c, cache_->Get(chunks_[i], in + n == chunks_[i].size));
      out->push_back(Piece{c, c->data() + in, n});
      done += n;
      ++i;
    }
    return true;
  }

 private:
  // On a (roughly: the kernel issues read-ahead requests in parallel)
  // sequential pattern, queue the following chunks, the window doubling from
  // 2 chunks up to 8 MiB ahead.
  void ReadAhead(uint64_t off, uint64_t end, size_t next) {
    std::vector<ChunkRef> want;
    {
      std::lock_guard<std::mutex> l(mu_);
      constexpr uint64_t kSlack = 1 << 20;
      bool sequential = off == 0 || (off + kSlack >= last_end_ && off <= last_end_ + kSlack);
      last_end_ = std::max(last_end_, end);
      if (!sequential) {
        window_ = 0;
        last_end_ = end;
        prefetched_to_ = next;
        return;
      }
      window_ = std::min<size_t>(window_ ? window_ * 2 : 2, 128);
      size_t until = std::min(chunks_.size(), next + window_);
      uint64_t bytes = 0;
      for (size_t j = std::max(next, prefetched_to_); j < until && bytes < (8u << 20); ++j) {
        want.push_back(chunks_[j]);
        bytes += chunks_[j].size;
        prefetched_to_ = j + 1;
      }
    }
    if (!want.empty()) cache_->Prefetch(want);
  }

  ChunkCache* cache_;
  std::vector<ChunkRef> chunks_;
  std::vector<uint64_t> starts_;
  uint64_t size_;
  std::mutex mu_;  // guards the read-ahead state below
  uint64_t last_end_ = 0;
  size_t window_ = 0;
  size_t prefetched_to_ = 0;
};

}  // namespace cfs
