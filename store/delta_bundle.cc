// The volumes of a delta bundle: ustar archives written and read with
// libarchive (delta_bundle.h; FORMAT.md "Delta bundles").
#include "delta_bundle.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "base/coding.h"
#include "base/io.h"
#include "transport/archive_handles.h"

namespace cfs {

using nlohmann::json;

namespace {

constexpr uint64_t kBlock = 512;
constexpr uint64_t kMaxPack = 16 << 20;            // a pack entry, when writing
constexpr uint64_t kMaxPackRead = 64 << 20;        // ... and the most a reader accepts
constexpr uint64_t kMaxMetadataFile = 1ull << 30;  // one TOC of a huge layer
constexpr uint64_t kMaxSmallFile = 64 << 10;       // headers and end markers
constexpr uint32_t kMaxChunk = 64 << 20;
constexpr size_t kRecordHead = 32 + 4 + 4;

// The bytes a member of n payload bytes takes in a ustar archive.
uint64_t EntryCost(uint64_t n) { return kBlock + (n + kBlock - 1) / kBlock * kBlock; }

// What the end of a volume needs: its end marker and the tar trailer.
constexpr uint64_t kVolumeTail = 2 * kBlock + 2 * kBlock;

std::string VolumePath(const std::string& file, uint64_t split, size_t n) {
  if (split == 0) return file;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, ".%03zu", n);
  return file + suffix;
}

la_ssize_t SinkWrite(struct archive*, void* client, const void* buf, size_t n);

}  // namespace

// ---------------------------------------------------------------- writing

// One volume being written: its temporary file and archive.
class DeltaVolumeWriter {
 public:
  DeltaVolumeWriter(std::string path, size_t number) : path_(std::move(path)), number_(number) {}

  Status Open() {
    ASSIGN_OR_RETURN(sink_, AtomicFileSink::Create(path_));
    a_.reset(archive_write_new());
    if (!a_) return Status::IOError("archive_write_new", ENOMEM);
    // Blocks of 512 bytes, none padded: the size is the sum of EntryCost
    // plus the trailer, which the split accounting relies on.
    if (archive_write_set_format_ustar(a_.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a_.get(), static_cast<int>(kBlock)) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_.get(), 1) != ARCHIVE_OK ||
        archive_write_open(a_.get(), this, nullptr, SinkWrite, nullptr) != ARCHIVE_OK)
      return Fail("open");
    return Status::Ok();
  }

  Status Put(const std::string& name, std::string_view data) {
    ArchiveEntry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(data.size()));
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return Fail("header of " + name);
    if (!data.empty() && archive_write_data(a_.get(), data.data(), data.size()) !=
                             static_cast<la_ssize_t>(data.size()))
      return Fail("data of " + name);
    used_ += EntryCost(data.size());
    return Status::Ok();
  }

  // Writes the end marker and the trailer; the file stays temporary.
  Status Close(bool last) {
    json end = {{"volume", number_}, {"last", last}, {"chunks", chunks_}};
    RETURN_IF_ERROR(Put(kDeltaEndName, end.dump()));
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Fail("close");
    return Status::Ok();
  }
  Status Commit() { return sink_->Commit(); }

  uint64_t used() const { return used_; }
  size_t number() const { return number_; }
  void CountChunks(uint64_t n) { chunks_ += n; }
  const std::string& path() const { return path_; }
  Status WriteRaw(const void* buf, size_t n) {
    sink_status_ = sink_->Write(buf, n);
    return sink_status_;
  }

 private:
  Status Fail(const std::string& what) {
    if (!sink_status_.ok()) return sink_status_.Prefix(path_);
    return Status::IOError(path_ + ": " + what + ": " + ArchiveError(a_.get()), EIO);
  }

  std::string path_;
  size_t number_;
  std::unique_ptr<AtomicFileSink> sink_;
  ArchiveWriter a_;
  Status sink_status_;
  uint64_t used_ = 0, chunks_ = 0;
};

namespace {
la_ssize_t SinkWrite(struct archive*, void* client, const void* buf, size_t n) {
  auto* v = static_cast<DeltaVolumeWriter*>(client);
  return v->WriteRaw(buf, n).ok() ? static_cast<la_ssize_t>(n) : -1;
}
}  // namespace

Result<std::unique_ptr<DeltaBundleWriter>> DeltaBundleWriter::Create(const std::string& file,
                                                                     uint64_t split_size) {
  if (split_size != 0 && split_size < kDeltaMinSplit)
    return Status::Invalid("--split-size " + std::to_string(split_size) + ": at least " +
                           std::to_string(kDeltaMinSplit) + " bytes (1M)");
  return std::unique_ptr<DeltaBundleWriter>(new DeltaBundleWriter(file, split_size));
}

DeltaBundleWriter::DeltaBundleWriter(std::string file, uint64_t split)
    : file_(std::move(file)), split_(split) {}

DeltaBundleWriter::~DeltaBundleWriter() = default;

uint64_t DeltaBundleWriter::PackLimit() const {
  if (split_ == 0) return kMaxPack;
  return std::min<uint64_t>(kMaxPack, (split_ - 4 * kBlock - kVolumeTail) / 2);
}

Status DeltaBundleWriter::OpenVolume() {
  size_t n = volumes_.size() + 1;
  auto v = std::make_unique<DeltaVolumeWriter>(VolumePath(file_, split_, n), n);
  RETURN_IF_ERROR(v->Open());
  json head = {{"format", kDeltaFormat}, {"bundle", bundle_}, {"volume", n}};
  RETURN_IF_ERROR(v->Put(kDeltaHeaderName, head.dump()));
  volumes_.push_back(std::move(v));
  return Status::Ok();
}

Status DeltaBundleWriter::PutIndex(const std::string& index_json) {
  if (!volumes_.empty()) return Status::Invalid("delta bundle: the index goes first");
  bundle_ = Digest::Of(index_json).ToString();
  RETURN_IF_ERROR(OpenVolume());
  return PutFile("index.json", index_json);
}

Status DeltaBundleWriter::PutFile(const std::string& name, std::string_view data) {
  if (volumes_.size() != 1 || packs_ != 0 || !pack_.empty())
    return Status::Invalid("delta bundle: metadata file " + name + " after the chunks");
  DeltaVolumeWriter& v = *volumes_.back();
  if (split_ != 0 && v.used() + EntryCost(data.size()) + kVolumeTail + EntryCost(PackLimit()) > split_)
    return Status::Invalid("--split-size " + std::to_string(split_) +
                           " is too small: volume 1 must hold the bundle's metadata (layer "
                           "TOCs and tar-splits, manifests, configs); give a larger one");
  return v.Put(name, data);
}

Status DeltaBundleWriter::PutChunk(const ChunkRef& c, std::string_view frame) {
  if (volumes_.empty()) return Status::Invalid("delta bundle: chunks before the index");
  const size_t r = kRecordHead + frame.size();
  if (!pack_.empty() && pack_.size() + r > PackLimit()) RETURN_IF_ERROR(FlushPack());
  pack_.append(c.digest.Raw());
  PutFixed32(&pack_, c.size);
  PutFixed32(&pack_, static_cast<uint32_t>(frame.size()));
  pack_.append(frame);
  pack_chunks_++;
  return Status::Ok();
}

Status DeltaBundleWriter::FlushPack() {
  if (pack_.empty()) return Status::Ok();
  if (split_ != 0 && volumes_.back()->used() + EntryCost(pack_.size()) + kVolumeTail > split_) {
    RETURN_IF_ERROR(volumes_.back()->Close(false));
    RETURN_IF_ERROR(OpenVolume());
  }
  char name[32];
  std::snprintf(name, sizeof name, "chunks/%06llu", static_cast<unsigned long long>(packs_));
  RETURN_IF_ERROR(volumes_.back()->Put(name, pack_));
  volumes_.back()->CountChunks(pack_chunks_);
  packs_++;
  pack_.clear();
  pack_chunks_ = 0;
  return Status::Ok();
}

Result<std::vector<std::string>> DeltaBundleWriter::Finish() {
  if (volumes_.empty()) return Status::Invalid("delta bundle: no index");
  RETURN_IF_ERROR(FlushPack());
  RETURN_IF_ERROR(volumes_.back()->Close(true));
  std::vector<std::string> paths;
  for (auto& v : volumes_) {
    RETURN_IF_ERROR(v->Commit());
    paths.push_back(v->path());
  }
  return paths;
}

// ---------------------------------------------------------------- reading

namespace {

// One volume being read.
class VolumeReader {
 public:
  explicit VolumeReader(std::string path) : path_(std::move(path)) {}

  Status Open() {
    a_.reset(archive_read_new());
    if (!a_) return Status::IOError("archive_read_new", ENOMEM);
    archive_read_support_format_tar(a_.get());
    if (archive_read_open_filename(a_.get(), path_.c_str(), 1 << 16) != ARCHIVE_OK) {
      if (archive_errno(a_.get()) == ENOENT) return Status::NotFound(path_ + ": no such file");
      return Status::Invalid(path_ + ": not a delta bundle (" + ArchiveError(a_.get()) + ")");
    }
    return Status::Ok();
  }

  // The next member's name and bytes (at most limit); false at the end.
  Result<bool> Next(std::string* name, std::string* data, uint64_t limit) {
    struct archive_entry* e = nullptr;
    int r = archive_read_next_header(a_.get(), &e);
    if (r == ARCHIVE_EOF) return false;
    if (r < ARCHIVE_WARN) return Corrupt(ArchiveError(a_.get()));
    *name = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
    if (archive_entry_filetype(e) != AE_IFREG) return Corrupt("member " + *name + " is not a file");
    const la_int64_t size = archive_entry_size(e);
    if (size < 0 || static_cast<uint64_t>(size) > limit)
      return Corrupt("member " + *name + " is larger than the format allows");
    data->resize(static_cast<size_t>(size));
    size_t got = 0;
    while (got < data->size()) {
      la_ssize_t n = archive_read_data(a_.get(), data->data() + got, data->size() - got);
      if (n == ARCHIVE_WARN) continue;
      if (n <= 0) return Corrupt("member " + *name + ": " + (n < 0 ? ArchiveError(a_.get()) : "truncated"));
      got += static_cast<size_t>(n);
    }
    return true;
  }

  Status Corrupt(const std::string& what) const {
    return Status::Corruption(path_ + ": " + what);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  ArchiveReader a_;
};

struct VolumeHead {
  std::string path, bundle;
  int volume = 0;
};

Result<VolumeHead> ReadHead(VolumeReader& r) {
  std::string name, data;
  auto more = r.Next(&name, &data, kMaxSmallFile);
  if (!more.ok() || !*more || name != kDeltaHeaderName)
    return Status::Invalid(r.path() + ": not a delta bundle volume (no " +
                           std::string(kDeltaHeaderName) + " first)");
  json h = json::parse(data, nullptr, false);
  if (!h.is_object() || h.value("format", "") != kDeltaFormat || !h.contains("volume") ||
      !h["volume"].is_number_integer() || h["volume"].get<int>() < 1 ||
      !h.contains("bundle") || !h["bundle"].is_string())
    return Status::Invalid(r.path() + ": " + kDeltaHeaderName + " is not a " + kDeltaFormat +
                           " header");
  return VolumeHead{r.path(), h["bundle"].get<std::string>(), h["volume"].get<int>()};
}

// Checks the headers of all files: one bundle, volumes 1..N without gaps
// or repeats. Returns them in volume order.
Result<std::vector<VolumeHead>> OrderVolumes(const std::vector<std::string>& files) {
  std::vector<VolumeHead> heads;
  for (const auto& f : files) {
    VolumeReader r(f);
    RETURN_IF_ERROR(r.Open());
    ASSIGN_OR_RETURN(VolumeHead h, ReadHead(r));
    if (!heads.empty() && h.bundle != heads[0].bundle)
      return Status::Invalid(f + ": a volume of another delta bundle than " + heads[0].path);
    heads.push_back(std::move(h));
  }
  if (heads.empty()) return Status::Invalid("delta bundle: no volume given");
  std::sort(heads.begin(), heads.end(),
            [](const VolumeHead& a, const VolumeHead& b) { return a.volume < b.volume; });
  for (size_t i = 0; i < heads.size(); i++) {
    const int want = static_cast<int>(i) + 1;
    if (heads[i].volume == want) continue;
    if (heads[i].volume < want)
      return Status::Invalid(heads[i].path + ": volume " + std::to_string(heads[i].volume) +
                             " given twice (also " + heads[i - 1].path + ")");
    return Status::Invalid("delta bundle: volume " + std::to_string(want) +
                           " is missing (give every volume: " + heads[0].path + "...)");
  }
  return heads;
}

Status ReadPack(const VolumeReader& r, const std::string& name, std::string_view pack,
                const DeltaChunkFn& on_chunk, uint64_t* count) {
  size_t at = 0;
  while (at < pack.size()) {
    if (pack.size() - at < kRecordHead) return r.Corrupt(name + ": truncated chunk record");
    ChunkRef c;
    c.digest = Digest::FromRaw(pack.substr(at, 32));
    c.size = DecodeFixed32(pack.data() + at + 32);
    const uint32_t zlen = DecodeFixed32(pack.data() + at + 36);
    at += kRecordHead;
    if (c.size > kMaxChunk || zlen > pack.size() - at)
      return r.Corrupt(name + ": chunk record " + c.digest.ToString() + " has impossible sizes");
    RETURN_IF_ERROR(on_chunk(c, pack.substr(at, zlen)).Prefix(r.path()));
    at += zlen;
    (*count)++;
  }
  return Status::Ok();
}

bool IsMetadataName(const std::string& n) {
  return n.rfind("blobs/", 0) == 0 || n.rfind("layers/", 0) == 0;
}

// Reads one volume after its header. Volume 1: index and metadata first,
// then on_metadata, then chunks. Sets *last from the end marker.
Status ReadVolume(const VolumeHead& h, DeltaBundleContents* out, const DeltaMetadataFn& on_metadata,
                  const DeltaChunkFn& on_chunk, bool* last) {
  VolumeReader r(h.path);
  RETURN_IF_ERROR(r.Open());
  RETURN_IF_ERROR(ReadHead(r).status());
  bool metadata_done = h.volume != 1, ended = false;
  uint64_t chunks = 0;
  std::string name, data;
  for (;;) {
    const uint64_t limit = metadata_done ? kMaxPackRead : kMaxMetadataFile;
    ASSIGN_OR_RETURN(bool more, r.Next(&name, &data, limit));
    if (!more) break;
    if (ended) return r.Corrupt("member " + name + " after " + kDeltaEndName);
    if (!metadata_done && name == "index.json" && out->index_json.empty()) {
      if (Digest::Of(data).ToString() != h.bundle)
        return r.Corrupt("index.json does not match the bundle id " + h.bundle);
      out->index_json = std::move(data);
    } else if (!metadata_done && IsMetadataName(name) && !out->index_json.empty()) {
      out->files[name] = std::move(data);
    } else if (name.rfind("chunks/", 0) == 0 || name == kDeltaEndName) {
      if (!metadata_done) {
        if (out->index_json.empty()) return r.Corrupt("no index.json in volume 1");
        metadata_done = true;
        RETURN_IF_ERROR(on_metadata(*out));
      }
      if (name == kDeltaEndName) {
        json e = json::parse(data, nullptr, false);
        if (!e.is_object() || e.value("volume", 0) != h.volume || !e.contains("last") ||
            !e["last"].is_boolean() || e.value("chunks", uint64_t{0}) != chunks)
          return r.Corrupt(std::string(kDeltaEndName) + " does not match the volume");
        *last = e["last"].get<bool>();
        ended = true;
      } else {
        RETURN_IF_ERROR(ReadPack(r, name, data, on_chunk, &chunks));
      }
    } else {
      return r.Corrupt("unexpected member " + name);
    }
  }
  if (!ended) return r.Corrupt("truncated (no " + std::string(kDeltaEndName) + ")");
  out->chunks += chunks;
  return Status::Ok();
}

}  // namespace

bool IsDeltaBundleFile(const std::string& file) {
  VolumeReader r(file);
  if (!r.Open().ok()) return false;
  return ReadHead(r).ok();
}

Result<DeltaBundleContents> ReadDeltaBundle(const std::vector<std::string>& files,
                                            const DeltaMetadataFn& on_metadata,
                                            const DeltaChunkFn& on_chunk) {
  ASSIGN_OR_RETURN(std::vector<VolumeHead> heads, OrderVolumes(files));
  DeltaBundleContents out;
  out.bundle = heads[0].bundle;
  for (size_t i = 0; i < heads.size(); i++) {
    bool last = false;
    RETURN_IF_ERROR(ReadVolume(heads[i], &out, on_metadata, on_chunk, &last));
    const bool final_given = i + 1 == heads.size();
    if (last && !final_given)
      return Status::Invalid(heads[i + 1].path + ": volume " +
                             std::to_string(heads[i + 1].volume) + " is past the bundle's last (" +
                             std::to_string(heads[i].volume) + ")");
    if (!last && final_given)
      return Status::Invalid("delta bundle: volume " + std::to_string(heads[i].volume + 1) +
                             " is missing (the bundle goes on after " + heads[i].path + ")");
  }
  out.volumes = static_cast<int>(heads.size());
  return out;
}

}  // namespace cfs
