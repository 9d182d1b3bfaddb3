// Turning a layer blob (tar, tar+gzip, tar+zstd) into a TOC, a tar-split
// and stored chunks. Private to store/.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "base/executor.h"
#include "base/thread_annotations.h"
#include "chunkstore/chunk_store.h"
#include "layer/tar_reader.h"
#include "store/store.h"
#include "transport/image_source.h"

namespace cfs {

// Wraps a source; hashes everything read (unless disabled) and counts it.
class HashingSource : public ByteSource {
 public:
  explicit HashingSource(ByteSource* in) : in_(in) {}
  void DisableHashing() { hashing_ = false; }
  Result<size_t> Read(void* buf, size_t n) override;
  Digest Finish() { return sha_.Finish(); }
  uint64_t count() const { return count_; }

 private:
  ByteSource* in_;
  Sha256 sha_;
  uint64_t count_ = 0;
  bool hashing_ = true;
};

// Replays the first bytes of a stream after looking at them.
class PeekSource : public ByteSource {
 public:
  explicit PeekSource(ByteSource* in) : in_(in) {}
  // Reads up to n bytes ahead (fewer at end of stream) and returns them.
  Result<std::string_view> Peek(size_t n);
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  ByteSource* in_;
  std::string head_;
  size_t pos_ = 0;
};

// True when a blob starting with these bytes is compressed (gzip, zstd,
// xz, bzip2), i.e. is not a plain tar.
bool LooksCompressed(std::string_view head);

// Decompresses gzip, zstd, xz or bzip2 (or passes plain bytes) with
// libarchive's raw format.
class DecompressingSource : public ByteSource {
 public:
  static Result<std::unique_ptr<DecompressingSource>> Open(ByteSource* in);
  ~DecompressingSource() override;
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  explicit DecompressingSource(ByteSource* in) : in_(in) {}
  ByteSource* in_;
  void* ar_ = nullptr;  // struct archive*
  std::string inbuf_;
  Status in_status_;
  friend struct DecompressCallbacks;
};

struct LayerImportResult {
  LayerToc toc;
  TarSplit split;
  Digest blob_digest;
  uint64_t blob_size = 0;
  uint64_t chunks_new = 0;   // chunks this layer wrote to a pack
  uint64_t bytes_new = 0;    // compressed bytes written
  // Hard links to no earlier entry of the layer, as (link, target), checked
  // by Import against the layer's own entries only (LayerRules): the caller
  // checks them against the layers below (CheckLinksBelow).
  std::vector<std::pair<std::string, std::string>> links_below;
};

// The distinct chunks toc references, in the order they first appear.
std::vector<Digest> DistinctChunks(const LayerToc& toc);

// Commits a layer in writer session w, in one batch: indexes the chunks of
// r.toc that w does not know yet (where chunks stored them; one stored
// nowhere left the store: Aborted), stores TOC and tar-split, and drops a
// partial record of the layer. REQUIRES: chunks synced.
Status CommitLayerRecords(Index& w, const LayerImportResult& r, ChunkWriter& chunks);

// Imports the layers of one pull. Chunks written by an earlier layer of the
// same importer are reused by later ones. Not thread-safe (one pull).
class LayerImporter {
 public:
  // chunks: where the layers' chunks go (it skips those the store has).
  LayerImporter(const Chunker& chunker, ChunkWriter* chunks, int threads);
  ~LayerImporter();

  // Reads the blob (verifying its digest against want_blob unless it is
  // zero, and the tar against want_diff_id unless it is zero), stores new
  // chunks (not yet durable: call chunks->Sync()).
  Result<LayerImportResult> Import(ByteSource& blob, const Digest& want_blob,
                                   const Digest& want_diff_id, const std::string& what,
                                   const ProgressFn& progress, uint64_t blob_size_hint);

  // Commits an imported layer in writer session w (CommitLayerRecords).
  // REQUIRES: the chunks were synced after Import().
  Status Commit(Index& w, const LayerImportResult& r) {
    return CommitLayerRecords(w, r, *chunks_);
  }

 private:
  // Chunks cut from the tar in one buffer, stored by one worker task: a
  // task per chunk would cost a hand-off (and a wake-up) per small file.
  struct ChunkBatch {
    struct Cut {
      size_t offset;
      uint32_t size;
      ChunkRef* out;  // filled in by the task
    };
    std::string buf;         // kBatchBytes + 2 * max chunk; recycled
    size_t start = 0;        // where the next chunk starts
    size_t end = 0;          // buf[start, end): read, not yet cut
    std::vector<Cut> cuts;   // chunks of buf[0, start)
  };
  // Runs on a worker (or on the reading thread when the queue is full):
  // hashes the batch's chunks, fills in their refs, stores those new.
  void StoreBatch(ChunkBatch& b, LayerImportResult* r);
  // Hands the cut chunks of b to a task of group; b goes on in a fresh
  // buffer holding what was read but not cut.
  void Submit(ChunkBatch& b, TaskGroup* group, LayerImportResult* r);
  // Cuts the payload of entry e (the reader stands at its start) into chunks
  // appended to refs, read straight into b and stored by tasks of group.
  Status ChunkPayload(TarReader& reader, const TocEntry& e, ChunkBatch& b, TaskGroup* group,
                      std::deque<ChunkRef>* refs, LayerImportResult* r);
  // Reads the payload (unread bytes of it left) into b until b holds want
  // bytes past b.start.
  static Status Fill(TarReader& reader, const TocEntry& e, size_t want, ChunkBatch& b,
                     uint64_t* unread);
  // Batch buffers are recycled: fresh MiB allocations would be mmap'ed and
  // zero-filled by the kernel every time.
  std::string TakeBuffer() EXCLUDES(mu_);
  void GiveBuffer(std::string b) EXCLUDES(mu_);
  const Chunker& chunker_;
  ChunkWriter* chunks_;
  // Guards the counters, the first error and the buffer pool. Taken by the
  // workers and the reader; never held while compressing or writing.
  Mutex mu_;
  Status error_ GUARDED_BY(mu_);
  std::atomic<bool> failed_{false};  // error_ is set: workers skip what is left
  std::vector<std::string> free_buffers_ GUARDED_BY(mu_);
  // Stores chunks: threads workers, at most threads*4 batches waiting (then
  // the reading thread stores the oldest itself, lending its spare time to
  // compression). Last: joined before the members its tasks use go.
  Executor workers_;
};

}  // namespace cfs
