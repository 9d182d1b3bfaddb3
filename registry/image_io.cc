#include "registry/image_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "base/executor.h"
#include "registry/referrers.h"
#include "transport/oci_metadata.h"

namespace cfs::registry {

namespace {

using nlohmann::json;

// Appends to an fd, hashing what it writes.
class HashingFileSink : public ByteSink {
 public:
  explicit HashingFileSink(int fd, const std::atomic<bool>* cancel = nullptr)
      : fd_(fd), cancel_(cancel) {}
  using ByteSink::Write;
  Status Write(const void* data, size_t n) override {
    if (cancel_ && cancel_->load()) return Status::Aborted("cancelled");
    sha_.Update(data, n);
    size_ += n;
    return WriteAll(fd_, data, n);
  }
  Digest Finish() { return sha_.Finish(); }
  uint64_t size() const { return size_; }

 private:
  int fd_;
  const std::atomic<bool>* cancel_;
  Sha256 sha_;
  uint64_t size_ = 0;
};

// ---------------------------------------------------------------- source

class RegistrySource : public ImageSourceReader {
 public:
  RegistrySource(std::shared_ptr<Client> c, Reference ref, TempDir tmp, int parallel)
      : c_(std::move(c)), ref_(std::move(ref)), tmp_(std::move(tmp)), parallel_(parallel) {}
  ~RegistrySource() override {
    cancel_ = true;
    workers_.reset();  // joins; running fetches stop at their next write
    ranges_.reset();
  }

  Result<SourceImage> Resolve(const Platform& want) override;
  Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) override;
  void Prefetch(const std::vector<Descriptor>& blobs) override;
  bool CanReadRanges() const override { return true; }
  Result<std::string> ReadBlobRange(const Descriptor& d, uint64_t offset,
                                    uint64_t length) override {
    return c_->GetBlobRange(ref_.repository, d.digest, offset, length);
  }
  Status ReadBlobRanges(const Descriptor& d, const std::vector<BlobRange>& ranges,
                        const std::function<Status(size_t, std::string)>& fn) override;
  void SetProgress(std::function<void(const std::string&, uint64_t, uint64_t)> fn) override {
    progress_ = std::move(fn);
  }
  // The OCI 1.1 referrers beside the image (referrers API or fallback tag).
  Result<std::vector<SourceReferrer>> Referrers(const Digest& subject) override {
    return PullReferrers(*c_, ref_.repository, subject);
  }

 private:
  struct Fetch {
    Descriptor d;
    std::string path;
    std::atomic<uint64_t> done{0};
    bool finished = false;  // guarded by mu_
    Status status;          // guarded by mu_
  };
  void Run(const std::shared_ptr<Fetch>& f);
  std::string Path(const Digest& d) const { return tmp_.path() + "/" + d.Hex(); }

  std::shared_ptr<Client> c_;
  Reference ref_;
  TempDir tmp_;
  int parallel_;
  std::function<void(const std::string&, uint64_t, uint64_t)> progress_;
  std::atomic<bool> cancel_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<Digest, std::shared_ptr<Fetch>> fetches_;
  std::unique_ptr<Executor> workers_;  // blob fetches, made by the first Prefetch
  std::unique_ptr<Executor> ranges_;   // range reads, made by the first ReadBlobRanges
};

Result<SourceImage> RegistrySource::Resolve(const Platform& want) {
  const std::string name = ref_.ToString();
  ASSIGN_OR_RETURN(auto resolved,
                   c_->ResolveImageManifest(ref_.repository, ref_.ManifestRef(), want, name));
  auto& [m, manifest] = resolved;
  SourceImage img;
  img.manifest = std::move(m.bytes);
  img.manifest_digest = m.digest;
  img.manifest_media_type = manifest.media_type;
  const std::string cwhat = name + ": config " + manifest.config.digest.ToString();
  ASSIGN_OR_RETURN(img.config, c_->GetBlob(ref_.repository, manifest.config, 16 << 20));
  ASSIGN_OR_RETURN(json config, oci::ParseJson(img.config, cwhat));
  ASSIGN_OR_RETURN(img.diff_ids, oci::ParseDiffIds(config, cwhat));
  if (img.diff_ids.size() != manifest.layers.size())
    return Status::Corruption(cwhat + ": " + std::to_string(img.diff_ids.size()) +
                              " diff_ids for " + std::to_string(manifest.layers.size()) +
                              " layers in the manifest");
  img.config_digest = manifest.config.digest;
  img.config_media_type = manifest.config.media_type;
  img.layers = std::move(manifest.layers);
  img.ref_name = ref_.LocalName();
  return img;
}

void RegistrySource::Run(const std::shared_ptr<Fetch>& f) {
  Status st;
  {
    UniqueFd fd(::open(f->path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd.valid()) {
      st = Status::IOError(f->path);
    } else {
      HashingFileSink sink(fd.get(), &cancel_);
      st = c_->FetchBlob(ref_.repository, f->d, sink,
                         [&](uint64_t done, uint64_t) { f->done = done; });
    }
  }
  if (!st.ok()) ::unlink(f->path.c_str());
  {
    std::lock_guard<std::mutex> l(mu_);
    f->finished = true;
    f->status = st;
  }
  cv_.notify_all();
}

void RegistrySource::Prefetch(const std::vector<Descriptor>& blobs) {
  if (blobs.empty()) return;
  if (!workers_) workers_ = std::make_unique<Executor>(parallel_);
  for (const auto& d : blobs) {
    std::shared_ptr<Fetch> f;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (fetches_.count(d.digest)) continue;
      f = std::make_shared<Fetch>();
      f->d = d;
      f->path = Path(d.digest);
      fetches_[d.digest] = f;
    }
    workers_->Submit([this, f] { Run(f); });
  }
}

Status RegistrySource::ReadBlobRanges(const Descriptor& d, const std::vector<BlobRange>& ranges,
                                      const std::function<Status(size_t, std::string)>& fn) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first;
  auto work = [&] {
    for (size_t i; !failed && (i = next++) < ranges.size();) {
      if (cancel_) return;
      auto r = c_->GetBlobRange(ref_.repository, d.digest, ranges[i].offset, ranges[i].length);
      Status st = r.ok() ? fn(i, std::move(*r)) : r.status();
      if (!st.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = st;
        failed = true;
      }
    }
  };
  if (!ranges_) ranges_ = std::make_unique<Executor>(parallel_);
  TaskGroup group(ranges_.get());
  const int n = std::min<int>(ranges_->threads(), static_cast<int>(ranges.size()));
  for (int k = 0; k < n; k++) group.Submit(work);
  group.Wait();
  return first;
}

Result<std::unique_ptr<ByteSource>> RegistrySource::OpenBlob(const Descriptor& d) {
  std::shared_ptr<Fetch> f;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = fetches_.find(d.digest);
    if (it != fetches_.end()) f = it->second;
  }
  if (!f) {
    Prefetch({d});
    std::lock_guard<std::mutex> l(mu_);
    f = fetches_[d.digest];
  }
  const std::string item = "blob " + d.digest.ToString().substr(0, 19);
  std::unique_lock<std::mutex> l(mu_);
  while (!f->finished) {
    cv_.wait_for(l, std::chrono::milliseconds(200));
    if (progress_) {
      l.unlock();
      progress_(item, f->done.load(), d.size);
      l.lock();
    }
  }
  Status st = f->status;
  fetches_.erase(d.digest);
  l.unlock();
  if (!st.ok()) return st;
  if (progress_) progress_(item, d.size, d.size);
  ASSIGN_OR_RETURN(auto src, FdSource::Open(f->path));
  ::unlink(f->path.c_str());  // the open fd keeps the bytes
  return std::unique_ptr<ByteSource>(std::move(src));
}

// ----------------------------------------------------------- destination

class RegistryDestination : public ImageDestination {
 public:
  RegistryDestination(std::shared_ptr<Client> c, Reference ref, TempDir tmp,
                      std::string mount_from, PushStats* stats,
                      std::function<void(const std::string&, uint64_t, uint64_t)> progress,
                      int parallel)
      : c_(std::move(c)),
        ref_(std::move(ref)),
        tmp_(std::move(tmp)),
        mount_from_(std::move(mount_from)),
        stats_(stats ? stats : &own_stats_),
        progress_(std::move(progress)),
        workers_(std::make_unique<Executor>(parallel)) {}
  ~RegistryDestination() override {
    cancel_ = true;
    workers_.reset();
  }

  Status PutBlob(const Descriptor& d, std::string_view bytes) override {
    if (Digest::Of(bytes) != d.digest)
      return Status::Corruption("blob " + d.digest.ToString() + ": bytes do not match");
    std::string path = tmp_.path() + "/" + d.digest.Hex();
    RETURN_IF_ERROR(WriteFileAtomic(path, bytes, 0600));
    Enqueue(d, path);
    return Status::Ok();
  }

  Result<Descriptor> PutBlobStream(const std::string& media_type,
                                   const std::function<Status(ByteSink&)>& write) override {
    std::string path = tmp_.path() + "/spool-" + std::to_string(seq_++);
    Descriptor d;
    d.media_type = media_type;
    {
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (!fd.valid()) return Status::IOError(path);
      HashingFileSink sink(fd.get());
      RETURN_IF_ERROR(write(sink));
      d.digest = sink.Finish();
      d.size = sink.size();
    }
    std::string final_path = tmp_.path() + "/" + d.digest.Hex();
    if (::rename(path.c_str(), final_path.c_str()) != 0) return Status::IOError(final_path);
    Enqueue(d, final_path);
    return d;
  }

  Status PutManifest(const Descriptor& d, std::string_view bytes, const std::string& tag) override {
    RETURN_IF_ERROR(WaitUploads());
    std::string ref = tag.empty() ? d.digest.ToString() : tag;
    return c_->PutManifest(ref_.repository, ref, d.media_type, std::string(bytes));
  }

  Status Finish() override { return WaitUploads(); }

 private:
  struct Upload {
    Descriptor d;
    std::atomic<uint64_t> done{0};
  };

  void Enqueue(const Descriptor& d, const std::string& path) {
    auto up = std::make_shared<Upload>();
    up->d = d;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!queued_.insert(d.digest).second) return;  // the same blob twice
      pending_++;
      active_.push_back(up);
    }
    workers_->Submit([this, up, path] {
      Status st = cancel_ ? Status::Aborted("cancelled") : UploadOne(*up, path);
      ::unlink(path.c_str());
      {
        std::lock_guard<std::mutex> l(mu_);
        if (!st.ok() && first_error_.ok()) first_error_ = st;
        pending_--;
      }
      cv_.notify_all();
    });
  }

  Status UploadOne(Upload& up, const std::string& path) {
    ASSIGN_OR_RETURN(auto have, c_->HeadBlob(ref_.repository, up.d.digest, true));
    if (have && (*have == up.d.size || *have == 0)) {
      std::lock_guard<std::mutex> l(mu_);
      stats_->blobs_skipped++;
      up.done = up.d.size;
      return Status::Ok();
    }
    uint64_t before = c_->stats().bytes_up;
    RETURN_IF_ERROR(c_->UploadBlob(ref_.repository, up.d, path, mount_from_,
                                   [&](uint64_t done, uint64_t) { up.done = done; }));
    uint64_t sent = c_->stats().bytes_up - before;
    std::lock_guard<std::mutex> l(mu_);
    if (sent < up.d.size / 2 && up.d.size > 1024 && !mount_from_.empty()) {
      stats_->blobs_mounted++;
    } else {
      stats_->blobs_uploaded++;
      stats_->bytes_uploaded += up.d.size;
    }
    up.done = up.d.size;
    return Status::Ok();
  }

  Status WaitUploads() {
    std::unique_lock<std::mutex> l(mu_);
    while (pending_ > 0 && first_error_.ok()) {
      cv_.wait_for(l, std::chrono::milliseconds(200));
      if (progress_) {
        uint64_t done = 0, total = 0;
        for (const auto& u : active_) {
          done += u->done.load();
          total += u->d.size;
        }
        l.unlock();
        progress_("upload", done, total);
        l.lock();
      }
    }
    return first_error_;
  }

  std::shared_ptr<Client> c_;
  Reference ref_;
  TempDir tmp_;
  std::string mount_from_;
  PushStats own_stats_;
  PushStats* stats_;
  std::function<void(const std::string&, uint64_t, uint64_t)> progress_;
  std::atomic<bool> cancel_{false};
  uint64_t seq_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  int pending_ = 0;
  Status first_error_;
  std::set<Digest> queued_;
  std::vector<std::shared_ptr<Upload>> active_;
  std::unique_ptr<Executor> workers_;  // last: joined first on destruction
};

}  // namespace

Result<std::unique_ptr<ImageSourceReader>> OpenRegistrySource(std::shared_ptr<Client> client,
                                                              const Reference& ref,
                                                              const std::string& tmp_dir,
                                                              int parallel) {
  RETURN_IF_ERROR(MakeDirs(tmp_dir));
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(tmp_dir, "fetch-"));
  return std::unique_ptr<ImageSourceReader>(
      std::make_unique<RegistrySource>(std::move(client), ref, std::move(tmp), parallel));
}

Result<std::unique_ptr<ImageDestination>> OpenRegistryDestination(
    std::shared_ptr<Client> client, const Reference& ref, const std::string& tmp_dir,
    const std::string& mount_from, PushStats* stats,
    std::function<void(const std::string& item, uint64_t done, uint64_t total)> progress,
    int parallel) {
  RETURN_IF_ERROR(MakeDirs(tmp_dir));
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(tmp_dir, "upload-"));
  return std::unique_ptr<ImageDestination>(std::make_unique<RegistryDestination>(
      std::move(client), ref, std::move(tmp), mount_from, stats, std::move(progress), parallel));
}

}  // namespace cfs::registry
