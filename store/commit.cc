// New layers and images made here (cimg build, cimg commit).
//
// Store::ImportDirLayer: a directory in the kernel's overlay upper format
// becomes a layer. The tree is written as a tar (libarchive, pax) on one
// thread and imported like any layer blob on the calling one, with a bounded
// in-memory pipe between them. Whiteouts (char 0/0) become ".wh.NAME",
// opaque directories (trusted.overlay.opaque="y") get a ".wh..wh..opq"
// entry; trusted.overlay.* xattrs are dropped; hard links stay links. With
// `remove`, the tree is removed as it is archived, on a third thread. Files
// named in `data_from` are placeholders: their data is read from the file
// given for them (a build's context), checked to be unchanged.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "base/executor.h"
#include "layer_import.h"
#include "store_impl.h"
#include "layer/whiteouts.h"
#include "transport/archive_handles.h"

namespace cfs {

namespace {

// A bounded byte queue: the tar writer pushes, the importer pulls.
class BytePipe : public ByteSource {
 public:
  Status Push(const void* p, size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return closed_reader_ || queued_ < kMax; });
    if (closed_reader_) return Status::Aborted("the layer import stopped");
    q_.emplace_back(static_cast<const char*>(p), n);
    queued_ += n;
    cv_.notify_all();
    return Status::Ok();
  }
  void CloseWriter(Status st) {
    std::lock_guard<std::mutex> l(mu_);
    closed_writer_ = true;
    writer_status_ = std::move(st);
    cv_.notify_all();
  }
  void CloseReader() {
    std::lock_guard<std::mutex> l(mu_);
    closed_reader_ = true;
    cv_.notify_all();
  }
  Result<size_t> Read(void* buf, size_t n) override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return closed_writer_ || !q_.empty(); });
    if (q_.empty()) {
      if (!writer_status_.ok()) return writer_status_;
      return size_t{0};
    }
    std::string& front = q_.front();
    size_t k = std::min(n, front.size() - pos_);
    std::memcpy(buf, front.data() + pos_, k);
    pos_ += k;
    if (pos_ == front.size()) {
      queued_ -= front.size();
      q_.pop_front();
      pos_ = 0;
      cv_.notify_all();
    }
    return k;
  }

 private:
  static constexpr size_t kMax = 16 << 20;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> q_;
  size_t pos_ = 0, queued_ = 0;
  bool closed_writer_ = false, closed_reader_ = false;
  Status writer_status_;
};

la_ssize_t PipeWrite(struct archive*, void* client, const void* buf, size_t n) {
  auto* p = static_cast<BytePipe*>(client);
  return p->Push(buf, n).ok() ? static_cast<la_ssize_t>(n) : -1;
}

// Removes what it is given, in order, on one worker of its own: the
// entries of a tree as they are archived (files, then each directory after
// its contents), so that the removal overlaps the import. Errors are
// ignored: the caller removes what is left. Its destructor removes the rest.
class Remover {
 public:
  void Add(std::string path, bool dir) {
    worker_.Submit([path = std::move(path), dir] { dir ? ::rmdir(path.c_str()) : ::unlink(path.c_str()); });
  }

 private:
  Executor worker_{ExecutorOptions{.threads = 1, .max_queued = 0, .name = "cfs-remove"}};
};

class TreeWriter {
 public:
  // remover: when set, every entry goes to it once archived. data_from:
  // ImportDirOptions::data_from (may be null).
  TreeWriter(std::string root, BytePipe* out, Remover* remover,
             const std::map<std::string, ExternalFileData>* data_from)
      : root_(std::move(root)), out_(out), remover_(remover), data_from_(data_from) {}

  Status Run() {
    a_.reset(archive_write_new());
    if (!a_) return Status::IOError("archive_write_new", ENOMEM);
    if (archive_write_set_format_pax_restricted(a_.get()) != ARCHIVE_OK ||
        archive_write_open(a_.get(), out_, nullptr, PipeWrite, nullptr) != ARCHIVE_OK)
      return Fail("tar");
    RETURN_IF_ERROR(Dir(""));
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Fail("tar");
    return Status::Ok();
  }

 private:
  Status Fail(const std::string& what) {
    return Status::IOError(what + ": " + ArchiveError(a_.get()), EIO);
  }

  // Xattrs of path, without trusted.overlay.*; sets *opaque.
  Status Xattrs(const std::string& path, struct archive_entry* e, bool* opaque) {
    *opaque = false;
    ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
    if (n < 0) return errno == ENOTSUP ? Status::Ok() : Status::IOError("listxattr " + path);
    std::string names(static_cast<size_t>(n), '\0');
    n = ::llistxattr(path.c_str(), names.data(), names.size());
    if (n < 0) return Status::IOError("listxattr " + path);
    names.resize(static_cast<size_t>(n));
    std::vector<std::string> list;
    for (size_t i = 0; i < names.size();) {
      std::string name(names.c_str() + i);
      i += name.size() + 1;
      if (!name.empty()) list.push_back(name);
    }
    std::sort(list.begin(), list.end());
    for (const auto& name : list) {
      ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
      if (vn < 0) continue;
      std::string v(static_cast<size_t>(vn), '\0');
      vn = ::lgetxattr(path.c_str(), name.c_str(), v.data(), v.size());
      if (vn < 0) continue;
      v.resize(static_cast<size_t>(vn));
      if (name.rfind("trusted.overlay.", 0) == 0) {
        if (name == kOverlayOpaqueXattr && v == "y") *opaque = true;
        continue;  // overlay bookkeeping, not content
      }
      archive_entry_xattr_add_entry(e, name.c_str(), v.data(), v.size());
    }
    return Status::Ok();
  }

  Status Header(struct archive_entry* e, const std::string& rel) {
    if (archive_write_header(a_.get(), e) != ARCHIVE_OK) return Fail("tar header " + rel);
    return Status::Ok();
  }

  // An empty regular file: whiteouts and opaque markers.
  Status Marker(const std::string& rel, const struct stat& st) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), rel.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0);
    archive_entry_set_uid(e.get(), st.st_uid);
    archive_entry_set_gid(e.get(), st.st_gid);
    archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    archive_entry_set_size(e.get(), 0);
    return Header(e.get(), rel);
  }

  Status Entry(const std::string& rel) {
    const std::string path = root_ + "/" + rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Status::IOError(path);
    auto slash = rel.rfind('/');
    std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash + 1);
    std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
    if (IsOverlayWhiteout(st)) {
      RETURN_IF_ERROR(Marker(parent + WhiteoutName(base), st));
      if (remover_) remover_->Add(path, false);
      return Status::Ok();
    }
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), rel.c_str());
    archive_entry_copy_stat(e.get(), &st);
    archive_entry_set_uname(e.get(), "");
    archive_entry_set_gname(e.get(), "");
    archive_entry_unset_atime(e.get());
    archive_entry_unset_ctime(e.get());
    archive_entry_unset_birthtime(e.get());
    bool opaque = false;
    RETURN_IF_ERROR(Xattrs(path, e.get(), &opaque));
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
      if (n < 0) return Status::IOError("readlink " + path);
      target.resize(static_cast<size_t>(n));
      archive_entry_set_symlink(e.get(), target.c_str());
      archive_entry_set_size(e.get(), 0);
    }
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto key = std::make_pair(st.st_dev, st.st_ino);
      auto it = links_.find(key);
      if (it != links_.end()) {
        archive_entry_set_hardlink(e.get(), it->second.c_str());
        archive_entry_set_size(e.get(), 0);
        return Header(e.get(), rel);
      }
      links_[key] = rel;
    }
    if (!S_ISREG(st.st_mode)) archive_entry_set_size(e.get(), 0);
    RETURN_IF_ERROR(Header(e.get(), rel));
    if (S_ISREG(st.st_mode) && st.st_size > 0) RETURN_IF_ERROR(Data(rel, path, st));
    if (S_ISDIR(st.st_mode)) {
      if (opaque) RETURN_IF_ERROR(Marker(rel + "/" + std::string(kOpaqueMarker), st));
      RETURN_IF_ERROR(Dir(rel + "/"));
    }
    // Not one name of several: the others must still read as its links.
    if (remover_ && (S_ISDIR(st.st_mode) || st.st_nlink == 1)) remover_->Add(path, S_ISDIR(st.st_mode));
    return Status::Ok();
  }

  // The data of regular file rel (at path, st its lstat) into the tar: from
  // the file data_from_ names for it, else from path.
  Status Data(const std::string& rel, const std::string& path, const struct stat& st) {
    const ExternalFileData* ext = nullptr;
    if (data_from_) {
      auto it = data_from_->find(rel);
      if (it != data_from_->end()) ext = &it->second;
    }
    if (!ext) {
      ASSIGN_OR_RETURN(auto src, FdSource::Open(path));
      ASSIGN_OR_RETURN(uint64_t total, Copy(*src, rel));
      if (total != static_cast<uint64_t>(st.st_size))
        return Status::Corruption(path + ": changed size while being archived");
      return Status::Ok();
    }
    if (ext->id.size != static_cast<uint64_t>(st.st_size))
      return Status::Corruption(path + ": " + std::to_string(st.st_size) + " bytes, but its data file " +
                                ext->path + " had " + std::to_string(ext->id.size));
    UniqueFd fd(::open(ext->path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid() && (errno == ENOENT || errno == ELOOP))
      return Status::Aborted(ext->path + ": changed while being built (it is gone); build again");
    if (!fd.valid()) return Status::IOError(ext->path);
    FdSource src(UniqueFd(::dup(fd.get())));
    ASSIGN_OR_RETURN(uint64_t total, Copy(src, rel));
    struct stat now;
    if (::fstat(fd.get(), &now) != 0) return Status::IOError(ext->path);
    if (total != ext->id.size || FileIdentity::Of(now) != ext->id)
      return Status::Aborted(ext->path + ": changed while being built (its size, times or inode are not "
                             "those it had when copied); build again");
    return Status::Ok();
  }

  // All of src into the tar as rel's data; returns the bytes copied.
  Result<uint64_t> Copy(ByteSource& src, const std::string& rel) {
    if (buf_.empty()) buf_.resize(1 << 20);  // once: not a 1 MiB memset per file
    uint64_t total = 0;
    for (;;) {
      ASSIGN_OR_RETURN(size_t n, src.Read(buf_.data(), buf_.size()));
      if (n == 0) return total;
      if (archive_write_data(a_.get(), buf_.data(), n) < 0) return Fail("tar data " + rel);
      total += n;
    }
  }

  // Entries of root_/prefix, sorted, recursively (parents before children).
  Status Dir(const std::string& prefix) {
    const std::string path = root_ + "/" + prefix;
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(path));
    for (const auto& n : names) RETURN_IF_ERROR(Entry(prefix + n));
    return Status::Ok();
  }

  std::string root_;
  BytePipe* out_;
  Remover* remover_;
  const std::map<std::string, ExternalFileData>* data_from_;
  ArchiveWriter a_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
  std::string buf_;
};

}  // namespace

Result<LayerSummary> Store::ImportDirLayer(const std::string& dir, const ProgressFn& progress,
                                          std::unique_ptr<Lease>* lease, const ImportDirOptions& opts) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Invalid(dir + ": not a directory");
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto snapshot, impl_->Reader());
  auto chunks = impl_->chunks->NewWriter(snapshot.get());
  LayerImporter importer(impl_->chunks->chunker(), chunks.get(), impl_->opts.threads);
  BytePipe pipe;
  Status written;
  std::optional<Remover> remover;
  if (opts.remove) remover.emplace();
  std::thread writer([&] {
    written = TreeWriter(dir, &pipe, remover ? &*remover : nullptr, opts.data_from).Run();
    pipe.CloseWriter(written);
  });
  auto r = importer.Import(pipe, Digest(), Digest(), "layer from " + dir, progress, 0);
  pipe.CloseReader();
  writer.join();
  remover.reset();  // the rest of the removal
  // A data file that changed is named by its own path (Data), not dir's.
  if (!written.ok()) return written.code() == Status::Code::kAborted ? written : written.Prefix(dir);
  if (!r.ok()) return r.status().Prefix(dir);
  RETURN_IF_ERROR(chunks->Sync());
  {
    ASSIGN_OR_RETURN(auto w, impl_->Writer());
    RETURN_IF_ERROR(importer.Commit(*w, *r));
  }
  // Still under the operation lock: no gc ran since the commit.
  if (lease) {
    ASSIGN_OR_RETURN(*lease, TakeLease({r->toc.diff_id}));
  }
  LayerSummary s;
  s.diff_id = r->toc.diff_id;
  s.source_digest = r->toc.diff_id;
  s.source_media_type = "application/vnd.oci.image.layer.v1.tar";
  s.tar_size = r->toc.tar_size;
  s.entries = r->toc.entries.size();
  s.chunks = r->toc.chunks.size();
  s.chunks_new = r->chunks_new;
  s.bytes_new = r->bytes_new;
  return s;
}

}  // namespace cfs

namespace cfs {

Result<ImageDetails> Store::CreateImage(const std::string& name, const std::string& config,
                                        const std::string& source,
                                        const std::vector<LayerSummary>& imported,
                                        const std::map<std::string, std::string>& annotations) {
  nlohmann::json cj;
  try {
    cj = nlohmann::json::parse(config);
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("image config: ") + e.what());
  }
  std::vector<Digest> diff_ids;
  try {
    for (const auto& d : cj.at("rootfs").at("diff_ids")) {
      ASSIGN_OR_RETURN(Digest dg, Digest::Parse(d.get<std::string>()));
      diff_ids.push_back(dg);
    }
  } catch (const std::exception& e) {
    return Status::Invalid(std::string("image config: rootfs.diff_ids: ") + e.what());
  }
  std::string norm;
  if (!name.empty()) {
    ASSIGN_OR_RETURN(norm, NormalizeImageName(name));
    if (norm.rfind("sha256:", 0) == 0) return Status::Invalid("an image name, not a digest");
  }
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  ImageRecord rec;
  rec.config = Digest::Of(config);
  rec.source = source;
  rec.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  rec.stored_at = static_cast<int64_t>(impl_->env()->NowMicros() / 1000000);
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"config",
                       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                        {"digest", rec.config.ToString()},
                        {"size", config.size()}}},
                      {"layers", nlohmann::json::array()}};
  std::unordered_set<Digest, DigestHash> distinct;
  for (const auto& d : diff_ids) {
    ASSIGN_OR_RETURN(auto tv, w->Get(key::Toc(d)));
    if (!tv) return Status::NotFound("layer " + d.ToString() + " is not in the store");
    ASSIGN_OR_RETURN(LayerToc toc, LayerToc::Decode(*tv));
    LayerSummary ls;
    ls.diff_id = d;
    ls.source_digest = d;
    ls.source_media_type = "application/vnd.oci.image.layer.v1.tar";
    ls.tar_size = toc.tar_size;
    ls.entries = toc.entries.size();
    ls.chunks = toc.chunks.size();
    for (const auto& c : toc.chunks) distinct.insert(c.digest);
    rec.layers.push_back(ls);
    // An uncompressed layer: its blob digest is its diffID.
    m["layers"].push_back({{"mediaType", ls.source_media_type},
                           {"digest", d.ToString()},
                           {"size", toc.tar_size}});
  }
  if (!annotations.empty()) m["annotations"] = annotations;
  rec.chunks_total = distinct.size();
  for (const auto& l : imported) {
    rec.chunks_new += l.chunks_new;
    rec.bytes_new += l.bytes_new;
  }
  std::string manifest = m.dump();
  Digest md = Digest::Of(manifest);
  RETURN_IF_ERROR(impl_->KeepReferrers(*w, md, &rec));
  Index::Batch b;
  b.Put(key::Blob(md), manifest);
  b.Put(key::Blob(rec.config), config);
  b.Put(key::Image(md), rec.ToJson());
  if (!norm.empty()) b.Put(key::Name(norm), md.ToString());
  RETURN_IF_ERROR(w->Write(b));
  return impl_->Details(*w, md);
}

}  // namespace cfs

namespace cfs {

Result<std::optional<std::string>> Store::GetBuildCache(const Digest& key) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  return ix->Get(key::BuildCache(key));
}

Status Store::PutBuildCache(const Digest& key, const std::string& value) {
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  Index::Batch b;
  b.Put(key::BuildCache(key), value);
  return w->Write(b);
}

Result<bool> Store::HasLayer(const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(auto v, ix->Get(key::Toc(diff_id)));
  return v.has_value();
}

}  // namespace cfs
