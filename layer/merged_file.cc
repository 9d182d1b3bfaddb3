#include "layer/merged_file.h"

#include <algorithm>

namespace cfs {

const TocEntry& MergedMeta(const LayerStack& stack, LayerStack::Ref r) {
  const TocEntry& e = stack.Entry(r);
  if (e.type != EntryType::kHardlink) return e;
  return stack.Entry(stack.ResolveHardlink(r));
}

namespace {

// Appends the components of p to *out ("" and "." dropped, ".." kept).
void PushComponents(std::string_view p, std::vector<std::string>* out) {
  size_t start = 0;
  while (start <= p.size()) {
    size_t slash = p.find('/', start);
    std::string_view c =
        p.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!c.empty() && c != ".") out->emplace_back(c);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
}

std::string Join(const std::vector<std::string>& c) {
  std::string s;
  for (const auto& x : c) s += (s.empty() ? "" : "/") + x;
  return s;
}

}  // namespace

Result<std::string> ResolveMergedPath(const LayerStack& stack, std::string_view path,
                                      bool follow_last) {
  if (!path.empty() && path.back() == '/') follow_last = true;  // "link/" is the directory
  std::vector<std::string> todo, done;  // todo: reversed, the next component last
  PushComponents(path, &todo);
  std::reverse(todo.begin(), todo.end());
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c == "..") {  // stops at the root
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(std::move(c));
    auto ref = stack.Lookup(Join(done));
    if (!ref || stack.Entry(*ref).type != EntryType::kSymlink || (todo.empty() && !follow_last))
      continue;
    if (++links > 40) return Status::Invalid("too many levels of symbolic links");
    const std::string& target = stack.Entry(*ref).link_target;
    done.pop_back();
    if (!target.empty() && target[0] == '/') done.clear();
    std::vector<std::string> more;
    PushComponents(target, &more);
    std::reverse(more.begin(), more.end());
    for (auto& m : more) todo.push_back(std::move(m));
  }
  return Join(done);
}

Result<LayerStack::Ref> LookupMerged(const LayerStack& stack, std::string_view path,
                                     bool follow_last) {
  ASSIGN_OR_RETURN(std::string resolved, ResolveMergedPath(stack, path, follow_last));
  auto ref = stack.Lookup(resolved);
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
  ASSIGN_OR_RETURN(std::string resolved, ResolveMergedPath(stack, path, false));
  ASSIGN_OR_RETURN(LayerStack::Ref ref, LookupMerged(stack, resolved));
  std::vector<MergedListEntry> out;
  if (stack.Entry(ref).type != EntryType::kDirectory) {
    size_t slash = resolved.rfind('/');
    out.push_back({slash == std::string::npos ? resolved : resolved.substr(slash + 1), ref});
    return out;
  }
  auto node = stack.FindNode(resolved);
  if (!node) return Status::NotFound("no such file or directory");
  ListChildren(stack, *node, "", recursive, &out);
  return out;
}

}  // namespace cfs
