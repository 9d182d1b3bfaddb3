#include "layer/stack_index.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <bit>
#include <cstddef>
#include <cstring>
#include <unordered_map>

#include "base/io.h"

namespace cfs {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the stack index is read in place: little-endian hosts only");

constexpr char kMagic[8] = {'C', 'F', 'S', 'S', 'T', 'K', 'I', 'X'};
constexpr size_t kHeaderSize = 144;
constexpr size_t kCheckOffset = 104;
constexpr size_t kXattrSize = 16;   // name_off, name_len, value_off, value_len (u32)
constexpr size_t kChunkSize = 36;   // digest, u32 size
constexpr size_t kMemberSize = 8;   // path_off, path_len (u32)
constexpr uint64_t kSyntheticHi = 0xFFFFFF;

// The header, as stored (layer/FORMAT_stack_index.md).
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t node_size;
  uint8_t key[32];
  uint64_t file_size;
  uint64_t num_nodes, num_xattrs, num_chunks, num_groups, num_members, strings_size;
  uint8_t check[32];
  uint64_t num_layers;
};
static_assert(sizeof(Header) == kHeaderSize);
static_assert(offsetof(Header, check) == kCheckOffset);

uint64_t RefKey(LayerStack::Ref r) { return uint64_t{r.layer} << 32 | r.entry; }

template <typename T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}
void PutU32(std::string* out, uint64_t v) { Put(out, static_cast<uint32_t>(v)); }
uint32_t GetU32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

Status Corrupt(const std::string& what) {
  return Status::Corruption("stack index: " + what + " (it is rebuilt from the layer TOCs)");
}

// Collects the tables while the nodes are encoded.
class IndexWriter {
 public:
  explicit IndexWriter(const LayerStack& s) : s_(s) {}
  Result<std::string> Encode(const Digest& key);

 private:
  uint32_t AddString(std::string_view s) {
    uint32_t off = static_cast<uint32_t>(strings_.size());
    strings_.append(s);
    return off;
  }
  void IndexGroups();
  void IndexNames();
  size_t ExactSize(uint64_t total_chunks) const;
  Status EncodeNode(uint32_t i, StackIndex::Node* n);
  Status SetData(const TocEntry& e, LayerStack::Ref t, StackIndex::Node* n);

  const LayerStack& s_;
  std::vector<uint64_t> chunk_base_;            // first chunk of each layer
  std::unordered_map<uint64_t, uint32_t> group_of_;  // resolved ref -> group
  std::vector<std::vector<std::string>> groups_;
  std::vector<std::pair<uint32_t, uint32_t>> names_;  // per node
  std::vector<uint32_t> first_child_;
  std::string xattrs_, strings_;
};

// The hard-link groups with more than one merged name, as StackLower had them.
void IndexWriter::IndexGroups() {
  if (!s_.has_hardlinks()) return;
  std::unordered_map<uint64_t, std::vector<std::string>> all;
  s_.Walk([&](const std::string& path, LayerStack::Ref r) {
    if (r.synthetic() || s_.Entry(r).type == EntryType::kDirectory) return;
    LayerStack::Ref t = s_.ResolveHardlink(r);
    if (t != r || s_.Entry(r).type == EntryType::kRegular) all[RefKey(t)].push_back(path);
  });
  for (auto& [k, paths] : all) {
    if (paths.size() < 2) continue;
    group_of_[k] = static_cast<uint32_t>(groups_.size());
    groups_.push_back(std::move(paths));
  }
}

void IndexWriter::IndexNames() {
  names_.assign(s_.size(), {0, 0});
  first_child_.assign(s_.size(), 0);
  for (uint32_t i = 0; i < s_.size(); ++i) {
    bool first = true;
    s_.ForEachChild(i, [&](std::string_view name, LayerStack::Ref, uint32_t c) {
      if (first) first_child_[i] = c;
      first = false;
      names_[c] = {AddString(name), static_cast<uint32_t>(name.size())};
    });
  }
}

// The size of the file: tables of known length, plus what EncodeNode and the
// groups will add to the xattrs and strings.
size_t IndexWriter::ExactSize(uint64_t total_chunks) const {
  size_t xattrs = 0, strings = strings_.size(), members = 0;
  for (uint32_t i = 0; i < s_.size(); ++i) {
    const TocEntry& e = s_.Entry(s_.ResolveHardlink(s_.NodeRef(i)));
    if (e.type == EntryType::kSymlink) strings += e.link_target.size();
    xattrs += e.xattrs.size();
    for (const auto& [k, v] : e.xattrs) strings += k.size() + v.size();
  }
  for (const auto& g : groups_) {
    members += g.size();
    for (const auto& p : g) strings += p.size();
  }
  return kHeaderSize + s_.size() * sizeof(StackIndex::Node) + s_.num_layers() * 32 +
         xattrs * kXattrSize + total_chunks * kChunkSize + (groups_.size() + 1) * 4 +
         members * kMemberSize + strings;
}

Status IndexWriter::SetData(const TocEntry& e, LayerStack::Ref t, StackIndex::Node* n) {
  if (e.type == EntryType::kSymlink) {
    n->size = e.link_target.size();
    n->data = AddString(e.link_target);
    n->data_len = static_cast<uint32_t>(e.link_target.size());
  } else if (e.type == EntryType::kChar || e.type == EntryType::kBlock) {
    n->data = makedev(e.dev_major, e.dev_minor);
  } else if (e.type == EntryType::kRegular || e.type == EntryType::kHardlink) {
    n->size = e.size;
    if (!t.synthetic() && e.type == EntryType::kRegular) {
      if (uint64_t{e.first_chunk} + e.num_chunks > s_.layer(t.layer).chunks.size()) {
        return Status::Corruption("layer " + std::to_string(t.layer) + " entry " +
                                  std::to_string(t.entry) + ": chunk list out of range");
      }
      n->data = chunk_base_[t.layer] + e.first_chunk;
      n->data_len = e.num_chunks;
      n->flags = 1;  // has data: Open() may read it
    }
  }
  return Status::Ok();
}

Status IndexWriter::EncodeNode(uint32_t i, StackIndex::Node* n) {
  *n = StackIndex::Node{};
  LayerStack::Ref t = s_.ResolveHardlink(s_.NodeRef(i));
  const TocEntry& e = s_.Entry(t);
  n->name_off = names_[i].first;
  n->name_len = names_[i].second;
  s_.ForEachChild(i, [&](std::string_view, LayerStack::Ref, uint32_t) { n->num_children++; });
  n->first_child = n->num_children ? first_child_[i] : 0;
  n->ino_key = t.synthetic() ? (kSyntheticHi << 32 | i) : RefKey(t);
  n->mode = EntryTypeBits(e.type) | (e.mode & 07777);
  n->uid = e.uid;
  n->gid = e.gid;
  n->nlink = e.type == EntryType::kDirectory ? 2 : 1;
  if (auto g = group_of_.find(RefKey(t)); !t.synthetic() && g != group_of_.end()) {
    n->group = g->second + 1;
    n->nlink = static_cast<uint32_t>(groups_[g->second].size());
  }
  n->mtime_sec = e.mtime_sec;
  n->mtime_nsec = e.mtime_nsec;
  n->first_xattr = static_cast<uint32_t>(xattrs_.size() / kXattrSize);
  n->num_xattrs = static_cast<uint32_t>(e.xattrs.size());
  for (const auto& [k, v] : e.xattrs) {
    PutU32(&xattrs_, AddString(k));
    PutU32(&xattrs_, k.size());
    PutU32(&xattrs_, AddString(v));
    PutU32(&xattrs_, v.size());
  }
  return SetData(e, t, n);
}

Result<std::string> IndexWriter::Encode(const Digest& key) {
  uint64_t total_chunks = 0;
  for (size_t k = 0; k < s_.num_layers(); ++k) {
    chunk_base_.push_back(total_chunks);
    total_chunks += s_.layer(k).chunks.size();
  }
  IndexGroups();
  IndexNames();
  std::string out(kHeaderSize, '\0');
  const size_t expected = ExactSize(total_chunks);
  out.reserve(expected);  // no reallocation: the nodes alone may be 100 MB
  for (uint32_t i = 0; i < s_.size(); ++i) {
    StackIndex::Node n;
    RETURN_IF_ERROR(EncodeNode(i, &n));
    Put(&out, n);
  }
  for (size_t k = 0; k < s_.num_layers(); ++k) out.append(s_.layer(k).diff_id.Raw());
  out += xattrs_;
  for (size_t k = 0; k < s_.num_layers(); ++k) {
    for (const ChunkRef& c : s_.layer(k).chunks) {
      out.append(c.digest.Raw());
      Put(&out, c.size);
    }
  }
  uint64_t members = 0;
  for (const auto& g : groups_) {
    PutU32(&out, members);
    members += g.size();
  }
  PutU32(&out, members);
  for (const auto& g : groups_) {
    for (const auto& p : g) {
      PutU32(&out, AddString(p));
      PutU32(&out, p.size());
    }
  }
  if (strings_.size() >= UINT32_MAX || members >= UINT32_MAX) {
    return Status::Invalid("stack index: tables over 4 GiB; the stack is mounted from its TOCs");
  }
  out += strings_;
  const uint64_t strings_size = strings_.size();
  std::string().swap(strings_);
  if (out.size() != expected) {
    return Status::Corruption("stack index: wrote " + std::to_string(out.size()) +
                              " bytes, sized " + std::to_string(expected) + " (a bug)");
  }
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof(kMagic));
  h.version = StackIndex::kVersion;
  h.node_size = sizeof(StackIndex::Node);
  std::memcpy(h.key, key.bytes.data(), 32);
  h.file_size = out.size();
  h.num_nodes = s_.size();
  h.num_xattrs = xattrs_.size() / kXattrSize;
  h.num_chunks = total_chunks;
  h.num_groups = groups_.size();
  h.num_members = members;
  h.strings_size = strings_size;
  h.num_layers = s_.num_layers();
  std::memcpy(out.data(), &h, sizeof(h));
  Digest check = Digest::Of(out);  // with the check field still zero
  std::memcpy(out.data() + kCheckOffset, check.bytes.data(), 32);
  return out;
}

// SHA-256 of the file at fd (size bytes) with the check field taken as zero,
// read with pread so the pages never enter the process's RSS.
Result<Digest> HashFile(int fd, uint64_t size) {
  Sha256 sha;
  std::string buf(1 << 20, '\0');
  for (uint64_t off = 0; off < size;) {
    size_t n = std::min<uint64_t>(buf.size(), size - off);
    RETURN_IF_ERROR(PreadAll(fd, buf.data(), n, off));
    if (off == 0) std::memset(buf.data() + kCheckOffset, 0, 32);
    sha.Update(buf.data(), n);
    off += n;
  }
  return sha.Finish();
}

}  // namespace

Result<std::string> StackIndex::Encode(const LayerStack& stack, const Digest& key) {
  return IndexWriter(stack).Encode(key);
}

void StackIndex::DropPages() const {
  if (mapped_) (void)::madvise(const_cast<char*>(base_), size_, MADV_DONTNEED);
}

StackIndex::~StackIndex() {
  if (mapped_) ::munmap(const_cast<char*>(base_), size_);
}

// Checks the file open at fd against its header and checksum; its size.
Result<uint64_t> StackIndex::CheckFile(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::IOError(path);
  if (static_cast<uint64_t>(st.st_size) < kHeaderSize) return Corrupt(path + ": truncated");
  Header h;
  RETURN_IF_ERROR(PreadAll(fd, &h, sizeof(h), 0));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return Corrupt(path + ": bad magic");
  if (h.version != kVersion) return Corrupt(path + ": version " + std::to_string(h.version));
  if (h.file_size != static_cast<uint64_t>(st.st_size)) return Corrupt(path + ": truncated");
  ASSIGN_OR_RETURN(Digest sum, HashFile(fd, h.file_size));
  if (std::memcmp(sum.bytes.data(), h.check, 32) != 0) return Corrupt(path + ": checksum mismatch");
  return h.file_size;
}

Status StackIndex::Verify(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::IOError(path);
  return CheckFile(fd.get(), path).status();
}

Result<std::shared_ptr<const StackIndex>> StackIndex::Open(const std::string& path,
                                                          const Digest& expected_key) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Status::NotFound(path + ": no stack index");
    return Status::IOError(path);
  }
  ASSIGN_OR_RETURN(uint64_t size, CheckFile(fd.get(), path));
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return Status::IOError(path + ": mmap");
  auto ix = std::shared_ptr<StackIndex>(new StackIndex);
  ix->base_ = static_cast<const char*>(p);
  ix->size_ = size;
  ix->mapped_ = true;
  return Init(std::move(ix), expected_key);
}

Result<std::shared_ptr<const StackIndex>> StackIndex::FromBytes(std::string bytes,
                                                               const Digest& expected_key) {
  auto ix = std::shared_ptr<StackIndex>(new StackIndex);
  ix->owned_ = std::move(bytes);
  ix->base_ = ix->owned_.data();
  ix->size_ = ix->owned_.size();
  if (ix->size_ < kHeaderSize) return Corrupt("truncated");
  std::string copy(ix->base_, ix->size_);
  std::memset(copy.data() + kCheckOffset, 0, 32);
  Digest sum = Digest::Of(copy);
  if (std::memcmp(sum.bytes.data(), ix->base_ + kCheckOffset, 32) != 0) {
    return Corrupt("checksum mismatch");
  }
  return Init(std::move(ix), expected_key);
}

// Lays the tables over the bytes; REQUIRES: the checksum was verified.
Result<std::shared_ptr<const StackIndex>> StackIndex::Init(std::shared_ptr<StackIndex> ix,
                                                          const Digest& expected_key) {
  Header h;
  std::memcpy(&h, ix->base_, sizeof(h));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0) return Corrupt("bad magic");
  if (h.version != kVersion || h.node_size != sizeof(Node)) {
    return Corrupt("version " + std::to_string(h.version));
  }
  if (std::memcmp(h.key, expected_key.bytes.data(), 32) != 0) {
    return Corrupt("built from other layers (stale)");
  }
  const uint64_t kMax = uint64_t{1} << 40;
  if (h.num_nodes == 0 || h.num_nodes > kMax || h.num_xattrs > kMax || h.num_chunks > kMax ||
      h.num_groups > kMax || h.num_members > kMax || h.strings_size > kMax ||
      h.num_layers > kMax) {
    return Corrupt("table size out of range");
  }
  uint64_t off = kHeaderSize;
  auto section = [&](uint64_t n, uint64_t each) {
    const char* p = ix->base_ + std::min<uint64_t>(off, ix->size_);
    off += n * each;
    return p;
  };
  ix->nodes_ = reinterpret_cast<const Node*>(section(h.num_nodes, sizeof(Node)));
  section(h.num_layers, 32);
  ix->xattrs_ = section(h.num_xattrs, kXattrSize);
  ix->chunks_ = section(h.num_chunks, kChunkSize);
  ix->groups_ = section(h.num_groups + 1, 4);
  ix->members_ = section(h.num_members, kMemberSize);
  ix->strings_ = section(h.strings_size, 1);
  if (off != h.file_size || off != ix->size_) return Corrupt("tables do not fill the file");
  ix->num_nodes_ = h.num_nodes;
  ix->num_xattrs_ = h.num_xattrs;
  ix->num_chunks_ = h.num_chunks;
  ix->num_groups_ = h.num_groups;
  ix->num_members_ = h.num_members;
  ix->strings_size_ = h.strings_size;
  return std::shared_ptr<const StackIndex>(std::move(ix));
}

Result<std::vector<Digest>> StackIndex::ReadLayers(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::IOError(path);
  Header h;
  RETURN_IF_ERROR(PreadAll(fd.get(), &h, sizeof(h), 0));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0 || h.version != kVersion ||
      h.node_size != sizeof(Node) || h.num_layers > 4096 || h.num_nodes > (uint64_t{1} << 40)) {
    return Corrupt(path + ": bad header");
  }
  std::string raw(h.num_layers * 32, '\0');
  RETURN_IF_ERROR(PreadAll(fd.get(), raw.data(), raw.size(), kHeaderSize + h.num_nodes * sizeof(Node)));
  std::vector<Digest> out;
  for (size_t i = 0; i < h.num_layers; ++i) out.push_back(Digest::FromRaw(raw.substr(i * 32, 32)));
  return out;
}

Result<std::string_view> StackIndex::String(uint64_t off, uint64_t len) const {
  if (off > strings_size_ || len > strings_size_ - off) return Corrupt("string out of range");
  return std::string_view(strings_ + off, len);
}

Status StackIndex::CheckChildren(const Node& n) const {
  if (uint64_t{n.first_child} + n.num_children > num_nodes_) return Corrupt("child out of range");
  return Status::Ok();
}

Result<std::optional<uint32_t>> StackIndex::Find(std::string_view path) const {
  uint32_t cur = 0;
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view comp = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
    if (comp.empty() || comp == ".") continue;
    const Node& n = nodes_[cur];
    RETURN_IF_ERROR(CheckChildren(n));
    uint32_t lo = n.first_child, hi = n.first_child + n.num_children;
    while (lo < hi) {  // first child whose name is >= comp
      uint32_t mid = lo + (hi - lo) / 2;
      ASSIGN_OR_RETURN(std::string_view name, Name(nodes_[mid]));
      if (name < comp) lo = mid + 1; else hi = mid;
    }
    if (lo == n.first_child + n.num_children) return std::optional<uint32_t>();
    ASSIGN_OR_RETURN(std::string_view name, Name(nodes_[lo]));
    if (name != comp) return std::optional<uint32_t>();
    cur = lo;
  }
  return std::optional<uint32_t>(cur);
}

Result<std::string_view> StackIndex::LinkTarget(const Node& n) const {
  if ((n.mode & S_IFMT) != S_IFLNK) return Status::Invalid("not a symlink");
  return String(n.data, n.data_len);
}

Result<std::vector<std::pair<std::string, std::string>>> StackIndex::Xattrs(const Node& n) const {
  if (uint64_t{n.first_xattr} + n.num_xattrs > num_xattrs_) return Corrupt("xattr out of range");
  std::vector<std::pair<std::string, std::string>> out;
  for (uint32_t i = n.first_xattr; i < n.first_xattr + n.num_xattrs; ++i) {
    const char* p = xattrs_ + uint64_t{i} * kXattrSize;
    ASSIGN_OR_RETURN(std::string_view k, String(GetU32(p), GetU32(p + 4)));
    ASSIGN_OR_RETURN(std::string_view v, String(GetU32(p + 8), GetU32(p + 12)));
    out.emplace_back(std::string(k), std::string(v));
  }
  return out;
}

Result<std::vector<ChunkRef>> StackIndex::Chunks(const Node& n) const {
  if (n.flags != 1) return Status::Invalid("not a regular file with data");
  if (n.data > num_chunks_ || n.data_len > num_chunks_ - n.data) return Corrupt("chunk out of range");
  std::vector<ChunkRef> out(n.data_len);
  for (uint32_t i = 0; i < n.data_len; ++i) {
    const char* p = chunks_ + (n.data + i) * kChunkSize;
    out[i].digest = Digest::FromRaw(std::string_view(p, 32));
    out[i].size = GetU32(p + 32);
  }
  return out;
}

Result<std::vector<std::string>> StackIndex::GroupPaths(const Node& n) const {
  if (n.group == 0) return std::vector<std::string>();
  if (n.group > num_groups_) return Corrupt("hard-link group out of range");
  uint32_t first = GetU32(groups_ + uint64_t{n.group - 1} * 4);
  uint32_t end = GetU32(groups_ + uint64_t{n.group} * 4);
  if (first > end || end > num_members_) return Corrupt("hard-link group out of range");
  std::vector<std::string> out;
  for (uint32_t i = first; i < end; ++i) {
    const char* p = members_ + uint64_t{i} * kMemberSize;
    ASSIGN_OR_RETURN(std::string_view s, String(GetU32(p), GetU32(p + 4)));
    out.emplace_back(s);
  }
  return out;
}

}  // namespace cfs
