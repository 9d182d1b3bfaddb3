// The ChunkStore's implementation, shared by its files: chunk_store.cc
// (open, reads, writers, leases), chunk_stash.cc, chunk_gc.cc and
// chunk_check.cc (fsck and repair). Private to chunkstore/.
#pragma once

#include <memory>
#include <string>

#include "chunkstore/chunk_store.h"
#include "pack.h"

namespace cfs {

// The stored frame of chunk d at loc, checked to decode to it (the
// ChunkSource::ReadFrame contract), for every chunk source of this library.
inline Result<std::string> VerifiedFrame(PackReader& packs, const Digest& d, const ChunkLoc& loc) {
  ASSIGN_OR_RETURN(std::string frame, packs.ReadFrame(d, loc));
  RETURN_IF_ERROR(DecompressVerified(d, frame, loc.ulen).status());
  return frame;
}

class ChunkStoreImpl : public ChunkStore {
 public:
  explicit ChunkStoreImpl(const ChunkStoreOptions& o)
      : opts_(o),
        packs_dir_(o.root + "/packs"),
        leases_dir_(o.root + "/leases"),
        chunker_(o.chunker),
        packs_(o.root + "/packs") {}

  const std::string& root() const override { return opts_.root; }
  Env* env() const override { return opts_.env; }
  const Chunker& chunker() const override { return chunker_; }
  const std::string& packs_dir() const { return packs_dir_; }
  PackReader& packs() { return packs_; }
  int compression_level() const { return opts_.compression_level; }

  Result<FileLock> OperationLock() override {
    return FileLock::Acquire(opts_.root + "/gc.lock", FileLock::Mode::kShared);
  }
  Result<FileLock> GcLock() override {
    return FileLock::Acquire(opts_.root + "/gc.lock", FileLock::Mode::kExclusive);
  }
  Result<std::unique_ptr<Index>> OpenReader() override {
    return Index::OpenReader(opts_.root, opts_.env);
  }
  Result<std::unique_ptr<Index>> OpenWriter() override {
    return Index::OpenWriter(opts_.root, opts_.env);
  }

  std::unique_ptr<ChunkSource> SourceOver(Index* ix) override;
  Result<std::unique_ptr<ChunkSource>> OpenSource() override;
  std::unique_ptr<ChunkWriter> NewWriter(Index* snapshot) override;
  Result<std::unique_ptr<ChunkStash>> OpenStash() override;
  Result<std::vector<Digest>> Unindexed(Index& ix, const std::vector<Digest>& ds) override;
  Result<std::vector<Digest>> Damaged(Index& ix, const std::vector<Digest>& ds) override;
  void Drop(const std::vector<Digest>& ds, Index::Batch* b) override;
  Result<std::unique_ptr<Lease>> TakeLease(const std::vector<Digest>& names) override;
  Result<std::vector<Digest>> LeasedNames() override;
  Result<std::unique_ptr<ChunkSweep>> ProveGc(Index& w, const DigestSet& live,
                                              const DigestSet& required, Index::Batch* b,
                                              ChunkGcReport* rep) override;
  Status Check(Index& ix, ChunkCheckReport* rep) override;
  Status Repair(Index& w, ChunkRepairReport* rep) override;

  // Where ix says chunk c lives; Corruption when its size disagrees,
  // missing(c) when ix lacks it.
  Result<ChunkLoc> Locate(Index& ix, const ChunkRef& c,
                          Status (*missing)(const Digest&));

 private:
  const ChunkStoreOptions opts_;
  const std::string packs_dir_, leases_dir_;
  const Chunker chunker_;
  PackReader packs_;
};

}  // namespace cfs
