// Matching packs with the index: the proof gc needs before it deletes, and
// the check fsck reports. Private to chunkstore/.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "pack.h"

namespace cfs {

// One "c" entry of the index.
struct IndexedChunk {
  Digest digest;
  ChunkLoc loc;
  bool live = false;  // gc: still referenced after the mark phase
};
// pack id -> record offset -> the entry pointing there.
using ChunkMap = std::unordered_map<uint64_t, std::unordered_map<uint64_t, IndexedChunk>>;

// A pack after CheckPackWithIndex.
struct CheckedPack {
  std::string path;
  uint64_t id = 0;   // from the file name
  PackScan scan;
  std::vector<ChunkLoc> unindexed;  // live records no index entry points at
};

// Walks p->path and matches it with the index entries that name its pack.
// Corruption (one line naming the pack) when the header fails its check,
// an entry points at no record or at a different one, or the walk stopped
// (damaged record) before an indexed record. REQUIRES: p->path, p->id set.
Status CheckPackWithIndex(const ChunkMap& indexed, CheckedPack* p);

}  // namespace cfs
