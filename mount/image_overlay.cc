#include "image_overlay.h"

#include <sys/stat.h>

#include <utility>

#include "lazy/lazy_plan.h"
#include "lazy/readable_image.h"
#include "lazy/lazy_store.h"
#include "registry/pull.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "store/image_stack.h"

namespace cfs::mount {
namespace {

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status OpenStore(const ImageMountOptions& o, ImageOverlay* m) {
  if (m->store) return Status::Ok();
  StoreOptions so;
  so.root = o.root;
  auto st = Store::Open(so);
  if (!st.ok()) return st.status();
  m->store = std::move(*st);
  return Status::Ok();
}

Status MakeCache(const ImageMountOptions& o, ImageOverlay* m, bool lazy) {
  if (m->cache) return Status::Ok();
  std::unique_ptr<ChunkSource> src;
  if (lazy) {
    auto stash = m->store->OpenChunkStash();
    if (!stash.ok()) return stash.status();
    lazy::LazyOptions lo;
    lo.tmp_dir = m->store->root() + "/tmp";
    lo.log = o.log;
    auto l = std::make_unique<lazy::LazyChunkSource>(std::move(*stash), lo);
    m->lazy = l.get();
    src = std::move(l);
  } else {
    auto s = m->store->OpenChunkSource();
    if (!s.ok()) return s.status();
    src = std::move(*s);
  }
  ChunkCacheOptions co;
  co.capacity = o.cache_mb << 20;
  m->cache = std::make_unique<ChunkCache>(std::move(src), co);
  return Status::Ok();
}

// The client options of a lazy mount.
registry::ClientOptions LazyClientOptions(const ImageMountOptions& o) {
  registry::ClientOptions co;
  // A read waits for the network: fail it (EIO) within seconds, not minutes
  // (LazyOptions::read_timeout_s bounds each read); the next read tries
  // again. The mount itself fails within about 30 s.
  co.connect_timeout_s = 10;
  co.stall_timeout_s = 10;
  co.retries = 3;
  co.retry_window_s = 20;
  co.tls_verify = o.tls_verify;
  co.cert_dir = o.cert_dir;
  co.auth_file = o.auth_file;
  if (!o.creds.empty()) co.creds = registry::Credentials::Parse(o.creds);
  return co;
}

// A registry image the store lacks, read lazily (lazy/lazy_plan.h).
Result<ImageStack> LazyImage(const ImageMountOptions& o, ImageOverlay* m,
                             const std::string& ref_s) {
  if (Status s = MakeCache(o, m, true); !s.ok()) return s;
  m->manifests.push_back("");
  auto ref = registry::Reference::Parse(ref_s);
  if (!ref.ok()) return ref.status();
  lazy::LazyPlanOptions lo;
  lo.client = LazyClientOptions(o);
  lo.tmp_dir = m->store->root() + "/tmp";
  lo.log = o.log;
  // Read where registries.conf says: a mirror that has it, else the
  // (rewritten) location; a blocked name is refused.
  auto conf = registry::RegistriesOf(registry::PullFromRegistryOptions());
  if (!conf.ok()) return conf.status();
  // policy.json, as a pull: a refused image is not mounted.
  auto conn = registry::ConnectForRead({*ref}, **conf, lo.client, o.log);
  if (!conn.ok()) return conn.status();
  if (o.log) o.log(ref->ToString() + ": served by " + conn->served_by);
  lo.connected = conn->client;
  m->lazy_images.push_back({conn->client, conn->logical, conn->remote});
  return lazy::PlanLazyImage(*m->store, *m->lazy, conn->remote, lo);
}

// An image of the store, served from its mapped stack index.
Result<std::unique_ptr<Lower>> StoredImageLower(const ImageMountOptions& o, ImageOverlay* m,
                                                const std::string& ref, InoMap* inos) {
  auto det = m->store->Inspect(ref);
  if (!det.ok()) {
    if (det.status().code() == Status::Code::kNotFound) {
      return Status::NotFound("image '" + ref + "' is not in the store " + m->store->root() +
                              " (see 'cimg images'; or not a directory)");
    }
    return det.status();
  }
  m->manifests.push_back(det->summary.manifest_digest.ToString());
  std::vector<Digest> diff_ids;
  for (const auto& l : det->layers) diff_ids.push_back(l.diff_id);
  // The lease first: from here on gc keeps the layers even if the image is removed.
  auto image = OpenImageIndex(*m->store, diff_ids);
  if (!image.ok()) return image.status().Prefix("image " + ref);
  if (o.log && image->built) {
    o.log("image " + ref + ": stack index built from the layer TOCs (" +
          std::to_string(image->index->size()) + " entries)");
  }
  if (Status s = MakeCache(o, m, false); !s.ok()) return s;
  m->leases.push_back(std::move(image->lease));
  return OpenIndexLower(ref, std::move(image->index), m->cache.get(), inos);
}

// A registry image the store lacks, read lazily: its TOCs merged in the heap.
Result<std::unique_ptr<Lower>> LazyImageLower(const ImageMountOptions& o, ImageOverlay* m,
                                              const std::string& ref, InoMap* inos) {
  auto image = LazyImage(o, m, ref);
  if (!image.ok()) return image.status();
  m->leases.push_back(std::move(image->lease));
  image->stack.DropEntryNames();  // the TOCs are ours alone
  return OpenStackLower(ref, std::move(image->stack), m->cache.get(), inos);
}

Result<std::unique_ptr<Lower>> ImageLower(const ImageMountOptions& o, ImageOverlay* m,
                                          const std::string& ref, InoMap* inos) {
  if (Status s = OpenStore(o, m); !s.ok()) return s;
  const bool remote = lazy::IsRegistryImageName(*m->store, ref);
  auto lower = remote ? LazyImageLower(o, m, ref, inos) : StoredImageLower(o, m, ref, inos);
  if (!lower.ok() || o.record_profile.empty()) return lower;
  if (!m->recorder) m->recorder = std::make_shared<ProfileRecorder>();
  return RecordingLower(std::move(*lower), m->recorder);
}

bool HasSource(const ImageMountOptions& o) { return o.source != "none" && !o.source.empty(); }

// The images among the lowers and the source (lowerdir entries that are not
// directories).
std::vector<std::string> ImageNames(const ImageMountOptions& o) {
  std::vector<std::string> images;
  for (const auto& l : o.lowerdirs) {
    if (!IsDir(l)) images.push_back(l);
  }
  if (HasSource(o)) images.push_back(o.source);
  return images;
}

// The lowers of o, top first.
Result<std::vector<std::unique_ptr<Lower>>> OpenLowers(const ImageMountOptions& o, ImageOverlay* m,
                                                       InoMap* inos) {
  std::vector<std::unique_ptr<Lower>> lowers;
  if (auto images = ImageNames(o); !images.empty()) {
    if (Status s = OpenStore(o, m); !s.ok()) return s;
    bool lazy = false;
    for (const auto& i : images) lazy |= lazy::IsRegistryImageName(*m->store, i);
    if (Status s = MakeCache(o, m, lazy); !s.ok()) return s;
  }
  for (const auto& l : o.lowerdirs) {
    bool is_dir = IsDir(l);
    if (is_dir) m->dir_lowers++;
    Result<std::unique_ptr<Lower>> lower =
        is_dir ? OpenDirLower(l, inos) : ImageLower(o, m, l, inos);
    if (!lower.ok()) return lower.status();
    lowers.push_back(std::move(*lower));
  }
  if (HasSource(o)) {
    auto lower = ImageLower(o, m, o.source, inos);
    if (!lower.ok()) return lower.status();
    lowers.push_back(std::move(*lower));
  }
  return lowers;
}

}  // namespace

Status BuildImageOverlay(const ImageMountOptions& o, ImageOverlay* out) {
  auto inos = std::make_unique<InoMap>();
  auto lowers = OpenLowers(o, out, inos.get());
  if (!lowers.ok()) return lowers.status();
  if (lowers->empty()) return Status::Invalid("nothing to mount: give an IMAGE or -o lowerdir=");
  OverlayOptions oo;
  oo.upperdir = o.upper;
  oo.workdir = o.work;
  oo.sync_copy_up = o.sync_copy_up;
  auto ov = Overlay::Create(std::move(*lowers), std::move(inos), oo);
  if (!ov.ok()) return ov.status();
  out->overlay = std::move(*ov);
  return Status::Ok();
}

Status StoreLazyImages(const ImageMountOptions& o, ImageOverlay* m) {
  for (const LazyImageRef& r : m->lazy_images) {
    auto pulled = lazy::StoreLazyImage(*m->store, r.client, r.logical, r.remote);
    if (!pulled.ok()) return pulled.status().Prefix("storing " + r.logical.ToString() + " failed");
    if (o.log)
      o.log("image " + pulled->name + " stored complete (" + pulled->image.summary.manifest_digest.ToString() +
            "): listed by cimg images, mountable without the registry");
  }
  return Status::Ok();
}

}  // namespace cfs::mount
