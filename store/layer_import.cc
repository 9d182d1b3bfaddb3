#include "layer_import.h"

#include <archive.h>
#include <zstd.h>

#include <cstring>
#include <deque>
#include <thread>
#include <utility>

#include "keys.h"
#include "layer/layer_rules.h"

namespace cfs {

Result<size_t> HashingSource::Read(void* buf, size_t n) {
  ASSIGN_OR_RETURN(size_t got, in_->Read(buf, n));
  if (hashing_) sha_.Update(buf, got);
  count_ += got;
  return got;
}

struct DecompressCallbacks {
  static la_ssize_t Read(struct archive* a, void* client, const void** buf) {
    auto* self = static_cast<DecompressingSource*>(client);
    auto r = self->in_->Read(self->inbuf_.data(), self->inbuf_.size());
    if (!r.ok()) {
      self->in_status_ = r.status();
      archive_set_error(a, EIO, "%s", r.status().message().c_str());
      return -1;
    }
    *buf = self->inbuf_.data();
    return static_cast<la_ssize_t>(*r);
  }
};

Result<std::unique_ptr<DecompressingSource>> DecompressingSource::Open(ByteSource* in) {
  std::unique_ptr<DecompressingSource> s(new DecompressingSource(in));
  s->inbuf_.resize(1 << 20);
  auto* a = archive_read_new();
  if (!a) return Status::IOError("archive_read_new", ENOMEM);
  s->ar_ = a;
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  if (archive_read_open(a, s.get(), nullptr, &DecompressCallbacks::Read, nullptr) != ARCHIVE_OK) {
    if (!s->in_status_.ok()) return s->in_status_;
    return Status::Corruption(std::string("cannot read layer: ") + archive_error_string(a));
  }
  struct archive_entry* e = nullptr;
  int r = archive_read_next_header(a, &e);
  if (r == ARCHIVE_EOF) return s;  // empty blob
  if (r != ARCHIVE_OK) {
    if (!s->in_status_.ok()) return s->in_status_;
    return Status::Corruption(std::string("cannot read layer: ") + archive_error_string(a));
  }
  return s;
}

Result<std::string_view> PeekSource::Peek(size_t n) {
  while (head_.size() < n) {
    char buf[64];
    ASSIGN_OR_RETURN(size_t got, in_->Read(buf, std::min(sizeof buf, n - head_.size())));
    if (got == 0) break;
    head_.append(buf, got);
  }
  return std::string_view(head_).substr(0, std::min(n, head_.size()));
}

Result<size_t> PeekSource::Read(void* buf, size_t n) {
  if (pos_ < head_.size()) {
    size_t k = std::min(n, head_.size() - pos_);
    std::memcpy(buf, head_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  return in_->Read(buf, n);
}

bool LooksCompressed(std::string_view h) {
  auto starts = [&](std::string_view m) { return h.substr(0, m.size()) == m; };
  return starts("\x1f\x8b") || starts("\x28\xb5\x2f\xfd") ||
         starts(std::string_view("\xfd" "7zXZ\x00", 6)) || starts("BZh");
}

DecompressingSource::~DecompressingSource() {
  if (ar_) archive_read_free(static_cast<struct archive*>(ar_));
}

Result<size_t> DecompressingSource::Read(void* buf, size_t n) {
  auto* a = static_cast<struct archive*>(ar_);
  la_ssize_t r = archive_read_data(a, buf, n);
  if (r < 0) {
    if (!in_status_.ok()) return in_status_;
    return Status::Corruption(std::string("cannot decompress layer: ") + archive_error_string(a));
  }
  return static_cast<size_t>(r);
}

namespace {

// A batch is handed to a worker at about this many bytes or chunks.
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kBatchChunks = 256;

// threads workers (0 or less: one per core), at most threads*4 batches waiting.
ExecutorOptions ImportWorkers(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ExecutorOptions o;
  o.threads = threads;
  o.max_queued = static_cast<size_t>(threads) * 4;
  return o;
}

// Reads s to its end (so a digest over it covers every byte).
Status Drain(ByteSource& s) {
  char sink[65536];
  for (;;) {
    ASSIGN_OR_RETURN(size_t got, s.Read(sink, sizeof sink));
    if (got == 0) return Status::Ok();
  }
}

}  // namespace

LayerImporter::LayerImporter(const Chunker& chunker, ChunkWriter* chunks, int threads)
    : chunker_(chunker), chunks_(chunks), workers_(ImportWorkers(threads)) {}

LayerImporter::~LayerImporter() = default;

std::string LayerImporter::TakeBuffer() {
  std::string b;
  {
    MutexLock l(&mu_);
    if (!free_buffers_.empty()) {
      b = std::move(free_buffers_.back());
      free_buffers_.pop_back();
    }
  }
  b.resize(kBatchBytes + 2 * static_cast<size_t>(chunker_.params().max_size));
  return b;
}

void LayerImporter::GiveBuffer(std::string b) {
  MutexLock l(&mu_);
  if (free_buffers_.size() < 16) free_buffers_.push_back(std::move(b));
}

// The writer skips chunks the store or this pull has, and compresses the
// rest.
void LayerImporter::StoreBatch(ChunkBatch& b, LayerImportResult* r) {
  std::vector<ChunkPut> puts;
  puts.reserve(b.cuts.size());
  for (const auto& c : b.cuts) {
    std::string_view data(b.buf.data() + c.offset, c.size);
    c.out->digest = Digest::Of(data);
    c.out->size = c.size;
    puts.push_back({c.out->digest, data});
  }
  if (failed_.load(std::memory_order_relaxed)) return;  // the import is lost anyway
  auto added = chunks_->PutMany(puts);
  GiveBuffer(std::move(b.buf));
  if (added.ok() && added->chunks == 0) return;  // had them all: no lock on the dedup path
  MutexLock l(&mu_);
  if (!added.ok()) {
    if (error_.ok()) error_ = added.status();
    failed_.store(true, std::memory_order_relaxed);
    return;
  }
  r->chunks_new += added->chunks;
  r->bytes_new += added->bytes;
}

void LayerImporter::Submit(ChunkBatch& b, TaskGroup* group, LayerImportResult* r) {
  ChunkBatch next;
  next.buf = TakeBuffer();
  std::memcpy(next.buf.data(), b.buf.data() + b.start, b.end - b.start);
  next.end = b.end - b.start;
  if (!b.cuts.empty()) {
    group->Submit([this, r, done = std::move(b)]() mutable { StoreBatch(done, r); });
  } else {
    GiveBuffer(std::move(b.buf));
  }
  b = std::move(next);
}

Status LayerImporter::Fill(TarReader& reader, const TocEntry& e, size_t want, ChunkBatch& b,
                           uint64_t* unread) {
  while (b.end - b.start < want) {
    ASSIGN_OR_RETURN(size_t got, reader.ReadPayload(b.buf.data() + b.end,
                                                    std::min<uint64_t>(b.buf.size() - b.end, *unread)));
    if (got == 0) return Status::Corruption("truncated payload of \"" + e.name + "\"");
    b.end += got;
    *unread -= got;
  }
  return Status::Ok();
}

Status LayerImporter::ChunkPayload(TarReader& reader, const TocEntry& e, ChunkBatch& b,
                                   TaskGroup* group, std::deque<ChunkRef>* refs,
                                   LayerImportResult* r) {
  const size_t max = chunker_.params().max_size;
  uint64_t unread = e.size;
  while (unread > 0 || b.end > b.start) {
    // The chunker needs min(max, bytes left in this file) from b.start on.
    size_t want = static_cast<size_t>(std::min<uint64_t>(max, (b.end - b.start) + unread));
    if (b.start + want > b.buf.size()) Submit(b, group, r);
    RETURN_IF_ERROR(Fill(reader, e, want, b, &unread));
    size_t cut = chunker_.NextCut(reinterpret_cast<const uint8_t*>(b.buf.data()) + b.start, want);
    refs->emplace_back();
    b.cuts.push_back({b.start, static_cast<uint32_t>(cut), &refs->back()});
    b.start += cut;
    if (b.start >= kBatchBytes || b.cuts.size() >= kBatchChunks) Submit(b, group, r);
  }
  return Status::Ok();
}

Result<LayerImportResult> LayerImporter::Import(ByteSource& blob, const Digest& want_blob,
                                                const Digest& want_diff_id,
                                                const std::string& what,
                                                const ProgressFn& progress,
                                                uint64_t blob_size_hint) {
  LayerImportResult r;
  HashingSource compressed(&blob);
  PeekSource peek(&compressed);
  ASSIGN_OR_RETURN(std::string_view head, peek.Peek(8));
  // A plain tar is read directly and is its own diffID: hash it once.
  const bool same_bytes = !LooksCompressed(head);
  std::unique_ptr<DecompressingSource> plain;
  if (!same_bytes) {
    ASSIGN_OR_RETURN(plain, DecompressingSource::Open(&peek));
  }
  HashingSource tar(same_bytes ? static_cast<ByteSource*>(&peek) : plain.get());
  if (same_bytes) tar.DisableHashing();
  // The tar reader reads headers of 512 bytes and small payloads: in 1 MiB
  // blocks from below.
  BufferedSource blocks(&tar, 1 << 20);
  TarReader reader(&blocks);
  // Refuses a bad entry before its data is stored (CheckLayer, after the
  // import, also resolves hard links into the layers below).
  LayerRules rules;
  std::deque<ChunkRef> refs;  // stable addresses while workers fill them in
  TaskGroup group(&workers_);  // after refs and r: waited for before they go
  ChunkBatch batch;
  batch.buf = TakeBuffer();
  uint64_t next_progress = 0;
  Status st;
  TocEntry e;
  for (;;) {
    auto more = reader.Next(&e);
    if (!more.ok() || !*more) {
      st = more.status();
      break;
    }
    st = rules.Add(e);
    if (!st.ok()) break;
    e.first_chunk = static_cast<uint32_t>(refs.size());
    st = ChunkPayload(reader, e, batch, &group, &refs, &r);
    if (!st.ok()) break;
    e.num_chunks = static_cast<uint32_t>(refs.size()) - e.first_chunk;
    r.toc.entries.push_back(std::move(e));
    e = TocEntry();
    if (progress && compressed.count() >= next_progress) {
      progress({"", what, compressed.count(), blob_size_hint});
      next_progress = compressed.count() + (8 << 20);
    }
  }
  if (st.ok()) Submit(batch, &group, &r);
  group.Wait();
  {
    MutexLock l(&mu_);
    if (st.ok() && !error_.ok()) st = error_;
    error_ = Status::Ok();
    failed_.store(false, std::memory_order_relaxed);
  }
  if (!st.ok()) return st.Prefix(what);
  RETURN_IF_ERROR(Drain(tar).Prefix(what));
  RETURN_IF_ERROR(Drain(compressed).Prefix(what));
  r.split = reader.TakeSplit();
  r.links_below = rules.below();
  r.toc.chunks.assign(refs.begin(), refs.end());
  r.toc.tar_size = tar.count();
  r.blob_digest = compressed.Finish();
  r.toc.diff_id = same_bytes ? r.blob_digest : tar.Finish();
  r.blob_size = compressed.count();
  if (!want_blob.IsZero() && r.blob_digest != want_blob)
    return Status::Corruption(what + ": blob digest is " + r.blob_digest.ToString() +
                              ", expected " + want_blob.ToString());
  if (!want_diff_id.IsZero() && r.toc.diff_id != want_diff_id)
    return Status::Corruption(what + ": uncompressed digest is " + r.toc.diff_id.ToString() +
                              ", config says " + want_diff_id.ToString());
  if (progress) progress({"", what, r.blob_size, r.blob_size});
  return r;
}

std::vector<Digest> DistinctChunks(const LayerToc& toc) {
  DigestSet seen;
  seen.reserve(toc.chunks.size());
  std::vector<Digest> out;
  for (const auto& c : toc.chunks)
    if (seen.insert(c.digest).second) out.push_back(c.digest);
  return out;
}

Status CommitLayerRecords(Index& w, const LayerImportResult& r, ChunkWriter& chunks) {
  // The tar-split (512 bytes a header, compressed) is encoded on a thread of
  // its own, beside the chunk look-ups and the TOC: with a million entries
  // each takes a second or more, all inside the writer session.
  std::string split;
  Executor encoder(1);
  TaskGroup encoding(&encoder);
  encoding.Submit([&split, &r] { split = r.split.Encode(); });
  Index::Batch b;
  Status st = chunks.IndexInto(w, DistinctChunks(r.toc), &b);
  std::string toc = st.ok() ? r.toc.Encode() : std::string();
  encoding.Wait();
  RETURN_IF_ERROR(st);
  b.Put(key::Toc(r.toc.diff_id), toc);
  b.Put(key::Split(r.toc.diff_id), split);
  // A partial (lazily fetched) record of the layer is complete now.
  b.Delete(key::PartialToc(r.toc.diff_id));
  b.Delete(key::PartialRest(r.toc.diff_id));
  return w.Write(b);
}

}  // namespace cfs
