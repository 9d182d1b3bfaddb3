// Delta bundles (cimg save --since OLD): the volumes of one bundle on disk,
// written and read without any knowledge of the store. FORMAT.md "Delta
// bundles" describes the layout; store/delta.cc decides what goes in.
// Private to store/.
//
// A bundle is one or more plain (ustar) tar volumes. Every volume starts
// with `cimg-delta.json` ({"format","bundle","volume"}) and ends with
// `cimg-delta-end.json` ({"volume","last","chunks"}), which also proves the
// volume whole; volume 1 holds `index.json` and the metadata files the index
// names after its header, and any volume holds chunk packs `chunks/NNNNNN`:
// records of
//   digest[32] | ulen u32 LE | zlen u32 LE | zstd frame[zlen]
// The bundle id is the SHA-256 of index.json, so the index proves itself
// and a volume of another bundle is recognised by its header alone.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/status.h"
#include "layer/toc.h"

namespace cfs {

constexpr char kDeltaFormat[] = "cimg-delta/1";
constexpr char kDeltaHeaderName[] = "cimg-delta.json";
constexpr char kDeltaEndName[] = "cimg-delta-end.json";
// The smallest --split-size: a volume must hold a pack of the largest chunks.
constexpr uint64_t kDeltaMinSplit = 1 << 20;

// True when file is a tar whose first member is a delta bundle's header
// (a cheap look: one header block).
bool IsDeltaBundleFile(const std::string& file);

class DeltaVolumeWriter;  // delta_bundle.cc

// Writes one bundle: Create, Index, the metadata files, the chunks, Finish.
// Volumes are written to temporary files and appear together at Finish; a
// writer destroyed before that leaves nothing. Not thread-safe.
class DeltaBundleWriter {
 public:
  // split_size 0: one volume, written to file. Otherwise volumes of at most
  // split_size bytes each, file.001, file.002, ... REQUIRES: split_size 0 or
  // >= kDeltaMinSplit.
  static Result<std::unique_ptr<DeltaBundleWriter>> Create(const std::string& file,
                                                           uint64_t split_size);
  ~DeltaBundleWriter();

  // First: the index (its digest becomes the bundle id).
  Status PutIndex(const std::string& index_json);
  // Then the metadata files (names "blobs/<hex>", "layers/<hex>.toc", ...):
  // all in volume 1, which must hold them (Invalid otherwise, naming the
  // --split-size needed).
  Status PutFile(const std::string& name, std::string_view data);
  // Then the chunks: frame is chunk c's zstd frame as stored.
  Status PutChunk(const ChunkRef& c, std::string_view frame);
  // Flushes, closes and renames every volume into place. Returns their paths.
  Result<std::vector<std::string>> Finish();

 private:
  DeltaBundleWriter(std::string file, uint64_t split);
  Status OpenVolume();
  Status FlushPack();
  uint64_t PackLimit() const;

  std::string file_;
  uint64_t split_;
  std::string bundle_;  // "sha256:<hex of index.json>"
  std::vector<std::unique_ptr<DeltaVolumeWriter>> volumes_;
  std::string pack_;     // chunk records not yet written
  uint64_t pack_chunks_ = 0;  // records in pack_
  uint64_t packs_ = 0;   // packs written so far (names chunks/NNNNNN)
};

// What a reader found in the volumes: the index, the metadata files, and
// each chunk handed to a callback as it is read.
struct DeltaBundleContents {
  std::string bundle;      // the id: sha256 of index_json
  std::string index_json;  // verified against the id
  std::map<std::string, std::string> files;  // volume 1's metadata files by name
  uint64_t chunks = 0;     // chunk records read
  int volumes = 0;
};

// Called for every chunk record, in volume order; frame is not verified yet
// (the callee decodes it against c). A non-Ok status stops the read.
using DeltaChunkFn = std::function<Status(const ChunkRef& c, std::string_view frame)>;
// Called once volume 1's index and metadata files are read, before any
// chunk: the caller may refuse the bundle there (a missing base image).
using DeltaMetadataFn = std::function<Status(const DeltaBundleContents& c)>;

// Reads the volumes given in any order: every one must belong to the same
// bundle, volumes 1..N (N marked last) each exactly once, else Invalid
// naming the missing, duplicate or foreign volume. Volume 1 is read first.
// A member that is not part of the format, a truncated tar, a bad record or
// an index that does not match the id is Corruption naming the file.
Result<DeltaBundleContents> ReadDeltaBundle(const std::vector<std::string>& files,
                                            const DeltaMetadataFn& on_metadata,
                                            const DeltaChunkFn& on_chunk);

}  // namespace cfs
