// The image store's side of lazy pulls: partial layers, single-layer
// imports, and the chunk stash a lazy mount reads through and adds fetched
// chunks to (the chunk store's).

#include "layer_import.h"
#include "store_impl.h"
#include "base/coding.h"

namespace cfs {

namespace {

// "q" value: u64 version, [u64 split length, split: version 1 only], u64
// n, n x (offset, length, flags). Version 2: known from its TOC alone (no
// tar-split).
std::string EncodeRest(const ChunkedLayer& l) {
  std::string out;
  PutFixed64(&out, l.has_split ? 1 : 2);
  if (l.has_split) {
    std::string split = l.split.Encode();
    PutFixed64(&out, split.size());
    out += split;
  }
  PutFixed64(&out, l.where.size());
  for (const auto& w : l.where) {
    PutFixed64(&out, w.offset);
    PutFixed64(&out, w.length);
    PutFixed64(&out, w.zeros ? 1 : 0);
  }
  return out;
}

Status DecodeRest(std::string_view v, ChunkedLayer* l) {
  auto bad = [] { return Status::Corruption("partial layer record is damaged"); };
  if (v.size() < 8) return bad();
  const uint64_t version = DecodeFixed64(v.data());
  if (version != 1 && version != 2) return bad();
  size_t p = 8;
  l->has_split = version == 1;
  if (l->has_split) {
    if (v.size() < 16) return bad();
    uint64_t n = DecodeFixed64(v.data() + 8);
    if (n > v.size() - 16) return bad();
    ASSIGN_OR_RETURN(l->split, TarSplit::Decode(v.substr(16, n)));
    p = 16 + n;
  }
  if (v.size() - p < 8) return bad();
  uint64_t count = DecodeFixed64(v.data() + p);
  p += 8;
  if (count > (v.size() - p) / 24) return bad();
  l->where.resize(count);
  for (auto& w : l->where) {
    w.offset = DecodeFixed64(v.data() + p);
    w.length = DecodeFixed64(v.data() + p + 8);
    w.zeros = DecodeFixed64(v.data() + p + 16) & 1;
    p += 24;
  }
  return Status::Ok();
}

}  // namespace

Status Store::PutPartialLayer(const ChunkedLayer& l) {
  if (l.where.size() != l.toc.chunks.size())
    return Status::Invalid("partial layer: chunk ranges do not match the TOC");
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  Index::Batch b;
  b.Put(key::PartialToc(l.toc.diff_id), l.toc.Encode());
  b.Put(key::PartialRest(l.toc.diff_id), EncodeRest(l));
  return w->Write(b);
}

Result<std::optional<ChunkedLayer>> Store::GetPartialLayer(const Digest& diff_id) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(auto t, ix->Get(key::PartialToc(diff_id)));
  ASSIGN_OR_RETURN(auto r, ix->Get(key::PartialRest(diff_id)));
  if (!t || !r) return std::optional<ChunkedLayer>();
  ChunkedLayer l;
  ASSIGN_OR_RETURN(l.toc, LayerToc::Decode(*t));
  RETURN_IF_ERROR(DecodeRest(*r, &l).Prefix("layer " + diff_id.ToString()));
  if (l.where.size() != l.toc.chunks.size())
    return Status::Corruption("layer " + diff_id.ToString() + ": partial record is inconsistent");
  return std::optional<ChunkedLayer>(std::move(l));
}

Status Store::ImportLayer(ImageSourceReader& src, const Descriptor& d, const Digest& diff_id,
                          const ProgressFn& progress) {
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto snapshot, impl_->Reader());
  ASSIGN_OR_RETURN(auto have, snapshot->Get(key::Toc(diff_id)));
  if (have) return Status::Ok();
  auto chunks = impl_->chunks->NewWriter(snapshot.get());
  LayerImporter importer(impl_->chunks->chunker(), chunks.get(), impl_->opts.threads);
  const std::string what = "layer " + d.digest.ToString();
  ASSIGN_OR_RETURN(auto blob, src.OpenBlob(d));
  ASSIGN_OR_RETURN(LayerImportResult r,
                   importer.Import(*blob, d.digest, diff_id, what, progress, d.size));
  RETURN_IF_ERROR(chunks->Sync());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  return importer.Commit(*w, r).Prefix(what);
}

Result<std::unique_ptr<Store::ChunkStash>> Store::OpenChunkStash() {
  return impl_->chunks->OpenStash();
}

}  // namespace cfs
