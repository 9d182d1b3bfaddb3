// StackLower: store layers merged by a LayerStack; data from chunks.
#include <dirent.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "fs/chunk_cache.h"
#include "fs/chunked_file.h"
#include "fs/lower.h"

namespace cfs {
namespace {

class StackLower : public Lower {
 public:
  StackLower(std::string name, LayerStack stack, ChunkCache* cache, InoMap* inos)
      : name_(std::move(name)), stack_(std::move(stack)), cache_(cache),
        slot_(inos->ReserveStackSlot()) {
    if (stack_.has_hardlinks()) IndexHardlinks();
  }

  std::string Describe() const override { return name_; }

  Result<LowerEntry> Stat(const std::string& path) override {
    LowerEntry e;
    auto node = stack_.FindNode(path);
    if (!node) return e;
    e.kind = LowerEntry::Kind::kEntry;
    LayerStack::Ref ref = stack_.ResolveHardlink(stack_.NodeRef(*node));
    const TocEntry& t = stack_.Entry(ref);
    struct stat& st = e.st;
    st.st_ino = Ino(ref, *node);
    st.st_mode = EntryTypeBits(t.type) | (t.mode & 07777);
    st.st_uid = t.uid;
    st.st_gid = t.gid;
    st.st_nlink = 1;
    if (t.type == EntryType::kDirectory) {
      st.st_nlink = 2;
    } else if (!ref.synthetic()) {
      auto it = groups_.find(Key(ref));
      if (it != groups_.end()) st.st_nlink = it->second.size();
    }
    e.nlink_group = st.st_nlink;
    if (t.type == EntryType::kRegular || t.type == EntryType::kHardlink) st.st_size = t.size;
    if (t.type == EntryType::kSymlink) st.st_size = t.link_target.size();
    if (t.type == EntryType::kChar || t.type == EntryType::kBlock) {
      st.st_rdev = makedev(t.dev_major, t.dev_minor);
    }
    st.st_blksize = 4096;
    st.st_blocks = (st.st_size + 511) / 512;
    st.st_mtim.tv_sec = st.st_atim.tv_sec = st.st_ctim.tv_sec = t.mtime_sec;
    st.st_mtim.tv_nsec = st.st_atim.tv_nsec = st.st_ctim.tv_nsec = t.mtime_nsec;
    return e;
  }

  Status ReadDir(const std::string& path, std::vector<LowerDirEntry>* out) override {
    auto node = stack_.FindNode(path);
    if (!node) return Status::NotFound(path);
    stack_.ForEachChild(*node, [&](std::string_view name, LayerStack::Ref r, uint32_t n) {
      LayerStack::Ref t = stack_.ResolveHardlink(r);
      LowerDirEntry e;
      e.name = std::string(name);
      e.ino = Ino(t, n);
      e.d_type = IFTODT(EntryTypeBits(stack_.Entry(t).type));
      out->push_back(std::move(e));
    });
    return Status::Ok();
  }

  Result<std::string> ReadLink(const std::string& path) override {
    ASSIGN_OR_RETURN(const TocEntry* t, Find(path));
    if (t->type != EntryType::kSymlink) return Status::Invalid(path + ": not a symlink");
    return t->link_target;
  }

  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(
      const std::string& path) override {
    ASSIGN_OR_RETURN(const TocEntry* t, Find(path));
    return t->xattrs;
  }

  Result<std::unique_ptr<LowerFile>> Open(const std::string& path) override {
    auto node = stack_.FindNode(path);
    if (!node) return Status::NotFound(path);
    LayerStack::Ref ref = stack_.ResolveHardlink(stack_.NodeRef(*node));
    const TocEntry& t = stack_.Entry(ref);
    if (ref.synthetic() || t.type != EntryType::kRegular) {
      return Status::Invalid(path + ": not a regular file");
    }
    const auto& chunks = stack_.layer(ref.layer).chunks;
    if (static_cast<uint64_t>(t.first_chunk) + t.num_chunks > chunks.size()) {
      return Status::Corruption(path + ": chunk list out of range");
    }
    std::vector<ChunkRef> cs(chunks.begin() + t.first_chunk,
                             chunks.begin() + t.first_chunk + t.num_chunks);
    return std::unique_ptr<LowerFile>(std::make_unique<ChunkedFile>(cache_, std::move(cs), t.size));
  }

  std::vector<std::string> HardlinkAliases(const std::string& path) override {
    auto node = stack_.FindNode(path);
    if (!node) return {};
    auto it = groups_.find(Key(stack_.ResolveHardlink(stack_.NodeRef(*node))));
    if (it == groups_.end()) return {};
    std::vector<std::string> out;
    for (const auto& p : it->second)
      if (p != path) out.push_back(p);
    return out;
  }

 private:
  static uint64_t Key(LayerStack::Ref r) { return uint64_t{r.layer} << 32 | r.entry; }
  // Real entries: layer << 32 | entry; synthetic dirs: the node number in a
  // range no layer reaches.
  uint64_t Ino(LayerStack::Ref r, uint32_t node) const {
    uint64_t v = r.synthetic() ? (uint64_t{0xFFFFFF} << 32 | node) : Key(r);
    return InoMap::ForStack(slot_, v);
  }
  Result<const TocEntry*> Find(const std::string& path) {
    auto ref = stack_.Lookup(path);
    if (!ref) return Status::NotFound(path);
    return &stack_.Entry(stack_.ResolveHardlink(*ref));
  }
  // Every merged path of each hard-link group (files with nlink > 1).
  void IndexHardlinks() {
    std::unordered_map<uint64_t, std::vector<std::string>> all;
    stack_.Walk([&](const std::string& path, LayerStack::Ref r) {
      if (r.synthetic() || stack_.Entry(r).type == EntryType::kDirectory) return;
      LayerStack::Ref t = stack_.ResolveHardlink(r);
      if (t != r || stack_.Entry(r).type == EntryType::kRegular) all[Key(t)].push_back(path);
    });
    for (auto& [k, paths] : all)
      if (paths.size() > 1) groups_.emplace(k, std::move(paths));
  }

  const std::string name_;
  LayerStack stack_;
  ChunkCache* cache_;
  const uint64_t slot_;
  std::unordered_map<uint64_t, std::vector<std::string>> groups_;  // immutable after ctor
};

}  // namespace

Result<std::unique_ptr<Lower>> OpenStackLower(std::string name, LayerStack stack,
                                              ChunkCache* cache, InoMap* inos) {
  return std::unique_ptr<Lower>(
      std::make_unique<StackLower>(std::move(name), std::move(stack), cache, inos));
}

}  // namespace cfs
