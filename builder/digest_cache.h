// The content-digest cache of cimg build: the SHA-256 of a build context
// file, reused while the file's identity -- st_dev, st_ino, st_size, st_mtim
// and st_ctim, nanoseconds included -- is what it was when the file was
// hashed, as git's index and BuildKit's content hash cache do. An unchanged
// rebuild then lstat()s the context instead of reading it.
//
// Why the identity is enough: a write changes mtime and ctime; utimensat
// (touch -r) restores mtime but sets ctime to now, and nothing lets a user
// set ctime; a file replaced by another (rename, cp over a deleted one) has
// another inode or ctime. What is left is git's "racy clean" case: a file
// written again within the filesystem's timestamp granularity right after
// it was hashed keeps its identity with other bytes. So a record is written,
// and trusted, only when the file's mtime and ctime are at least
// kRacyMarginMicros older than the moment its hashing began (the Env's
// clock): a file that young is hashed every time until it has aged.
//
// Record (the store's "f" + the file's absolute path, Store::
// GetDigestRecords; little-endian, DigestRecord::Encode):
//   u64 last_used      unix seconds: the store's part (gc prunes records
//                      unused for Store::kDigestRecordMaxAgeDays by it)
//   u8  version        1
//   u64 dev, ino, size
//   i64 mtime_sec, u32 mtime_nsec, i64 ctime_sec, u32 ctime_nsec
//   i64 hashed_at_us   when the hashing began (microseconds since the epoch)
//   u8[32] sha256      of the contents
//   u8[8] check        the first 8 bytes of SHA-256("cimg-digest-record-v1\n"
//                      + path + "\n" + the bytes from version to sha256)
// A record that does not decode (length, version, check) or belongs to
// another path is ignored: the file is hashed again and the record replaced.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/env.h"
#include "base/file_identity.h"
#include "base/status.h"
#include "store/store.h"

namespace cfs::builder {

// A file's mtime and ctime must be this much older than the start of its
// hashing for its digest to be recorded or trusted (git: racy clean; FAT's
// mtime has a 2 s granularity).
inline constexpr int64_t kRacyMarginMicros = 2'000'000;

struct DigestRecord {
  FileIdentity id;
  int64_t hashed_at_us = 0;
  Digest sha256;
  uint64_t last_used = 0;  // unix seconds

  // The value stored for the file at path (format above).
  std::string Encode(const std::string& path) const;
  // nullopt when value is not a valid record of path.
  static std::optional<DigestRecord> Decode(const std::string& path, std::string_view value);
  // True when the record may stand for a file with identity now: the same
  // identity, and not racy (its times older than the hashing by the margin).
  bool Trusted(const FileIdentity& now) const;
};

// A regular file's contents digest and size.
struct FileDigest {
  Digest sha256;
  uint64_t size = 0;
};

// Reads and hashes the regular file path (never following a symlink); *id
// (when given) receives the identity of what was read, as fstat saw it
// before reading.
Result<FileDigest> HashFile(const std::string& path, FileIdentity* id = nullptr);

// Files hashed and files whose digest came from a record.
struct DigestCacheStats {
  uint64_t hashed = 0, cached = 0;
};

class DigestCache {
 public:
  // env: the clock (NowMicros). trust false (cimg build --no-cache): no
  // record is used, every file is hashed, and the records are written anew.
  DigestCache(Store& store, Env* env, bool trust) : store_(store), env_(env), trust_(trust) {}

  struct File {
    std::string path;       // absolute: the record's key
    struct stat st;         // its lstat (a regular file)
    bool uncached = false;  // hashed, never looked up nor recorded (a download)
  };
  // The files' digests, in order: from their records where Trusted, else
  // read and hashed, and recorded when not racy. Records that cannot be read
  // or written cost a re-hash, never the build (a warning is logged).
  // Thread-safe; stats (may be null) counts this call's files.
  Result<std::vector<FileDigest>> Digests(const std::vector<File>& files, DigestCacheStats* stats);

 private:
  // The trusted records' digests (nullopt: hash the file); *refresh gets the
  // records to write back with a new last_used.
  std::vector<std::optional<FileDigest>> Lookup(
      const std::vector<File>& files, std::vector<std::pair<std::string, std::string>>* refresh);

  Store& store_;
  Env* const env_;
  const bool trust_;
};

}  // namespace cfs::builder
