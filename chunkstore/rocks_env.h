// The RocksDB side of the Env seam (private to chunkstore/): a rocksdb::Env whose
// file system creates, writes, syncs, renames and removes files through our
// Env, and whose clock (time, pauses) is our Env's, so a test Env
// (store/testing/fault_injection_env.h) sees the index's writes and syncs
// beside the packs'. Reads go to RocksDB's own POSIX file system: the bytes
// are really on the files.
// Index uses it only when the store's Env is not Env::Default(); with the
// default Env RocksDB runs exactly as before (its own POSIX I/O).
#pragma once

#include <memory>

#include "base/env.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace cfs {

// REQUIRES: env outlives the returned Env and every DB opened with it.
std::unique_ptr<rocksdb::Env> NewRocksEnv(Env* env);

}  // namespace cfs
