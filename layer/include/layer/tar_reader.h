// A streaming reader of uncompressed tar (ustar, GNU, PAX) that keeps every
// byte that is not file payload, so the tar can be rebuilt byte for byte.
//
// Usage:
//   TarReader r(&src, limits);
//   TocEntry e;
//   while (true) {
//     ASSIGN_OR_RETURN(bool more, r.Next(&e));
//     if (!more) break;
//     ... read e.size payload bytes with r.ReadPayload() (any chunking) ...
//   }
//   TarSplit split = r.TakeSplit();
//
// Next() skips whatever payload the caller left unread. Bad input gives a
// Corruption/Invalid status whose message names the entry and the byte offset.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "base/io.h"
#include "layer/toc.h"

namespace cfs {

struct TarLimits {
  size_t max_name = 4096;            // bytes of a path or link target
  size_t max_pax_header = 1 << 20;   // bytes of one PAX or GNU long-name record
  size_t max_trailer = 1 << 20;      // bytes after the end-of-archive marker
  uint64_t max_entries = 10'000'000;
};

class TarReader {
 public:
  TarReader(ByteSource* src, const TarLimits& limits = {});

  // Reads the next entry's headers into *e (metadata only: first_chunk and
  // num_chunks are left 0, role is set from the name). Returns false at the
  // end of the archive (after which TakeSplit() holds the trailer).
  // Names are normalized with NormalizeEntryName; a hardlink target too.
  // Rejects: GNU/PAX sparse files (Unsupported), bad checksums, truncated
  // input, oversized names/records, more than limits.max_entries entries.
  Result<bool> Next(TocEntry* e);

  // Reads up to n payload bytes of the current entry; 0 when it is consumed.
  Result<size_t> ReadPayload(void* buf, size_t n);

  // Total bytes consumed from the source so far.
  uint64_t offset() const { return offset_; }

  // The raw non-payload bytes. Valid once Next() returned false.
  TarSplit TakeSplit() { return std::move(split_); }

 private:
  class Impl;
  ByteSource* src_;
  TarLimits limits_;
  uint64_t offset_ = 0;
  uint64_t payload_left_ = 0;   // of the current entry
  uint64_t padding_left_ = 0;   // after the current payload
  bool done_ = false;
  TarSplit split_;
  uint64_t entries_ = 0;                        // returned by Next() so far
  std::string name_;                            // current entry, for messages
  std::map<std::string, std::string> global_;   // PAX 'g' records in force
  std::set<std::string> symlinks_;              // symlinks seen so far
  // Private helpers live in tar_reader.cc.
  Status SkipRest();
  Result<size_t> RawRead(void* buf, size_t n);
};

}  // namespace cfs
