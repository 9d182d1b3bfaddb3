// IndexLower: store layers merged into a mapped StackIndex; data from chunks.
// Serves exactly what StackLower serves for the same stack (same st_ino,
// nlink, aliases), but looks paths up in the mapped file instead of a heap
// tree, so a mount of a million files holds only what the kernel asks for.
#include <dirent.h>
#include <sys/stat.h>

#include <atomic>

#include "fs/chunk_cache.h"
#include "fs/chunked_file.h"
#include "fs/lower.h"

namespace cfs {
namespace {

class IndexLower : public Lower {
 public:
  IndexLower(std::string name, std::shared_ptr<const StackIndex> index, ChunkCache* cache,
             InoMap* inos)
      : name_(std::move(name)), ix_(std::move(index)), cache_(cache),
        slot_(inos->ReserveStackSlot()) {}

  std::string Describe() const override { return name_; }

  Result<LowerEntry> Stat(const std::string& path) override {
    Touch();
    LowerEntry e;
    ASSIGN_OR_RETURN(auto node, ix_->Find(path));
    if (!node) return e;
    const StackIndex::Node& n = ix_->node(*node);
    e.kind = LowerEntry::Kind::kEntry;
    struct stat& st = e.st;
    st.st_ino = InoMap::ForStack(slot_, n.ino_key);
    st.st_mode = n.mode;
    st.st_uid = n.uid;
    st.st_gid = n.gid;
    st.st_nlink = n.nlink;
    e.nlink_group = n.nlink;
    st.st_size = static_cast<off_t>(n.size);
    if (S_ISCHR(n.mode) || S_ISBLK(n.mode)) st.st_rdev = n.data;
    st.st_blksize = 4096;
    st.st_blocks = (st.st_size + 511) / 512;
    st.st_mtim.tv_sec = st.st_atim.tv_sec = st.st_ctim.tv_sec = n.mtime_sec;
    st.st_mtim.tv_nsec = st.st_atim.tv_nsec = st.st_ctim.tv_nsec = n.mtime_nsec;
    return e;
  }

  Status ReadDir(const std::string& path, std::vector<LowerDirEntry>* out) override {
    Touch();
    ASSIGN_OR_RETURN(auto node, ix_->Find(path));
    if (!node) return Status::NotFound(path);
    const StackIndex::Node& n = ix_->node(*node);
    RETURN_IF_ERROR(ix_->CheckChildren(n));
    out->reserve(out->size() + n.num_children);
    for (uint32_t i = n.first_child; i < n.first_child + n.num_children; ++i) {
      const StackIndex::Node& c = ix_->node(i);
      ASSIGN_OR_RETURN(std::string_view name, ix_->Name(c));
      LowerDirEntry e;
      e.name = std::string(name);
      e.ino = InoMap::ForStack(slot_, c.ino_key);
      e.d_type = IFTODT(c.mode);
      out->push_back(std::move(e));
    }
    return Status::Ok();
  }

  Result<std::string> ReadLink(const std::string& path) override {
    ASSIGN_OR_RETURN(const StackIndex::Node* n, Find(path));
    auto target = ix_->LinkTarget(*n);
    if (!target.ok()) return target.status().Prefix(path);
    return std::string(*target);
  }

  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(
      const std::string& path) override {
    ASSIGN_OR_RETURN(const StackIndex::Node* n, Find(path));
    return ix_->Xattrs(*n);
  }

  Result<std::unique_ptr<LowerFile>> Open(const std::string& path) override {
    ASSIGN_OR_RETURN(const StackIndex::Node* n, Find(path));
    if (!S_ISREG(n->mode) || n->flags != 1) {
      return Status::Invalid(path + ": not a regular file");
    }
    auto chunks = ix_->Chunks(*n);
    if (!chunks.ok()) return chunks.status().Prefix(path);
    return std::unique_ptr<LowerFile>(
        std::make_unique<ChunkedFile>(cache_, std::move(*chunks), n->size));
  }

  std::vector<std::string> HardlinkAliases(const std::string& path) override {
    auto n = Find(path);
    if (!n.ok()) return {};
    auto paths = ix_->GroupPaths(**n);
    if (!paths.ok()) return {};
    std::vector<std::string> out;
    for (auto& p : *paths)
      if (p != path) out.push_back(std::move(p));
    return out;
  }

 private:
  // Every kDropEvery lookups and listings, the index's pages leave the RSS
  // (a walk of a million files would otherwise map in all of it).
  static constexpr uint64_t kDropEvery = 1 << 15;
  void Touch() {
    if (ops_.fetch_add(1, std::memory_order_relaxed) % kDropEvery == kDropEvery - 1) ix_->DropPages();
  }

  Result<const StackIndex::Node*> Find(const std::string& path) const {
    ASSIGN_OR_RETURN(auto node, ix_->Find(path));
    if (!node) return Status::NotFound(path);
    return &ix_->node(*node);
  }

  const std::string name_;
  const std::shared_ptr<const StackIndex> ix_;
  ChunkCache* cache_;
  const uint64_t slot_;
  std::atomic<uint64_t> ops_{0};
};

}  // namespace

Result<std::unique_ptr<Lower>> OpenIndexLower(std::string name,
                                              std::shared_ptr<const StackIndex> index,
                                              ChunkCache* cache, InoMap* inos) {
  return std::unique_ptr<Lower>(
      std::make_unique<IndexLower>(std::move(name), std::move(index), cache, inos));
}

}  // namespace cfs
