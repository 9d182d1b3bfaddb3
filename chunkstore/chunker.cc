#include "chunkstore/chunk_store.h"

#include <array>
#include <bit>
#include <string>

namespace cfs {

namespace {

// The gear table: 256 pseudo-random 64-bit values from splitmix64 seeded with
// a fixed constant, so every build and every store cut identically.
constexpr std::array<uint64_t, 256> MakeGear() {
  std::array<uint64_t, 256> g{};
  uint64_t x = 0x636c75737465726full;  // "clusterfo"
  for (auto& v : g) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    v = z ^ (z >> 31);
  }
  return g;
}
constexpr std::array<uint64_t, 256> kGear = MakeGear();

// A mask of `bits` ones in the top of the word: with a left-shifting gear
// hash the top bits depend on the last 64 bytes, the rolling window.
constexpr uint64_t TopMask(int bits) { return bits <= 0 ? 0 : ~0ull << (64 - bits); }

}  // namespace

Status ChunkerParams::Validate() const {
  if (!std::has_single_bit(avg_size) || avg_size < 256)
    return Status::Invalid("chunker avg_size must be a power of two >= 256");
  if (!(min_size > 0 && min_size < avg_size && avg_size < max_size))
    return Status::Invalid("chunker sizes must satisfy 0 < min < avg < max");
  if (max_size > (64u << 20)) return Status::Invalid("chunker max_size must be <= 64 MiB");
  return Status::Ok();
}

Chunker::Chunker(const ChunkerParams& p) : p_(p) {
  int bits = std::countr_zero(p.avg_size);
  mask_small_ = TopMask(bits + 2);  // normalization level 2
  mask_large_ = TopMask(bits - 2);
}

size_t Chunker::NextCut(const uint8_t* data, size_t n) const {
  if (n <= p_.min_size) return n;
  size_t normal = p_.avg_size < n ? p_.avg_size : n;
  uint64_t h = 0;
  size_t i = p_.min_size;
  for (; i < normal; i++) {
    h = (h << 1) + kGear[data[i]];
    if (!(h & mask_small_)) return i + 1;
  }
  for (; i < n; i++) {
    h = (h << 1) + kGear[data[i]];
    if (!(h & mask_large_)) return i + 1;
  }
  return n;
}

}  // namespace cfs
