#include "profile_recorder.h"

#include <algorithm>

namespace cfs::mount {

void ProfileRecorder::Note(const std::string& path, uint64_t off, uint64_t len) {
  if (len == 0) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = last_.find(path);
  if (it != last_.end()) {
    ReadProfile::Range& r = profile_.ranges[it->second];
    if (off >= r.offset && off <= r.offset + r.length) {
      r.length = std::max(r.length, off + len - r.offset);
      return;
    }
  }
  last_[path] = profile_.ranges.size();
  profile_.ranges.push_back({path, off, len});
}

ReadProfile ProfileRecorder::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  return profile_;
}

namespace {

class RecordingFile : public LowerFile {
 public:
  RecordingFile(std::unique_ptr<LowerFile> inner, std::string path, std::shared_ptr<ProfileRecorder> rec)
      : inner_(std::move(inner)), path_(std::move(path)), rec_(std::move(rec)) {}
  int fd() const override { return inner_->fd(); }
  Result<size_t> Read(uint64_t off, size_t size, char* out) override {
    ASSIGN_OR_RETURN(size_t got, inner_->Read(off, size, out));
    rec_->Note(path_, off, got);
    return got;
  }
  Result<bool> ReadPieces(uint64_t off, size_t size, std::vector<Piece>* out) override {
    ASSIGN_OR_RETURN(bool done, inner_->ReadPieces(off, size, out));
    if (done && off < inner_->size()) rec_->Note(path_, off, std::min<uint64_t>(size, inner_->size() - off));
    return done;
  }
  uint64_t size() const override { return inner_->size(); }
  Status ForEachData(const std::function<Status(uint64_t, uint64_t)>& fn) override {
    return inner_->ForEachData(fn);
  }

 private:
  std::unique_ptr<LowerFile> inner_;
  const std::string path_;
  std::shared_ptr<ProfileRecorder> rec_;
};

class RecordingLowerImpl : public Lower {
 public:
  RecordingLowerImpl(std::unique_ptr<Lower> inner, std::shared_ptr<ProfileRecorder> rec)
      : inner_(std::move(inner)), rec_(std::move(rec)) {}
  Result<LowerEntry> Stat(const std::string& path) override { return inner_->Stat(path); }
  Status ReadDir(const std::string& path, std::vector<LowerDirEntry>* out) override {
    return inner_->ReadDir(path, out);
  }
  Result<std::string> ReadLink(const std::string& path) override { return inner_->ReadLink(path); }
  Result<std::vector<std::pair<std::string, std::string>>> Xattrs(const std::string& path) override {
    return inner_->Xattrs(path);
  }
  Result<std::unique_ptr<LowerFile>> Open(const std::string& path) override {
    ASSIGN_OR_RETURN(auto f, inner_->Open(path));
    return std::unique_ptr<LowerFile>(std::make_unique<RecordingFile>(std::move(f), path, rec_));
  }
  std::vector<std::string> HardlinkAliases(const std::string& path) override {
    return inner_->HardlinkAliases(path);
  }
  std::string Describe() const override { return inner_->Describe(); }

 private:
  std::unique_ptr<Lower> inner_;
  std::shared_ptr<ProfileRecorder> rec_;
};

}  // namespace

std::unique_ptr<Lower> RecordingLower(std::unique_ptr<Lower> inner, std::shared_ptr<ProfileRecorder> rec) {
  return std::make_unique<RecordingLowerImpl>(std::move(inner), std::move(rec));
}

}  // namespace cfs::mount
