// Planning chunk-level updates of big files (rootfs_patch.h).
#include "deploy/rootfs_patch.h"

#include <cstdio>
#include <optional>
#include <set>
#include <unordered_map>

namespace cfs::deploy {

namespace {

// The host script reads the path as the rest of a line (read -r), which
// drops spaces at its ends.
bool PatchablePath(const std::string& p) {
  return p.find_first_of("\t\n\\") == std::string::npos && p.front() != ' ' && p.back() != ' ';
}

// The chunks of entry e's data, or nothing when e is not a file the
// patching may touch (rendered, small, xattrs, synthetic).
const TocEntry* PatchableFile(const LayerStack& stack, const RootfsEntry& e,
                              const std::set<std::string>& linked) {
  if (e.type != 'f' || e.rendered >= 0 || e.size < kPatchMinSize || !PatchablePath(e.path) ||
      linked.count(e.path))
    return nullptr;
  LayerStack::Ref data = stack.ResolveHardlink(e.ref);
  if (data.synthetic() || !(data == e.ref)) return nullptr;  // a hard link's data
  const TocEntry& te = stack.Entry(data);
  if (!te.xattrs.empty() || te.type != EntryType::kRegular) return nullptr;
  return &te;
}

// Paths that share their data with a hard link (either end): renaming a
// new file over them would split the link.
std::set<std::string> LinkedPaths(const LayerStack& stack, const RootfsPlan& plan) {
  std::set<std::string> out;
  for (const auto& e : plan.entries) {
    if (e.type != 'h') continue;
    out.insert(e.path);
    out.insert(stack.Entry(e.ref).link_target);
  }
  return out;
}

std::vector<ChunkRef> FileChunks(const LayerStack& stack, const RootfsEntry& e, const TocEntry& te) {
  const LayerToc& toc = stack.layer(e.ref.layer);
  return {toc.chunks.begin() + te.first_chunk, toc.chunks.begin() + te.first_chunk + te.num_chunks};
}

void AddRange(std::vector<FilePatch::Range>* ranges, bool from_old, uint64_t off, uint64_t len) {
  if (!ranges->empty()) {
    FilePatch::Range& last = ranges->back();
    if (last.from_old == from_old && last.offset + last.length == off) {
      last.length += len;
      return;
    }
  }
  ranges->push_back({from_old, off, len});
}

// The patch of a file whose old copy has chunk list `old`; nullopt when it
// is not worth it.
std::optional<FilePatch> PatchOf(size_t entry, const std::vector<ChunkRef>& now,
                                 const std::vector<ChunkRef>& old, uint64_t size) {
  std::unordered_map<Digest, uint64_t, DigestHash> in_old;  // chunk -> offset in the old file
  uint64_t off = 0;
  for (const auto& c : old) {
    in_old.emplace(c.digest, off);
    off += c.size;
  }
  FilePatch p;
  p.entry = entry;
  std::unordered_map<Digest, uint64_t, DigestHash> in_data;  // chunk -> offset in the data
  for (uint32_t i = 0; i < now.size(); i++) {
    const ChunkRef& c = now[i];
    if (auto it = in_old.find(c.digest); it != in_old.end()) {
      AddRange(&p.ranges, true, it->second, c.size);
    } else if (auto d = in_data.find(c.digest); d != in_data.end()) {
      AddRange(&p.ranges, false, d->second, c.size);
    } else {
      in_data.emplace(c.digest, p.new_bytes);
      AddRange(&p.ranges, false, p.new_bytes, c.size);
      p.new_at.push_back(i);
      p.new_bytes += c.size;
    }
  }
  if (p.new_bytes * 2 > size) return std::nullopt;
  return p;
}

}  // namespace

std::string EncodeChunkLists(const LayerStack& stack, const RootfsPlan& plan) {
  const std::set<std::string> linked = LinkedPaths(stack, plan);
  std::string out;
  for (const auto& e : plan.entries) {
    const TocEntry* te = PatchableFile(stack, e, linked);
    if (!te) continue;
    out += e.path + "\t";
    bool first = true;
    for (const auto& c : FileChunks(stack, e, *te)) {
      out += (first ? "" : ",") + c.digest.Hex() + ":" + std::to_string(c.size);
      first = false;
    }
    out += "\n";
  }
  return out;
}

Result<ChunkLists> DecodeChunkLists(const std::string& data) {
  ChunkLists out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) return Status::Corruption("host chunk lists: truncated line");
    std::string_view line(data.data() + pos, nl - pos);
    pos = nl + 1;
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos || tab == 0)
      return Status::Corruption("host chunk lists: malformed line");
    std::vector<ChunkRef> chunks;
    for (size_t a = tab + 1; a < line.size();) {
      size_t b = line.find(',', a);
      if (b == std::string_view::npos) b = line.size();
      std::string_view item = line.substr(a, b - a);
      size_t colon = item.find(':');
      ChunkRef c;
      auto d = colon == 64 ? Digest::Parse(item.substr(0, 64), true) : Result<Digest>(Status::Invalid(""));
      unsigned long n = 0;
      if (!d.ok() || std::sscanf(std::string(item.substr(65)).c_str(), "%lu", &n) != 1 || n == 0)
        return Status::Corruption("host chunk lists: malformed chunk \"" + std::string(item) + "\"");
      c.digest = *d;
      c.size = static_cast<uint32_t>(n);
      chunks.push_back(c);
      a = b + 1;
    }
    out[std::string(line.substr(0, tab))] = std::move(chunks);
  }
  return out;
}

std::vector<FilePatch> PlanPatches(const LayerStack& stack, const RootfsPlan& plan,
                                   const ChunkLists& old, RootfsDelta* delta) {
  const std::set<std::string> linked = LinkedPaths(stack, plan);
  std::vector<FilePatch> patches;
  std::vector<size_t> send;
  for (size_t i : delta->send) {
    const RootfsEntry& e = plan.entries[i];
    const TocEntry* te = PatchableFile(stack, e, linked);
    auto it = te ? old.find(e.path) : old.end();
    std::optional<FilePatch> p;
    if (it != old.end()) p = PatchOf(i, FileChunks(stack, e, *te), it->second, e.size);
    if (!p) {
      send.push_back(i);
      continue;
    }
    delta->send_bytes -= e.size;
    patches.push_back(std::move(*p));
  }
  delta->send = std::move(send);
  return patches;
}

std::string EncodeRecipe(const LayerStack& stack, const RootfsPlan& plan,
                         const std::vector<FilePatch>& patches,
                         const std::vector<std::string>& sha256s) {
  std::string out;
  for (size_t k = 0; k < patches.size(); k++) {
    const FilePatch& p = patches[k];
    const RootfsEntry& e = plan.entries[p.entry];
    const TocEntry& te = stack.Entry(e.ref);
    char head[160];
    std::snprintf(head, sizeof head, "F %s %o %u %u %lld.%09u %llu ", sha256s[k].c_str(),
                  static_cast<unsigned>(e.perm >= 0 ? e.perm : te.mode & 07777), te.uid, te.gid,
                  static_cast<long long>(te.mtime_sec), te.mtime_nsec,
                  static_cast<unsigned long long>(e.size));
    out += head + e.path + "\n";
    for (const auto& r : p.ranges)
      out += std::string(r.from_old ? "O " : "N ") + std::to_string(r.offset) + " " +
             std::to_string(r.length) + "\n";
    out += "E\n";
  }
  return out;
}

}  // namespace cfs::deploy
