// The digest cache records of cimg build ("f" + path; builder/digest_cache.h
// owns their format after the first 8 bytes). Store::Gc prunes them
// (PruneDigestRecords, store_impl.h).
#include "base/coding.h"
#include "store_impl.h"

namespace cfs {

Result<std::vector<std::optional<std::string>>> Store::GetDigestRecords(
    const std::vector<std::string>& keys) {
  if (keys.empty()) return std::vector<std::optional<std::string>>{};
  std::vector<std::string> k;
  k.reserve(keys.size());
  for (const auto& p : keys) k.push_back(key::DigestRecord(p));
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  return ix->MultiGet(k);
}

Status Store::PutDigestRecords(const std::vector<std::pair<std::string, std::string>>& records) {
  if (records.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  Index::Batch b;
  for (const auto& [k, v] : records) b.Put(key::DigestRecord(k), v);
  return w->Write(b);
}

Status PruneDigestRecords(Index& ix, uint64_t now_s, Index::Batch* b, uint64_t* removed) {
  const uint64_t max_age = uint64_t{86400} * Store::kDigestRecordMaxAgeDays;
  return ix.Scan(key::kDigestRecordPrefix, [&](std::string_view k, std::string_view v) {
    bool stale = v.size() < 8;
    if (!stale) {
      uint64_t used = DecodeFixed64(v.data());
      stale = used + max_age < now_s;
    }
    if (stale) {
      b->Delete(std::string(k));
      (*removed)++;
    }
    return true;
  });
}

}  // namespace cfs
