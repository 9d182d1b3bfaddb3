// Local image transports: oci:DIR[:TAG], oci-archive:FILE[:TAG],
// docker-archive:FILE[:NAME:TAG|:@N]. Reading resolves a reference to one
// image (manifest, config, layer blobs); writing lays an image out in OCI form.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/io.h"

namespace cfs {

// "os/arch[/variant]", e.g. "linux/amd64". Empty fields match anything.
// Names follow Go's GOOS/GOARCH as in OCI image indexes.
struct Platform {
  std::string os, arch, variant;
  // linux and the machine from uname(2) in GOARCH terms: x86_64 → amd64,
  // aarch64 → arm64/v8, armv7l → arm/v7, i686 → 386, ...
  static Platform Host();
  // linux and `machine` (what `uname -m` prints) in GOARCH terms, as Host().
  static Platform FromMachine(const std::string& machine);
  // "os/arch" or "os/arch/variant"; Invalid otherwise.
  static Result<Platform> Parse(const std::string& s);
  std::string ToString() const;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  uint64_t size = 0;
  std::map<std::string, std::string> annotations;
  // OCI 1.1 "artifactType": set on the index.json entry of an artifact
  // manifest (a referrer), "" for images.
  std::string artifact_type;
};

// One image, resolved in its source.
struct SourceImage {
  std::string manifest;  // raw manifest bytes as found (or synthesized for docker-archive)
  Digest manifest_digest;
  std::string manifest_media_type;  // OCI manifest or Docker v2 schema2
  std::string config;               // raw config bytes
  Digest config_digest;
  std::string config_media_type;   // as the manifest names it
  std::vector<Descriptor> layers;  // manifest order (base first)
  std::vector<Digest> diff_ids;    // from config rootfs.diff_ids, same order
  // A name the source gives the image ("" if none): for oci: and oci-archive:
  // the org.opencontainers.image.ref.name annotation of the chosen manifest
  // ("latest" or a full "name:tag", as the writer put it); for
  // docker-archive: the first RepoTags entry, e.g. "busybox:latest".
  std::string ref_name;
};

// An OCI 1.1 artifact whose subject is an image of the source (the SBOM
// cimg build --sbom attaches): an image manifest with artifactType, the
// empty config ({}), the artifact as its one layer, the image's manifest as
// its subject.
struct SourceReferrer {
  std::string artifact_type;
  std::string manifest;  // the artifact manifest's bytes, as found (digest verified)
  std::string blob;      // its one layer's bytes (digest verified)
};

// A byte range of a blob.
struct BlobRange {
  uint64_t offset = 0, length = 0;
};

// Merges ranges closer than max_gap into one, none longer than max_len
// (unless a single range already is). Sorted by offset.
std::vector<BlobRange> PlanRanges(std::vector<BlobRange> want, uint64_t max_gap,
                                  uint64_t max_len);

// Thread-compatible: one thread at a time per reader.
class ImageSourceReader {
 public:
  virtual ~ImageSourceReader() = default;
  // Picks the image (index → manifest by platform). Verifies manifest and
  // config bytes against their digests and sizes (Corruption naming the
  // blob); parses diff_ids and checks there is one per layer. Layer media
  // types accepted: OCI tar, tar+gzip, tar+zstd and their Docker schema2
  // forms; foreign/non-distributable layers give Unsupported.
  virtual Result<SourceImage> Resolve(const Platform& want) = 0;
  // Opens a blob for streaming. The caller verifies the digest as it reads.
  // NotFound when the source has no such blob.
  virtual Result<std::unique_ptr<ByteSource>> OpenBlob(const Descriptor& d) = 0;
  // Ranged reads (zstd:chunked layers are then pulled by parts). A source
  // that cannot say false; ReadBlobRange then is Unsupported. The caller
  // verifies what it gets (chunk digests).
  virtual bool CanReadRanges() const { return false; }
  virtual Result<std::string> ReadBlobRange(const Descriptor& d, uint64_t offset,
                                            uint64_t length) {
    return Status::Unsupported("this source cannot read parts of blobs");
  }
  // Several ranges: fn(i, bytes of ranges[i]) for each, possibly from
  // several threads at once and in any order (a remote source fetches in
  // parallel, and fn's work overlaps the transfers). Stops at the first
  // error (of a read or of fn). Default: one after another.
  virtual Status ReadBlobRanges(const Descriptor& d, const std::vector<BlobRange>& ranges,
                                const std::function<Status(size_t, std::string)>& fn);
  // The blobs OpenBlob will be asked for next, in that order. A remote
  // source may start fetching them in parallel; local ones ignore it.
  virtual void Prefetch(const std::vector<Descriptor>& blobs) {}
  // The artifacts of the source whose subject is manifest `subject`, in
  // the source's order (an OCI layout: the index.json entries with an
  // artifactType). A source that keeps none, or cannot say: none.
  virtual Result<std::vector<SourceReferrer>> Referrers(const Digest& subject) {
    return std::vector<SourceReferrer>{};
  }
  // Progress of fetching blobs (OpenBlob may wait for a transfer); called
  // from the thread that calls OpenBlob.
  virtual void SetProgress(std::function<void(const std::string& item, uint64_t done,
                                              uint64_t total)> fn) {}
};

// Where an image is written: an OCI layout, or a registry (registry/).
// Blobs first, the manifest last. Thread-compatible.
class ImageDestination {
 public:
  virtual ~ImageDestination() = default;
  // A small blob held in memory (configs). The digest is verified.
  virtual Status PutBlob(const Descriptor& d, std::string_view bytes) = 0;
  // A large blob: `write` produces its bytes; returns its digest and size.
  // A destination may finish the transfer in the background (Finish waits).
  virtual Result<Descriptor> PutBlobStream(const std::string& media_type,
                                           const std::function<Status(ByteSink&)>& write) = 0;
  // The image manifest, named by tag ("" = untagged), after all its blobs.
  virtual Status PutManifest(const Descriptor& d, std::string_view bytes,
                             const std::string& tag) = 0;
  // Completes everything; nothing is visible to others before this succeeds.
  virtual Status Finish() = 0;
};

// Parses "oci:DIR[:TAG]", "oci-archive:FILE[:TAG]",
// "docker-archive:FILE[:NAME:TAG|:@INDEX]".
// PATH[:TAG] splits at the first ':' whose left part names an existing
// directory (oci:) or file (archives), so both paths and tags may contain
// ':'; when none exists, at the last ':' whose right part has no '/'.
// Archives are unpacked into a fresh directory under tmp_parent, removed
// with the reader: only regular files and directories are written; names
// that are absolute or contain ".." are refused; symlink and hardlink
// members are resolved to the member they name inside the archive (docker
// save links duplicate layers) and never created as links.
Result<std::unique_ptr<ImageSourceReader>> OpenImageSource(const std::string& ref,
                                                           const std::string& tmp_parent);

// Every image of an oci-archive or docker-archive file, as Store::Load takes
// them: the archive is unpacked once into a directory under tmp_parent that
// lives as long as this object, and each image gets a reader over it.
struct ArchiveImages {
  struct Image {
    std::unique_ptr<ImageSourceReader> reader;
    std::string tag;  // the oci-archive's ref.name for it ("" when it has one image)
  };
  TempDir dir;  // declared first: destroyed after the readers
  std::vector<Image> images;
};
// Invalid when the file is neither archive, or when an oci-archive of several
// images leaves one without a name to load it by.
Result<ArchiveImages> OpenArchiveImages(const std::string& file, const std::string& tmp_parent);

// Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...).
// Several images may be added; Finish() writes index.json atomically with
// one manifest descriptor per image, annotated
// "org.opencontainers.image.ref.name" with the tag when one is given.
// Referrers (artifact manifests with a subject, e.g. an SBOM) are untagged
// entries with an "artifactType", as ORAS lays them out; readers that pick
// images by tag (skopeo, umoci, cimg) pass over them.
// An existing layout is extended: its index.json entries are kept, except
// those whose tag is added again, which are replaced.
// Thread-compatible.
class OciLayoutWriter : public ImageDestination {
 public:
  static Result<std::unique_ptr<OciLayoutWriter>> Create(const std::string& dir);
  // Adds a blob when absent. The writer verifies the digest of what it
  // writes and fails on a mismatch (Corruption); an existing blob is kept.
  Status PutBlob(const Digest& d, std::string_view bytes);
  // For large blobs: the callback writes the bytes; the digest is computed
  // and returned, the file renamed into place.
  Status PutBlob(const Descriptor& d, std::string_view bytes) override {
    return PutBlob(d.digest, bytes);
  }
  Result<Descriptor> PutBlobStream(const std::string& media_type,
                                   const std::function<Status(ByteSink&)>& write) override;
  bool HasBlob(const Digest& d) const;
  // REQUIRES: the manifest blob is (or will be, before Finish) in the layout.
  // A second AddManifest with the same non-empty tag replaces the first.
  void AddManifest(const Descriptor& manifest, const std::string& tag);
  // PutBlob + AddManifest.
  Status PutManifest(const Descriptor& d, std::string_view bytes, const std::string& tag) override {
    RETURN_IF_ERROR(PutBlob(d.digest, bytes));
    AddManifest(d, tag);
    return Status::Ok();
  }
  Status Finish() override;
  const std::string& dir() const { return dir_; }

 private:
  explicit OciLayoutWriter(std::string dir) : dir_(std::move(dir)) {}
  std::string BlobPath(const Digest& d) const;
  std::string dir_;
  std::vector<std::pair<Descriptor, std::string>> manifests_;
};

// Packs a directory (an OCI layout) into a tar archive at path (atomically):
// pax-restricted, entries in sorted order with relative names and no
// leading "./", owner 0:0, mtime 0. Only directories and regular files.
Status WriteTarOfDir(const std::string& dir, const std::string& path);

}  // namespace cfs
