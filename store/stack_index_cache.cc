// The mount's stack index files under ROOT/stack-index (store/image_stack.h).
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/io.h"
#include "store/image_stack.h"

namespace cfs {
namespace {

constexpr char kDir[] = "/stack-index";
constexpr char kSuffix[] = ".idx";

// Builds the index from the TOCs. The stack (the TOCs in the heap) is gone
// when this returns; only the encoded bytes remain.
Result<std::string> BuildIndexBytes(Store& store, const std::vector<Digest>& diff_ids,
                                    const Digest& key) {
  ASSIGN_OR_RETURN(LayerStack stack, OpenLayerStack(store, diff_ids));
  stack.DropEntryNames();  // the stack keeps its own copy of every name
  return StackIndex::Encode(stack, key);
}

}  // namespace

Result<Digest> StackIndexKey(Store& store, const std::vector<Digest>& diff_ids) {
  Sha256 sha;
  sha.Update("cfs stack index v" + std::to_string(StackIndex::kVersion) + "\n");
  for (const Digest& d : diff_ids) {
    ASSIGN_OR_RETURN(Digest record, store.LayerTocRecordDigest(d));
    sha.Update(d.Raw());
    sha.Update(record.Raw());
  }
  return sha.Finish();
}

std::string StackIndexPath(const Store& store, const Digest& key) {
  return store.root() + kDir + "/" + key.Hex() + kSuffix;
}

Result<std::shared_ptr<const StackIndex>> OpenStackIndex(Store& store,
                                                         const std::vector<Digest>& diff_ids,
                                                         bool* built) {
  *built = false;
  ASSIGN_OR_RETURN(Digest key, StackIndexKey(store, diff_ids));
  const std::string path = StackIndexPath(store, key);
  auto ix = StackIndex::Open(path, key);
  if (ix.ok()) return ix;
  // Absent, damaged, stale or unreadable: the TOCs decide.
  *built = true;
  ASSIGN_OR_RETURN(std::string bytes, BuildIndexBytes(store, diff_ids, key));
  Status written = MakeDirs(store.root() + kDir);
  if (written.ok()) written = WriteFileAtomic(path, bytes);
  if (written.ok()) {
    std::string().swap(bytes);
    return StackIndex::Open(path, key);
  }
  return StackIndex::FromBytes(std::move(bytes), key);
}

Result<ImageIndex> OpenImageIndex(Store& store, const std::vector<Digest>& diff_ids) {
  ImageIndex out;
  ASSIGN_OR_RETURN(out.lease, store.TakeLease(diff_ids));
  ASSIGN_OR_RETURN(out.index, OpenStackIndex(store, diff_ids, &out.built));
  return out;
}

namespace {

// An index another process is writing now (AtomicFileSink's
// NAME.tmp.PID.RANDOM, renamed when done): left to it while PID lives.
bool BeingWritten(const std::string& name) {
  size_t at = name.find(".tmp.");
  if (at == std::string::npos) return false;
  char* end = nullptr;
  long pid = std::strtol(name.c_str() + at + 5, &end, 10);
  if (pid <= 0 || end == nullptr || *end != '.') return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

}  // namespace

Result<uint64_t> RemoveStaleStackIndexes(const std::string& root,
                                         const std::function<bool(const Digest&)>& kept) {
  const std::string dir = root + kDir;
  if (!PathExists(dir)) return uint64_t{0};
  ASSIGN_OR_RETURN(auto names, ListDir(dir));
  uint64_t removed = 0;
  for (const auto& n : names) {
    const std::string path = dir + "/" + n;
    bool keep = n.size() > sizeof(kSuffix) && n.ends_with(kSuffix);
    if (keep) {
      auto layers = StackIndex::ReadLayers(path);
      keep = layers.ok() && StackIndex::Verify(path).ok();
      for (size_t i = 0; keep && i < layers->size(); ++i) keep = kept((*layers)[i]);
    }
    if (keep || BeingWritten(n)) continue;
    if (std::remove(path.c_str()) != 0) {
      if (errno == ENOENT) continue;  // its writer renamed or removed it meanwhile
      return Status::IOError("remove " + path);
    }
    ++removed;
  }
  return removed;
}

Status CheckStackIndexes(const std::string& root, std::vector<std::string>* problems) {
  const std::string dir = root + kDir;
  if (!PathExists(dir)) return Status::Ok();
  ASSIGN_OR_RETURN(auto names, ListDir(dir, kSuffix));
  for (const auto& n : names) {
    Status s = StackIndex::Verify(dir + "/" + n);
    if (!s.ok()) problems->push_back(s.message() + "; cimg gc removes it");
  }
  return Status::Ok();
}

}  // namespace cfs
