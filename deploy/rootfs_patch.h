// Chunk-level updates of big files on a host that holds an older version
// (a re-deploy, or a deploy of the next version of an image): only the
// chunks the host's copy lacks travel, and the host rebuilds the file from
// its old copy plus those bytes (deploy/host/patch_files.sh), checks the
// result's SHA-256, and renames it over the old one: a crash leaves the old
// file or the new one, never a mix.
//
// The host keeps the chunk lists of its big files next to its record
// (/var/lib/cimg/<cluster>/chunks.gz), one line per file:
//   <path> TAB <sha256 hex>:<size>,<sha256 hex>:<size>,...
// written with the record after every transfer.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/rootfs_transfer.h"
#include "layer/layer_stack.h"

namespace cfs::deploy {

// Files smaller than this are sent whole.
constexpr uint64_t kPatchMinSize = 1 << 20;

using ChunkLists = std::map<std::string, std::vector<ChunkRef>>;

// The chunk lists of the plan's files a later transfer may patch: regular
// files from the image (not rendered), at least kPatchMinSize, without
// xattrs, not sharing their data with a hard link, with a path free of
// tabs, newlines and backslashes.
std::string EncodeChunkLists(const LayerStack& stack, const RootfsPlan& plan);
Result<ChunkLists> DecodeChunkLists(const std::string& data);

// One file rebuilt on the host: its bytes, in order, are ranges of the old
// copy (from_old) or of the stream's data (the new chunks, concatenated).
struct FilePatch {
  struct Range {
    bool from_old = false;
    uint64_t offset = 0, length = 0;  // in the old file, or in the data
  };
  size_t entry = 0;                 // index into plan.entries
  std::vector<Range> ranges;        // adjacent ranges merged
  // The file's chunks (positions in its chunk list) whose bytes form the
  // data, in order: the first use of each chunk the old copy lacks.
  std::vector<uint32_t> new_at;
  uint64_t new_bytes = 0;
};

// Moves from delta->send to the result the files worth patching: those the
// host holds an older copy of (old chunk lists) that shares chunks with the
// new one, whose new bytes are at most half of the file. delta->send_bytes
// is lowered by what the patches leave out.
std::vector<FilePatch> PlanPatches(const LayerStack& stack, const RootfsPlan& plan,
                                   const ChunkLists& old, RootfsDelta* delta);

// The recipe patch_files.sh reads: per file
//   F <sha256 hex of the new file> <mode octal> <uid> <gid> <mtime sec.nsec> <size> <path>
//   O|N <offset> <length>      (a range of the old file | of the data)
//   E
// sha256s[i]: the new content of patches[i].
std::string EncodeRecipe(const LayerStack& stack, const RootfsPlan& plan,
                         const std::vector<FilePatch>& patches,
                         const std::vector<std::string>& sha256s);

// Writes the patch stream of `patches` to fd (then closes it), a compressed
// ("zstd" or "gzip") tar of two members: `data`, the new chunks, and
// `recipe` (EncodeRecipe). Reads every chunk of each file (verified), to
// hash the new content. `done` (optional) counts the data bytes written.
// Defined in rootfs_transfer.cc, beside WriteRootfsTar (one tar stream).
Status WritePatchStream(const LayerStack& stack, ChunkSource& chunks, const RootfsPlan& plan,
                        const std::vector<FilePatch>& patches, const std::string& compression,
                        int fd, std::atomic<uint64_t>* done = nullptr);

}  // namespace cfs::deploy
