#include "layer/merged_tar.h"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "layer/merged_file.h"

namespace cfs {

namespace {

unsigned FileType(EntryType t) {
  switch (t) {
    case EntryType::kDirectory:
      return AE_IFDIR;
    case EntryType::kSymlink:
      return AE_IFLNK;
    case EntryType::kChar:
      return AE_IFCHR;
    case EntryType::kBlock:
      return AE_IFBLK;
    case EntryType::kFifo:
      return AE_IFIFO;
    default:
      return AE_IFREG;
  }
}

struct SinkCtx {
  ByteSink* out;
  Status status;
};

la_ssize_t WriteSink(struct archive* a, void* ctx, const void* buf, size_t n) {
  auto* s = static_cast<SinkCtx*>(ctx);
  s->status = s->out->Write(buf, n);
  if (!s->status.ok()) {
    archive_set_error(a, EIO, "%s", s->status.message().c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(n);
}

// Writes entries to a tar through libarchive; data comes through ArchiveSink.
class MergedTarWriter {
 public:
  MergedTarWriter(const LayerStack& stack, ChunkSource& chunks, ByteSink& out)
      : stack_(stack),
        chunks_(chunks),
        ctx_{&out, Status::Ok()},
        a_(archive_write_new(), archive_write_free),
        ae_(archive_entry_new(), archive_entry_free) {}

  Status Open() {
    archive_write_set_format_pax_restricted(a_.get());
    // xattrs as SCHILY.xattr records only: what GNU tar and Go's archive/tar
    // read (libarchive's own LIBARCHIVE.xattr ones draw warnings there).
    archive_write_set_format_option(a_.get(), "pax", "xattrheader", "SCHILY");
    archive_write_set_bytes_per_block(a_.get(), 10240);
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    if (archive_write_open(a_.get(), &ctx_, nullptr, WriteSink, nullptr) != ARCHIVE_OK)
      return Fail("open");
    return Status::Ok();
  }

  Status Add(const std::string& path, LayerStack::Ref ref) {
    LayerStack::Ref data = stack_.ResolveHardlink(ref);
    const TocEntry& meta = MergedMeta(stack_, ref);
    FillTarEntry(ae_.get(), path, meta);
    if (meta.type == EntryType::kRegular) {
      auto [it, first] = written_.try_emplace(Key(data), path);
      if (!first) {
        archive_entry_set_hardlink(ae_.get(), it->second.c_str());
        archive_entry_set_size(ae_.get(), 0);
      }
      if (archive_write_header(a_.get(), ae_.get()) != ARCHIVE_OK) return Fail(path);
      if (!first) return Status::Ok();
      return Data(path, data);
    }
    if (archive_write_header(a_.get(), ae_.get()) != ARCHIVE_OK) return Fail(path);
    return Status::Ok();
  }

  Status Close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Fail("close");
    return Status::Ok();
  }

 private:
  static uint64_t Key(LayerStack::Ref r) { return uint64_t{r.layer} << 32 | r.entry; }

  Status Data(const std::string& path, LayerStack::Ref data) {
    class ArchiveSink : public ByteSink {
     public:
      explicit ArchiveSink(archive* a) : a_(a) {}
      using ByteSink::Write;
      Status Write(const void* p, size_t n) override {
        if (archive_write_data(a_, p, n) < 0)
          return Status::IOError(std::string("tar: ") + archive_error_string(a_), EIO);
        return Status::Ok();
      }

     private:
      archive* a_;
    } sink(a_.get());
    Status s = ReadMergedFile(stack_, chunks_, data, sink);
    if (!s.ok()) return s.Prefix("/" + path);
    return Status::Ok();
  }

  Status Fail(const std::string& what) {
    if (!ctx_.status.ok()) return ctx_.status;
    const char* err = archive_error_string(a_.get());
    return Status::IOError("tar: " + what + ": " + (err ? err : "error"), EIO);
  }

  const LayerStack& stack_;
  ChunkSource& chunks_;
  SinkCtx ctx_;  // outlives the archive, which writes to it until freed
  std::unique_ptr<struct archive, int (*)(struct archive*)> a_;
  std::unique_ptr<archive_entry, void (*)(archive_entry*)> ae_;
  std::map<uint64_t, std::string> written_;  // data entry -> first path written
};

}  // namespace

void FillTarEntry(archive_entry* x, const std::string& path, const TocEntry& meta) {
  archive_entry_clear(x);
  archive_entry_set_pathname(x, path.c_str());
  archive_entry_set_filetype(x, FileType(meta.type));
  archive_entry_set_perm(x, meta.mode & 07777);
  archive_entry_set_uid(x, meta.uid);
  archive_entry_set_gid(x, meta.gid);
  archive_entry_set_mtime(x, meta.mtime_sec, meta.mtime_nsec);
  if (meta.type == EntryType::kSymlink) archive_entry_set_symlink(x, meta.link_target.c_str());
  if (meta.type == EntryType::kChar || meta.type == EntryType::kBlock) {
    archive_entry_set_rdevmajor(x, meta.dev_major);
    archive_entry_set_rdevminor(x, meta.dev_minor);
  }
  for (const auto& [k, v] : meta.xattrs) archive_entry_xattr_add_entry(x, k.c_str(), v.data(), v.size());
  const bool reg = meta.type == EntryType::kRegular;
  archive_entry_set_size(x, reg ? static_cast<la_int64_t>(meta.size) : 0);
}

Status WriteMergedTar(const LayerStack& stack, ChunkSource& chunks, ByteSink& out) {
  MergedTarWriter w(stack, chunks, out);
  RETURN_IF_ERROR(w.Open());
  Status err;
  stack.Walk([&](const std::string& path, LayerStack::Ref ref) {
    if (err.ok() && path != ".") err = w.Add(path, ref);
  });
  RETURN_IF_ERROR(err);
  return w.Close();
}

}  // namespace cfs
