// The image store's keys in the chunk store's Index (chunkstore/chunk_store.h;
// "c" is the chunk store's own). Values: FORMAT.md "Index".
//   "t" diff_id[32]  -> LayerToc, encoded
//   "s" diff_id[32]  -> TarSplit, encoded
//   "b" digest[32]   -> blob bytes (manifests, configs)
//   "i" digest[32]   -> image record JSON, keyed by manifest digest
//   "l" digest[32]   -> image list record JSON, keyed by index digest (a
//                       multi-platform image: store/image_list.cc)
//   "n" name         -> manifest or index digest ("sha256:…"), for tags
//   "p" diff_id[32]  -> LayerToc of a partial (lazily fetched) layer
//   "q" diff_id[32]  -> its TarSplit and chunk blob ranges (store/zstd_chunked_reader.h)
//   "k" key[32]      -> build cache entry (JSON, builder/)
//   "f" path         -> digest cache record of a build context file: u64le
//                       last use (unix seconds), then builder/'s bytes
// Private to store/.
#pragma once

#include <string>

#include "base/digest.h"

namespace cfs {
namespace key {
inline std::string Toc(const Digest& d) { return "t" + std::string(d.Raw()); }
inline std::string Split(const Digest& d) { return "s" + std::string(d.Raw()); }
inline std::string Blob(const Digest& d) { return "b" + std::string(d.Raw()); }
inline std::string Image(const Digest& d) { return "i" + std::string(d.Raw()); }
inline std::string List(const Digest& d) { return "l" + std::string(d.Raw()); }
inline std::string Name(const std::string& n) { return "n" + n; }
inline std::string BuildCache(const Digest& d) { return "k" + std::string(d.Raw()); }
inline constexpr char kDigestRecordPrefix[] = "f";
inline std::string DigestRecord(const std::string& path) { return kDigestRecordPrefix + path; }
inline std::string PartialToc(const Digest& d) { return "p" + std::string(d.Raw()); }
inline std::string PartialRest(const Digest& d) { return "q" + std::string(d.Raw()); }
}  // namespace key
}  // namespace cfs
