#include "layer/merged_file.h"

namespace cfs {

const TocEntry& MergedMeta(const LayerStack& stack, LayerStack::Ref r) {
  const TocEntry& e = stack.Entry(r);
  if (e.type != EntryType::kHardlink) return e;
  return stack.Entry(stack.ResolveHardlink(r));
}

Result<LayerStack::Ref> LookupMerged(const LayerStack& stack, std::string_view path) {
  auto ref = stack.Lookup(path);
  if (!ref) return Status::NotFound("no such file or directory");
  return *ref;
}

Status ReadMergedFile(const LayerStack& stack, ChunkSource& chunks, LayerStack::Ref r,
                      ByteSink& out) {
  LayerStack::Ref data = stack.ResolveHardlink(r);
  if (data.synthetic() || stack.Entry(data).type != EntryType::kRegular)
    return Status::Invalid("not a regular file");
  const LayerToc& toc = stack.layer(data.layer);
  const TocEntry& e = stack.Entry(data);
  uint64_t done = 0;
  for (uint32_t i = e.first_chunk; i < e.first_chunk + e.num_chunks; i++) {
    ASSIGN_OR_RETURN(std::string c, chunks.ReadChunk(toc.chunks[i]));
    done += c.size();
    RETURN_IF_ERROR(out.Write(c));
  }
  if (done != e.size)
    return Status::Corruption("file of " + std::to_string(e.size) + " bytes has " +
                              std::to_string(done) + " bytes of chunks");
  return Status::Ok();
}

Result<std::string> ReadMergedFileBytes(const LayerStack& stack, ChunkSource& chunks,
                                        LayerStack::Ref r) {
  std::string out;
  StringSink sink(&out);
  RETURN_IF_ERROR(ReadMergedFile(stack, chunks, r, sink));
  return out;
}

}  // namespace cfs

namespace cfs {

namespace {

void ListChildren(const LayerStack& stack, uint32_t node, const std::string& prefix, bool recursive,
                  std::vector<MergedListEntry>* out) {
  stack.ForEachChild(node, [&](std::string_view name, LayerStack::Ref ref, uint32_t child) {
    std::string path = prefix + std::string(name);
    out->push_back({path, ref});
    if (recursive && stack.Entry(ref).type == EntryType::kDirectory)
      ListChildren(stack, child, path + "/", true, out);
  });
}

}  // namespace

Result<std::vector<MergedListEntry>> ListMerged(const LayerStack& stack, std::string_view path,
                                                bool recursive) {
  ASSIGN_OR_RETURN(LayerStack::Ref ref, LookupMerged(stack, path));
  std::vector<MergedListEntry> out;
  if (stack.Entry(ref).type != EntryType::kDirectory) {
    std::string_view p = path;
    while (!p.empty() && p.back() == '/') p.remove_suffix(1);
    size_t slash = p.rfind('/');
    out.push_back({std::string(slash == std::string_view::npos ? p : p.substr(slash + 1)), ref});
    return out;
  }
  auto node = stack.FindNode(path);
  if (!node) return Status::NotFound("no such file or directory");
  ListChildren(stack, *node, "", recursive, &out);
  return out;
}

}  // namespace cfs
