// The image store: images (manifests, configs, names), their layers (TOC,
// tar-split, partial layers) and the build cache, kept in the index of a
// chunk store (chunkstore/chunk_store.h), whose root it shares:
//
//   ROOT/index/ ROOT/packs/ ROOT/leases/ ...   the chunk store's
//   ROOT/tmp/          scratch: unpacked archives, build work dirs, index readers
//
// Any number of processes may use one root at once (see index.h). Every
// public method is thread-safe unless it says otherwise.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/file_identity.h"
#include "base/digest.h"
#include "base/env.h"
#include "base/status.h"
#include "chunkstore/chunk_store.h"
#include "layer/chunk_source.h"
#include "layer/layer_writer.h"
#include "layer/toc.h"
#include "layer/zstd_chunked_reader.h"
#include "transport/image_source.h"

namespace cfs {

// $CIMG_ROOT, else /var/lib/cimg.
std::string DefaultStoreRoot();

struct StoreOptions {
  std::string root;  // Default: DefaultStoreRoot()
  // Used when the store is created, then fixed (read from store.json).
  ChunkerParams chunker;
  // zstd level for newly stored chunks; may change any time. Default: 1.
  int compression_level = 1;
  // Worker threads for hashing and compression. Default: 0 = all cores.
  int threads = 0;
  // Every write and sync the store makes (packs, index, store.json, gc,
  // repair, work dirs) goes through it; reads stay plain POSIX. Tests pass a
  // fault-injecting Env (store/testing/fault_injection_env.h). Not owned: it
  // must outlive the Store. Default: Env::Default() (POSIX).
  Env* env = Env::Default();
};

// Reported during long work; called from the calling thread.
struct Progress {
  std::string phase;  // "layer 2/5", "push", ...
  std::string item;   // "sha256:abcd…"
  uint64_t done = 0, total = 0;  // bytes; total 0 when unknown
};
using ProgressFn = std::function<void(const Progress&)>;

struct PullOptions {
  std::string as_name;  // local name; "" = derived from the source
  Platform platform;    // Default: the host's
  ProgressFn progress;
};

// The data of one regular file of a directory ImportDirLayer ingests, read
// from another file: the one at `path` as it was when stat'ed (device,
// inode, size, mtime, ctime). After reading it, the import checks that it
// read exactly `size` bytes and that the file's fstat still says all of the
// above, else it fails naming `path` ("changed while being built").
struct ExternalFileData {
  std::string path;
  FileIdentity id;  // as stat'ed when recorded; id.size is the data's size
};

// How ImportDirLayer reads its directory.
struct ImportDirOptions {
  // The directory's contents are removed as they are archived (the directory
  // itself stays; on an error, part of them may be gone): a build step's
  // upper dir, whose removal then overlaps the import. Default: false.
  bool remove = false;
  // Regular files (paths relative to the directory, "a/b") whose data is read
  // from another file: the directory holds each with its name, mode, owner,
  // times, xattrs and size (the layer's metadata), but its data need not be
  // there (a sparse placeholder of that size, never read). Its size must be
  // the entry's. Not owned; null (the default) = every file's data is read
  // from the directory.
  const std::map<std::string, ExternalFileData>* data_from = nullptr;
};

struct LayerSummary {
  Digest diff_id;
  Digest source_digest;      // blob digest in the source it came from
  std::string source_media_type;
  uint64_t tar_size = 0;
  uint64_t entries = 0;
  uint64_t chunks = 0;       // chunk references (with repeats)
  // ImportDirLayer only (not stored): what that import added to the packs.
  uint64_t chunks_new = 0, bytes_new = 0;
};

struct ImageSummary {
  std::vector<std::string> names;
  Digest manifest_digest;
  Digest image_id;  // the config digest, as docker and podman show it
  int64_t created = 0;  // from the config, seconds since the epoch (0 if none)
  uint64_t size = 0;    // sum of the layers' uncompressed tar sizes
  // An image list: its children's platforms (manifest_digest and image_id
  // are then the index's digest, size the children's sum). Empty for an image.
  std::vector<std::string> platforms;
};

// One image of a multi-platform image (an image list), and its platform.
struct ImageListChild {
  Digest manifest;
  Platform platform;
};

// A multi-platform image: an OCI image index over images of the store,
// one per platform (podman's manifest list). store/image_list.cc.
struct ImageListDetails {
  std::vector<std::string> names;
  Digest digest;                        // of the index
  std::string index;                    // raw index JSON
  std::vector<ImageListChild> children; // index order
  std::string source;                   // where it came from ("manifest create", a pull)
};

// An OCI 1.1 artifact kept with an image (cimg build --sbom): an image
// manifest with `artifactType`, the empty config
// (application/vnd.oci.empty.v1+json, "{}"), the artifact as its one layer
// and the image's manifest as its `subject`. Stored with the image's record,
// so gc keeps it while the image lives and drops it with the image.
struct Referrer {
  Digest manifest;  // the artifact manifest's digest
  std::string artifact_type;
  Digest blob;      // its one layer (media type = artifact_type)
  uint64_t blob_size = 0;
};

// The empty config of an artifact manifest: "{}".
inline constexpr const char* kEmptyConfigMediaType = "application/vnd.oci.empty.v1+json";

struct ImageDetails {
  ImageSummary summary;
  std::string manifest, config;  // raw JSON bytes
  std::vector<LayerSummary> layers;
  std::string source;            // where it was pulled or built from
  // Chunk accounting of the pull/build that stored the image.
  uint64_t chunks_total = 0;     // distinct chunks the image references
  uint64_t chunks_new = 0;       // of which that pull stored anew
  uint64_t bytes_new = 0;        // compressed bytes that pull added to packs
  std::vector<Referrer> referrers;  // artifacts attached (AttachArtifact), by artifact type
};

struct PullResult {
  std::string name;
  ImageDetails image;
  uint64_t layers_reused = 0;  // already in the store, not read at all
  uint64_t layers_by_parts = 0;  // zstd:chunked: only missing chunks were read
  uint64_t chunks_replaced = 0;  // re-pull: stored chunks that failed their check, stored anew
};

// cimg save --since: a delta bundle (store/delta.cc; FORMAT.md "Delta bundles").
struct DeltaSaveOptions {
  std::string since;        // the base image the receiving store holds (name or ID)
  uint64_t split_size = 0;  // 0: one file; else volumes FILE.001, ... of at most this many bytes
  ProgressFn progress;
};

struct DeltaSaveReport {
  std::vector<std::string> files;             // the volumes written
  uint64_t layers_sent = 0, layers_in_base = 0;
  uint64_t chunks_sent = 0, chunks_in_base = 0;  // distinct chunks of the layers sent
  uint64_t chunk_bytes = 0;                   // zstd frames of the chunks sent
  uint64_t bytes = 0;                         // size of the volumes
};

struct GcReport {
  uint64_t chunks_removed = 0, layers_removed = 0, blobs_removed = 0;
  uint64_t packs_removed = 0, bytes_reclaimed = 0;
  uint64_t scratch_removed = 0;  // temporary dirs of dead processes (their bytes count
                                 // in bytes_reclaimed)
  uint64_t quarantined = 0;      // files in packs/ that are not packs, moved to quarantine/
  uint64_t stack_indexes_removed = 0;  // mount indexes of removed layers (ROOT/stack-index)
  uint64_t digest_records_removed = 0;  // build digest cache records unused for 30 days
};

struct FsckReport {
  uint64_t chunks_checked = 0, layers_checked = 0, images_checked = 0;
  uint64_t garbage_records = 0;      // unindexed pack records (gc removes them)
  std::vector<std::string> problems; // one line each; empty = clean
};

// What Store::Repair did (store/repair.cc).
struct RepairReport {
  uint64_t chunks_relinked = 0;  // bad chunks now served by an intact copy in the packs
  uint64_t chunks_dropped = 0;   // bad chunks with no copy: dropped from the index
  std::vector<std::string> actions;  // one line each
  struct Image {
    Digest manifest;
    std::vector<std::string> names;
    std::string source;  // where it was pulled or built from (ImageDetails::source)
  };
  std::vector<Image> images_to_pull;  // need a pull to be whole again
};

struct PushOptions {
  Compression compression = Compression::kZstdChunked;
  ProgressFn progress;
  // PushTo: the image's referrers too, after it (artifact manifests with
  // their subject set to the manifest written, untagged). Push and Save
  // always write them; a registry push sends them itself (PushReferrers).
  bool referrers = false;
};

class Store {
 public:
  // A lease keeps the named layers (diffIDs) and their chunks from gc while
  // it lives, even if their images are removed; a mount holds one.
  using Lease = ChunkStore::Lease;
  // Chunks for a long-running reader that also adds chunks it fetched
  // (a lazy mount). Thread-safe.
  using ChunkStash = cfs::ChunkStash;
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& opts);
  ~Store();

  const std::string& root() const;

  // Imports an image from a local transport (image_source.h) or archive.
  Result<PullResult> Pull(const std::string& src_ref, const PullOptions& o);
  // Imports the image src resolves to (a registry source, registry/),
  // named `name`; source_desc is recorded as where it came from.
  Result<PullResult> PullFrom(ImageSourceReader& src, const std::string& source_desc,
                              const std::string& name, const PullOptions& o);
  // Imports every image of an oci-archive or docker-archive file.
  Result<std::vector<PullResult>> Load(const std::string& file, const PullOptions& o);

  // Writes the images `names` as a delta bundle against o.since: only the
  // layers the base lacks, and of those only the chunks the base's layers do
  // not hold (plus manifests, configs, TOCs and tar-splits).
  Result<DeltaSaveReport> SaveDelta(const std::vector<std::string>& names, const std::string& file,
                                    const DeltaSaveOptions& o);
  // Loads a delta bundle from its volumes, in any order. Refuses, naming the
  // base image, when this store lacks it; verifies every chunk, TOC,
  // tar-split, config and manifest, and every layer's tar against its diffID,
  // before anything is indexed. The images keep their digests.
  Result<std::vector<PullResult>> LoadDelta(const std::vector<std::string>& files,
                                            const PullOptions& o);
  // True when file is (a volume of) a delta bundle.
  static bool IsDeltaBundle(const std::string& file);

  // The images and the image lists (ImageSummary::platforms not empty).
  Result<std::vector<ImageSummary>> ListImages();
  // name: "repo[:tag]", a manifest digest, or an image ID (prefix ok). A
  // name of an image list gives its child for the host's platform (as
  // podman run does), or for `platform` when given.
  Result<ImageDetails> Inspect(const std::string& name, const Platform& platform = {});

  // --- image lists (multi-platform images) ---
  // Stores an image list named `name` over stored images. With `index` ""
  // the index is written here (application/vnd.oci.image.index.v1+json)
  // over `images` (names or IDs of stored images, in that order; each
  // one's platform read from its config). With `index` given (a pulled
  // one, kept byte for byte) `images` is unused: every manifest it names
  // must be a stored image. Replaces what `name` named before.
  Result<ImageListDetails> PutImageList(const std::string& name,
                                        const std::vector<std::string>& images,
                                        const std::string& source, const std::string& index = "");
  // The list `name` names; nullopt when name is an image, not a list.
  Result<std::optional<ImageListDetails>> InspectImageList(const std::string& name);
  Status Tag(const std::string& src, const std::string& dst);
  // Removes a name; an image with no name left is removed (its data goes
  // at the next gc) unless an image list names it. A list with no name left
  // is removed with each child no other name or list holds. An image that
  // a list names cannot be removed by ID (Invalid naming the
  // list). An image ID or digest removes the image and all its
  // names, as docker rmi does: Invalid when it has several names, unless
  // force. Returns the removed names.
  Result<std::vector<std::string>> Remove(const std::string& name, bool force = false);

  // Writes the image to "oci:DIR[:TAG]" or "oci-archive:FILE[:TAG]".
  // manifest (may be null) gets the digest of the manifest written (what
  // `--digestfile` records).
  Status Push(const std::string& name, const std::string& dest, const PushOptions& o,
              Digest* manifest = nullptr);
  // Writes the image to any destination (a registry, registry/) under tag.
  Status PushTo(const std::string& name, ImageDestination& dest, const std::string& tag,
                const PushOptions& o, Digest* manifest = nullptr);
  // Writes several images into one oci-archive, each tagged with its name.
  Status Save(const std::vector<std::string>& names, const std::string& file,
              const PushOptions& o);

  Result<GcReport> Gc();
  Result<FsckReport> Fsck();
  // Replaces chunks that fail their check by intact copies in the packs, or
  // drops them from the index so the next pull stores them again; says
  // which images need that pull. Safe beside other processes.
  Result<RepairReport> Repair();

  // --- read side for fs/, deploy/ and registry/ ---
  Result<LayerToc> GetLayerToc(const Digest& diff_id);
  // SHA-256 of the layer's stored TOC record (its identity for caches built
  // from it, such as the mount's stack index); NotFound if not stored.
  Result<Digest> LayerTocRecordDigest(const Digest& diff_id);
  Result<TarSplit> GetTarSplit(const Digest& diff_id);
  // A chunk source over this store's packs (verified reads). Thread-safe.
  // A chunk the index lacks is Corruption (a layer needs it: the store is
  // damaged), not NotFound.
  Result<std::unique_ptr<ChunkSource>> OpenChunkSource();

  // --- new layers and images (cimg build, cimg commit) ---
  // Ingests a directory in the kernel's overlay upper format as a layer
  // (whiteouts and opaque dirs become OCI markers). The layer is not part of
  // an image yet: hold a lease on it until CreateImage, or gc may take it.
  // When lease is given it receives one on the layer, taken before gc could
  // run (a lease taken after the call could come too late).
  // opts: ImportDirOptions (removal as it goes, file data read elsewhere).
  Result<LayerSummary> ImportDirLayer(const std::string& dir, const ProgressFn& progress,
                                      std::unique_ptr<Lease>* lease = nullptr,
                                      const ImportDirOptions& opts = {});
  // Stores an image made of layers the store holds: config is the image
  // config JSON (its rootfs.diff_ids name the layers, base first); the
  // manifest lists the layers uncompressed. name may be "" (untagged).
  // imported: the layers the caller's operation imported (ImportDirLayer);
  // their chunks_new/bytes_new sum to the image's (what it stored anew).
  // annotations go into the manifest ("annotations", when not empty); push
  // and save keep a stored manifest's annotations.
  Result<ImageDetails> CreateImage(const std::string& name, const std::string& config,
                                   const std::string& source,
                                   const std::vector<LayerSummary>& imported = {},
                                   const std::map<std::string, std::string>& annotations = {});

  // Stores bytes as an artifact referring to image `name` (see Referrer),
  // replacing an earlier one of the same artifact_type. created (RFC 3339,
  // may be "") becomes the manifest's org.opencontainers.image.created.
  Result<Referrer> AttachArtifact(const std::string& name, const std::string& artifact_type,
                                  const std::string& bytes, const std::string& created = "");
  // A blob of the index (manifests, configs, artifacts); NotFound when absent.
  Result<std::string> ReadBlob(const Digest& d);

  // What changed from image a to image b ('A'dded, 'C'hanged, 'D'eleted
  // paths of the merged trees, sorted); b "" compares a with its parent (a
  // without its top layer).
  struct Change {
    char kind;
    std::string path;
  };
  Result<std::vector<Change>> Diff(const std::string& a, const std::string& b);

  // The build cache (cimg build): small values under a key the builder
  // derives from parent layers, instruction and inputs. gc keeps them; a
  // value naming a layer gc took is a miss for the caller to detect.
  Result<std::optional<std::string>> GetBuildCache(const Digest& key);
  Status PutBuildCache(const Digest& key, const std::string& value);
  // True when the store holds the layer (complete, not partial).
  Result<bool> HasLayer(const Digest& diff_id);

  // The digest cache of cimg build (builder/digest_cache.h): one record per
  // build context file, under the key the builder gives (its absolute path).
  // A value starts with its last use (u64le unix seconds, DigestRecordValue);
  // the rest is the builder's. gc deletes a record unused for
  // kDigestRecordMaxAgeDays and one too short to say when it was used.
  // Both are thread-safe; records of several processes may interleave (the
  // last write of a key wins).
  static constexpr int kDigestRecordMaxAgeDays = 30;
  // The values of many keys at once; nullopt where absent.
  Result<std::vector<std::optional<std::string>>> GetDigestRecords(
      const std::vector<std::string>& keys);
  // Writes (key, value) pairs in one synced batch.
  Status PutDigestRecords(const std::vector<std::pair<std::string, std::string>>& records);

  // --- lazy pulls (registry/) ---
  // A partial layer: known by its TOC while its chunks arrive one at a time.
  // gc keeps it, and the chunks of it that are stored, while a lease names
  // it; a later pull of the layer fetches only the chunks still missing
  // (and the tar-split: a record may hold none, ChunkedLayer::has_split; it
  // is never the tar of a layer).
  Status PutPartialLayer(const ChunkedLayer& l);
  Result<std::optional<ChunkedLayer>> GetPartialLayer(const Digest& diff_id);
  // Imports one layer blob whole (a layer that cannot be read by parts);
  // a no-op when the store has the layer.
  Status ImportLayer(ImageSourceReader& src, const Descriptor& d, const Digest& diff_id,
                     const ProgressFn& progress);

  Result<std::unique_ptr<ChunkStash>> OpenChunkStash();

  Result<std::unique_ptr<Lease>> TakeLease(const std::vector<Digest>& diff_ids);

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Seconds since the epoch of an RFC 3339 time ("2024-01-02T03:04:05Z"), or 0.
int64_t ParseRfc3339(const std::string& s);

// "repo" -> "repo:latest"; validates characters. Digests pass unchanged.
Result<std::string> NormalizeImageName(const std::string& name);

}  // namespace cfs
