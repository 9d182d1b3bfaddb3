#include "builder/digest_cache.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "base/coding.h"
#include "base/io.h"
#include "base/log.h"

namespace cfs::builder {

namespace {

constexpr uint8_t kRecordVersion = 1;
// version, dev, ino, size, mtime, ctime, hashed_at, sha256.
constexpr size_t kPayloadSize = 1 + 8 * 3 + (8 + 4) * 2 + 8 + 32;
constexpr size_t kCheckSize = 8;
constexpr size_t kRecordSize = 8 + kPayloadSize + kCheckSize;
// A record used again is rewritten (for gc's age) at most once a day.
constexpr uint64_t kRefreshSeconds = 86400;

std::string Check(const std::string& path, std::string_view payload) {
  Sha256 h;
  h.Update("cimg-digest-record-v1\n" + path + "\n");
  h.Update(payload);
  return std::string(h.Finish().Raw().substr(0, kCheckSize));
}

std::string WithLastUsed(std::string_view record, uint64_t last_used) {
  std::string out;
  PutFixed64(&out, last_used);
  out.append(record.substr(8));
  return out;
}

}  // namespace

std::string DigestRecord::Encode(const std::string& path) const {
  std::string payload;
  payload.push_back(static_cast<char>(kRecordVersion));
  PutFixed64(&payload, id.dev);
  PutFixed64(&payload, id.ino);
  PutFixed64(&payload, id.size);
  PutFixed64(&payload, static_cast<uint64_t>(id.mtime_sec));
  PutFixed32(&payload, id.mtime_nsec);
  PutFixed64(&payload, static_cast<uint64_t>(id.ctime_sec));
  PutFixed32(&payload, id.ctime_nsec);
  PutFixed64(&payload, static_cast<uint64_t>(hashed_at_us));
  payload.append(sha256.Raw());
  std::string out;
  PutFixed64(&out, last_used);
  out += payload;
  out += Check(path, payload);
  return out;
}

std::optional<DigestRecord> DigestRecord::Decode(const std::string& path, std::string_view v) {
  if (v.size() != kRecordSize) return std::nullopt;
  std::string_view payload = v.substr(8, kPayloadSize);
  if (static_cast<uint8_t>(payload[0]) != kRecordVersion) return std::nullopt;
  if (v.substr(8 + kPayloadSize) != Check(path, payload)) return std::nullopt;
  DigestRecord r;
  r.last_used = DecodeFixed64(v.data());
  const char* p = payload.data() + 1;
  auto u64 = [&p] {
    uint64_t x = DecodeFixed64(p);
    p += 8;
    return x;
  };
  auto u32 = [&p] {
    uint32_t x = DecodeFixed32(p);
    p += 4;
    return x;
  };
  r.id.dev = u64();
  r.id.ino = u64();
  r.id.size = u64();
  r.id.mtime_sec = static_cast<int64_t>(u64());
  r.id.mtime_nsec = u32();
  r.id.ctime_sec = static_cast<int64_t>(u64());
  r.id.ctime_nsec = u32();
  r.hashed_at_us = static_cast<int64_t>(u64());
  r.sha256 = Digest::FromRaw(std::string_view(p, 32));
  return r;
}

bool DigestRecord::Trusted(const FileIdentity& now) const {
  return id == now && id.NewestMicros() + kRacyMarginMicros <= hashed_at_us;
}

Result<FileDigest> HashFile(const std::string& path, FileIdentity* id) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return Status::IOError(path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::IOError(path);
  if (id) *id = FileIdentity::Of(st);
  Sha256 h;
  FileDigest out;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::IOError(path);
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
    out.size += static_cast<uint64_t>(n);
  }
  out.sha256 = h.Finish();
  return out;
}

std::vector<std::optional<FileDigest>> DigestCache::Lookup(
    const std::vector<File>& files, std::vector<std::pair<std::string, std::string>>* refresh) {
  std::vector<std::optional<FileDigest>> out(files.size());
  if (!trust_) return out;
  std::vector<std::string> keys;
  std::vector<size_t> where;
  for (size_t i = 0; i < files.size(); i++)
    if (!files[i].uncached) {
      keys.push_back(files[i].path);
      where.push_back(i);
    }
  auto values = store_.GetDigestRecords(keys);
  if (!values.ok()) {
    LogWarn("build digest cache: " + values.status().ToString() + " (the context is hashed)");
    return out;
  }
  const uint64_t now_s = env_->NowMicros() / 1'000'000;
  for (size_t j = 0; j < keys.size(); j++) {
    if (!(*values)[j]) continue;
    const File& f = files[where[j]];
    auto rec = DigestRecord::Decode(f.path, *(*values)[j]);
    if (!rec || !rec->Trusted(FileIdentity::Of(f.st))) continue;
    out[where[j]] = FileDigest{rec->sha256, rec->id.size};
    if (rec->last_used + kRefreshSeconds < now_s)
      refresh->emplace_back(f.path, WithLastUsed(*(*values)[j], now_s));
  }
  return out;
}

Result<std::vector<FileDigest>> DigestCache::Digests(const std::vector<File>& files,
                                                     DigestCacheStats* stats) {
  std::vector<std::pair<std::string, std::string>> writes;
  auto found = Lookup(files, &writes);
  std::vector<FileDigest> out(files.size());
  for (size_t i = 0; i < files.size(); i++) {
    if (found[i]) {
      out[i] = *found[i];
      if (stats) stats->cached++;
      continue;
    }
    DigestRecord rec;
    rec.hashed_at_us = static_cast<int64_t>(env_->NowMicros());
    ASSIGN_OR_RETURN(out[i], HashFile(files[i].path, &rec.id));
    if (stats) stats->hashed++;
    // Record only what was read whole from the file the walk saw, and old
    // enough not to be racy.
    const FileIdentity seen = FileIdentity::Of(files[i].st);
    if (files[i].uncached || rec.id.dev != seen.dev || rec.id.ino != seen.ino ||
        rec.id.size != out[i].size || !rec.Trusted(rec.id))
      continue;
    rec.sha256 = out[i].sha256;
    rec.last_used = static_cast<uint64_t>(rec.hashed_at_us / 1'000'000);
    writes.emplace_back(files[i].path, rec.Encode(files[i].path));
  }
  Status put = store_.PutDigestRecords(writes);
  if (!put.ok()) LogWarn("build digest cache: " + put.ToString() + " (records not kept)");
  return out;
}

}  // namespace cfs::builder
