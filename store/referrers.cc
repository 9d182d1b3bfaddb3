// Artifacts kept with an image (Store::AttachArtifact): OCI 1.1 artifact
// manifests whose subject is the image's manifest, stored as blobs and
// listed in the image's record, so gc keeps them exactly as long as the
// image (gc.cc marks a record's referrers with its manifest and config).
#include <algorithm>
#include <nlohmann/json.hpp>

#include "store_impl.h"

namespace cfs {

namespace {

using nlohmann::json;

constexpr const char* kOciManifest = "application/vnd.oci.image.manifest.v1+json";
constexpr const char* kEmptyConfig = "{}";

// The artifact manifest: empty config, the artifact as the one layer, the
// image as subject.
std::string ArtifactManifest(const std::string& artifact_type, const Digest& blob,
                             uint64_t blob_size, const json& subject, const std::string& created) {
  json m = {
      {"schemaVersion", 2},
      {"mediaType", kOciManifest},
      {"artifactType", artifact_type},
      {"config",
       {{"mediaType", kEmptyConfigMediaType},
        {"digest", Digest::Of(kEmptyConfig).ToString()},
        {"size", 2},
        {"data", "e30="}}},  // base64 of "{}"
      {"layers",
       json::array(
           {{{"mediaType", artifact_type}, {"digest", blob.ToString()}, {"size", blob_size}}})},
      {"subject", subject}};
  if (!created.empty()) m["annotations"] = {{"org.opencontainers.image.created", created}};
  return m.dump();
}

}  // namespace

Result<Referrer> Store::AttachArtifact(const std::string& name, const std::string& artifact_type,
                                       const std::string& bytes, const std::string& created) {
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto w, impl_->Writer());
  ASSIGN_OR_RETURN(Digest image, impl_->Resolve(*w, name));
  ASSIGN_OR_RETURN(ImageRecord rec, impl_->LoadRecord(*w, image));
  ASSIGN_OR_RETURN(std::string image_manifest, impl_->LoadBlob(*w, image));
  json subject = {
      {"mediaType", rec.manifest_media_type.empty() ? kOciManifest : rec.manifest_media_type},
      {"digest", image.ToString()},
      {"size", image_manifest.size()}};
  Referrer r;
  r.artifact_type = artifact_type;
  r.blob = Digest::Of(bytes);
  r.blob_size = bytes.size();
  std::string manifest = ArtifactManifest(artifact_type, r.blob, r.blob_size, subject, created);
  r.manifest = Digest::Of(manifest);
  auto& refs = rec.referrers;
  refs.erase(std::remove_if(refs.begin(), refs.end(),
                            [&](const Referrer& x) { return x.artifact_type == artifact_type; }),
             refs.end());
  refs.push_back(r);
  Index::Batch b;
  b.Put(key::Blob(r.blob), bytes);
  b.Put(key::Blob(Digest::Of(kEmptyConfig)), kEmptyConfig);
  b.Put(key::Blob(r.manifest), manifest);
  b.Put(key::Image(image), rec.ToJson());
  RETURN_IF_ERROR(w->Write(b));
  return r;
}

Status Store::Impl::KeepReferrers(Index& ix, const Digest& manifest, ImageRecord* rec) {
  ASSIGN_OR_RETURN(auto v, ix.Get(key::Image(manifest)));
  if (!v) return Status::Ok();
  auto old = ImageRecord::FromJson(*v);
  if (old.ok()) rec->referrers = std::move(old->referrers);
  return Status::Ok();
}

void Store::Impl::AddSourceReferrers(const std::vector<SourceReferrer>& found, ImageRecord* rec,
                                     Index::Batch* b) {
  auto& refs = rec->referrers;
  for (const auto& s : found) {
    Referrer r;
    r.artifact_type = s.artifact_type;
    r.manifest = Digest::Of(s.manifest);
    r.blob = Digest::Of(s.blob);
    r.blob_size = s.blob.size();
    refs.erase(std::remove_if(refs.begin(), refs.end(),
                              [&](const Referrer& x) { return x.artifact_type == r.artifact_type; }),
               refs.end());
    refs.push_back(r);
    b->Put(key::Blob(r.blob), s.blob);
    b->Put(key::Blob(Digest::Of(kEmptyConfig)), kEmptyConfig);
    b->Put(key::Blob(r.manifest), s.manifest);
  }
}

Status Store::Impl::ExportReferrers(Index& ix, const Digest& manifest, ImageDestination& out,
                                    const Descriptor& written) {
  ASSIGN_OR_RETURN(ImageRecord rec, LoadRecord(ix, manifest));
  for (const Referrer& r : rec.referrers) {
    const std::string what = r.artifact_type + " artifact " + r.manifest.ToString();
    ASSIGN_OR_RETURN(std::string stored, LoadBlob(ix, r.manifest));
    ASSIGN_OR_RETURN(std::string blob, LoadBlob(ix, r.blob));
    json m = json::parse(stored, nullptr, false);
    if (!m.is_object()) return Status::Corruption(what + ": not a JSON object (run cimg fsck)");
    m["subject"] = {{"mediaType", written.media_type},
                    {"digest", written.digest.ToString()},
                    {"size", written.size}};
    const std::string bytes = m.dump();
    Descriptor blob_desc{r.artifact_type, r.blob, r.blob_size, {}, ""};
    RETURN_IF_ERROR(out.PutBlob(blob_desc, blob));
    Descriptor config{kEmptyConfigMediaType, Digest::Of(kEmptyConfig), 2, {}, ""};
    RETURN_IF_ERROR(out.PutBlob(config, kEmptyConfig));
    Descriptor d{kOciManifest, Digest::Of(bytes), bytes.size(), {}, r.artifact_type};
    RETURN_IF_ERROR(out.PutManifest(d, bytes, ""));
  }
  return Status::Ok();
}

Result<std::string> Store::ReadBlob(const Digest& d) {
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(auto v, ix->Get(key::Blob(d)));
  if (!v) return Status::NotFound("blob " + d.ToString() + " is not in the store");
  if (Digest::Of(*v) != d)
    return Status::Corruption("blob " + d.ToString() + ": digest mismatch (run cimg fsck)");
  return std::move(*v);
}

}  // namespace cfs
