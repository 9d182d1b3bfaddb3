// Content-defined chunking (FastCDC with normalized chunking).
//
// Chunk boundaries depend only on the bytes near them, so an insertion early
// in a file changes only the chunks around it and identical content in other
// files or layers yields identical chunks (and is stored once).
// See store/FORMAT.md "Chunker" for the parameters and the gear table.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace cfs {

// Fixed when a store is created: changing them changes every boundary, so
// existing chunks would no longer dedup against new ones (still correct).
struct ChunkerParams {
  uint32_t min_size = 16 << 10;   // no cut before this many bytes.   Default: 16 KiB
  uint32_t avg_size = 64 << 10;   // target mean; a power of two.     Default: 64 KiB
  uint32_t max_size = 256 << 10;  // always cut at this many bytes.   Default: 256 KiB

  Status Validate() const;
};

class Chunker {
 public:
  explicit Chunker(const ChunkerParams& p);

  // Returns the length of the chunk that starts at data[0].
  // REQUIRES: n >= 1, and n == min(bytes left in the stream, max_size): the
  // caller passes a full window (or the whole tail of the stream).
  // Thread-safe (stateless after construction).
  size_t NextCut(const uint8_t* data, size_t n) const;

  const ChunkerParams& params() const { return p_; }

 private:
  ChunkerParams p_;
  uint64_t mask_small_;  // used before avg_size: harder to match
  uint64_t mask_large_;  // used after avg_size: easier to match
};

}  // namespace cfs
