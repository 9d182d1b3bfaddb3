#include "sbom/inventory.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "base/strings.h"
#include "layer/merged_file.h"

namespace cfs::sbom {

namespace {

constexpr uint64_t kMaxStatusBytes = 256ull << 20;
constexpr uint64_t kMaxLinkBytes = 4096;
constexpr const char* kStatusFile = "var/lib/dpkg/status";
constexpr const char* kStatusDir = "var/lib/dpkg/status.d";

// SHA-256 of the regular file (or hard link) r: from its TOC when it has at
// most one chunk, else read.
Result<Digest> FileDigest(const LayerStack& stack, ChunkSource& chunks, LayerStack::Ref r,
                          bool* read) {
  LayerStack::Ref data = stack.ResolveHardlink(r);
  const TocEntry& e = stack.Entry(data);
  const LayerToc& toc = stack.layer(data.layer);
  *read = false;
  if (e.num_chunks == 0 && e.size == 0) return Digest::Of("");
  if (e.num_chunks == 1 && toc.chunks[e.first_chunk].size == e.size)
    return toc.chunks[e.first_chunk].digest;
  *read = true;
  Sha256 h;
  uint64_t done = 0;
  for (uint32_t i = e.first_chunk; i < e.first_chunk + e.num_chunks; i++) {
    ASSIGN_OR_RETURN(std::string c, chunks.ReadChunk(toc.chunks[i]));
    done += c.size();
    h.Update(c);
  }
  if (done != e.size) return Status::Corruption("chunks do not add up to the file's size");
  return h.Finish();
}

// "REPO/_manifests/tags/TAG/current/link" below kBuiltinRepositories.
bool ParseTagLink(std::string_view rel, std::string* repo, std::string* tag) {
  static constexpr std::string_view kTags = "/_manifests/tags/", kCurrent = "/current/link";
  if (rel.size() <= kCurrent.size() || rel.substr(rel.size() - kCurrent.size()) != kCurrent)
    return false;
  rel.remove_suffix(kCurrent.size());
  size_t at = rel.rfind(kTags);
  if (at == std::string_view::npos || at == 0) return false;
  *repo = std::string(rel.substr(0, at));
  *tag = std::string(rel.substr(at + kTags.size()));
  return !tag->empty() && tag->find('/') == std::string::npos;
}

Result<std::string> ReadSmall(const LayerStack& stack, ChunkSource& chunks, LayerStack::Ref r,
                              uint64_t max, const std::string& path) {
  if (stack.Entry(stack.ResolveHardlink(r)).size > max)
    return Status::Invalid(path + ": larger than " + std::to_string(max) + " bytes");
  auto bytes = ReadMergedFileBytes(stack, chunks, r);
  if (!bytes.ok()) return bytes.status().Prefix(path);
  return bytes;
}

Status AddImage(const LayerStack& stack, ChunkSource& chunks, const std::string& path,
                LayerStack::Ref r, Inventory* inv) {
  ContainerImage im;
  if (!ParseTagLink(std::string_view(path).substr(std::string_view(kBuiltinRepositories).size()),
                    &im.repository, &im.tag))
    return Status::Ok();
  ASSIGN_OR_RETURN(std::string link, ReadSmall(stack, chunks, r, kMaxLinkBytes, path));
  auto d = Digest::Parse(Trim(link));
  if (!d.ok()) return Status::Invalid(path + ": not a digest link (" + d.status().message() + ")");
  im.digest = *d;
  inv->images.push_back(std::move(im));
  return Status::Ok();
}

// The packages of the status file and of each status.d entry.
Status AddPackages(const LayerStack& stack, ChunkSource& chunks, Inventory* inv) {
  auto add = [&](const std::string& path, LayerStack::Ref r, bool require_status) -> Status {
    if (stack.Entry(stack.ResolveHardlink(r)).type != EntryType::kRegular) return Status::Ok();
    ASSIGN_OR_RETURN(std::string text, ReadSmall(stack, chunks, r, kMaxStatusBytes, path));
    ASSIGN_OR_RETURN(auto pkgs, ParseDpkgStatus(text, path, require_status));
    inv->packages.insert(inv->packages.end(), pkgs.begin(), pkgs.end());
    return Status::Ok();
  };
  if (auto r = LookupMerged(stack, kStatusFile, true); r.ok())
    RETURN_IF_ERROR(add(kStatusFile, *r, true));
  if (auto dir = LookupMerged(stack, kStatusDir, true);
      dir.ok() && stack.Entry(*dir).type == EntryType::kDirectory) {
    ASSIGN_OR_RETURN(auto list, ListMerged(stack, kStatusDir, false));
    for (const auto& e : list)
      if (e.path.find(".md5sums") == std::string::npos)
        RETURN_IF_ERROR(add(std::string(kStatusDir) + "/" + e.path, e.ref, false));
  }
  auto key = [](const DebPackage& p) { return std::tie(p.name, p.architecture, p.version); };
  std::sort(inv->packages.begin(), inv->packages.end(),
            [&](const DebPackage& a, const DebPackage& b) { return key(a) < key(b); });
  inv->packages.erase(
      std::unique(inv->packages.begin(), inv->packages.end(),
                  [&](const DebPackage& a, const DebPackage& b) { return key(a) == key(b); }),
      inv->packages.end());
  return Status::Ok();
}

}  // namespace

Result<Inventory> CollectInventory(const LayerStack& stack, ChunkSource& chunks,
                                   const std::function<void(uint64_t, uint64_t)>& progress) {
  std::vector<std::pair<std::string, LayerStack::Ref>> files;
  stack.Walk([&](const std::string& path, LayerStack::Ref r) {
    if (r.synthetic()) return;
    EntryType t = stack.Entry(r).type;
    if (t == EntryType::kRegular || t == EntryType::kHardlink) files.emplace_back(path, r);
  });
  Inventory inv;
  uint64_t bytes = 0;
  inv.files.reserve(files.size());
  for (auto& [path, r] : files) {  // each path moved into inv.files: held once
    bool read = false;
    auto d = FileDigest(stack, chunks, r, &read);
    if (!d.ok()) return d.status().Prefix(path);
    if (path.rfind(kBuiltinRepositories, 0) == 0)
      RETURN_IF_ERROR(AddImage(stack, chunks, path, r, &inv));
    uint64_t size = stack.Entry(stack.ResolveHardlink(r)).size;
    inv.files.push_back({std::move(path), *d, size});
    if (read) {
      inv.files_read++;
      bytes += size;
      if (progress) progress(inv.files_read, bytes);
    }
  }
  files.clear();
  files.shrink_to_fit();
  std::sort(inv.files.begin(), inv.files.end(),
            [](const FileRecord& a, const FileRecord& b) { return a.path < b.path; });
  std::sort(inv.images.begin(), inv.images.end(),
            [](const ContainerImage& a, const ContainerImage& b) {
              return std::tie(a.repository, a.tag) < std::tie(b.repository, b.tag);
            });
  RETURN_IF_ERROR(AddPackages(stack, chunks, &inv));
  return inv;
}

}  // namespace cfs::sbom
