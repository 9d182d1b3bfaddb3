#include "profile_recorder.h"

#include <algorithm>
#include <vector>

namespace cfs::mount {

namespace {

// r grown to cover [off, off+len) when the two overlap or touch.
bool Absorb(ReadProfile::Range& r, uint64_t off, uint64_t len) {
  if (off > r.offset + r.length || off + len < r.offset) return false;
  const uint64_t end = std::max(r.offset + r.length, off + len);
  r.offset = std::min(r.offset, off);
  r.length = end - r.offset;
  return true;
}

}  // namespace

void ProfileRecorder::Note(const std::string& path, uint64_t off, uint64_t len) {
  if (len == 0) return;
  std::lock_guard<std::mutex> l(mu_);
  std::vector<size_t>& mine = by_path_[path];
  for (size_t i : mine)
    if (Absorb(profile_.ranges[i], off, len)) return;
  mine.push_back(profile_.ranges.size());
  profile_.ranges.push_back({path, off, len});
}

ReadProfile ProfileRecorder::Snapshot() const {
  std::lock_guard<std::mutex> l(mu_);
  // Reads served out of order by parallel requests (read-ahead) may have
  // left ranges of a file that touch: each goes into the first of them.
  std::vector<bool> gone(profile_.ranges.size(), false);
  ReadProfile out = profile_;
  for (const auto& [path, idx] : by_path_)
    for (size_t a = 0; a < idx.size(); a++)
      for (size_t b = a + 1; b < idx.size(); b++) {
        if (gone[idx[a]] || gone[idx[b]]) continue;
        const ReadProfile::Range& r = out.ranges[idx[b]];
        if (Absorb(out.ranges[idx[a]], r.offset, r.length)) {
          gone[idx[b]] = true;
          b = a;  // grown: look at the others again
        }
      }
  ReadProfile kept;
  for (size_t i = 0; i < out.ranges.size(); i++)
    if (!gone[i]) kept.ranges.push_back(std::move(out.ranges[i]));
  return kept;
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
