// Store::Push and Store::Save: images out of the store as OCI layouts, with
// their referrers (referrers.cc ExportReferrers).
#include "store_impl.h"

namespace cfs {

using nlohmann::json;

namespace {

constexpr char kOciManifest[] = "application/vnd.oci.image.manifest.v1+json";
constexpr char kOciConfig[] = "application/vnd.oci.image.config.v1+json";

struct Dest {
  std::string transport;  // "oci" or "oci-archive"
  std::string path, tag;
};

Result<Dest> ParseDest(const std::string& ref) {
  Dest d;
  auto colon = ref.find(':');
  if (colon == std::string::npos)
    return Status::Invalid("destination \"" + ref + "\": want oci:DIR[:TAG] or oci-archive:FILE[:TAG]");
  d.transport = ref.substr(0, colon);
  d.path = ref.substr(colon + 1);
  if (d.transport != "oci" && d.transport != "oci-archive")
    return Status::Invalid("destination \"" + ref +
                           "\": unknown transport (registries come with docker://; local: oci:, "
                           "oci-archive:)");
  auto last = d.path.rfind(':');
  if (last != std::string::npos && d.path.find('/', last) == std::string::npos) {
    d.tag = d.path.substr(last + 1);
    d.path = d.path.substr(0, last);
  }
  if (d.path.empty()) return Status::Invalid("destination \"" + ref + "\": empty path");
  return d;
}

std::string TagOf(const std::string& name) {
  auto slash = name.rfind('/');
  auto colon = name.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return "latest";
  return name.substr(colon + 1);
}

}  // namespace

Result<Descriptor> Store::Impl::ExportImage(Index& ix, const Digest& m, ImageDestination& out,
                                            const std::string& tag, const PushOptions& o) {
  ASSIGN_OR_RETURN(ImageRecord rec, LoadRecord(ix, m));
  ASSIGN_OR_RETURN(std::string config, LoadBlob(ix, rec.config));
  auto chunks = ChunkSourceOver(&ix);
  json manifest = {{"schemaVersion", 2}, {"mediaType", kOciManifest}};
  manifest["config"] = {{"mediaType", kOciConfig},
                        {"digest", rec.config.ToString()},
                        {"size", config.size()}};
  manifest["layers"] = json::array();
  for (size_t i = 0; i < rec.layers.size(); i++) {
    const Digest& diff_id = rec.layers[i].diff_id;
    std::string what = "layer " + std::to_string(i + 1) + "/" + std::to_string(rec.layers.size());
    ASSIGN_OR_RETURN(auto tv, ix.Get(key::Toc(diff_id)));
    ASSIGN_OR_RETURN(auto sv, ix.Get(key::Split(diff_id)));
    if (!tv || !sv) return Status::Corruption(what + " " + diff_id.ToString() + " missing");
    ASSIGN_OR_RETURN(LayerToc toc, LayerToc::Decode(*tv));
    ASSIGN_OR_RETURN(TarSplit split, TarSplit::Decode(*sv));
    LayerBlobInfo info;
    if (o.progress) o.progress({"push", what + " " + diff_id.ToString(), 0, toc.tar_size});
    ASSIGN_OR_RETURN(Descriptor desc,
                     out.PutBlobStream("", [&](ByteSink& sink) -> Status {
                       ASSIGN_OR_RETURN(info, WriteLayerBlob(toc, split, *chunks, o.compression,
                                                             sink, 0));
                       return Status::Ok();
                     }));
    if (o.progress) o.progress({"push", what + " " + diff_id.ToString(), toc.tar_size, toc.tar_size});
    json l = {{"mediaType", info.media_type}, {"digest", desc.digest.ToString()}, {"size", desc.size}};
    if (!info.annotations.empty()) l["annotations"] = info.annotations;
    manifest["layers"].push_back(l);
  }
  // The stored manifest's own annotations (sealer's image metadata among
  // them) travel with the image.
  if (auto stored = LoadBlob(ix, m); stored.ok()) {
    json sm = json::parse(*stored, nullptr, false);
    if (sm.is_object() && sm.contains("annotations") && sm["annotations"].is_object() &&
        !sm["annotations"].empty())
      manifest["annotations"] = sm["annotations"];
  }
  Descriptor cd;
  cd.media_type = kOciConfig;
  cd.digest = rec.config;
  cd.size = config.size();
  RETURN_IF_ERROR(out.PutBlob(cd, config));
  std::string mbytes = manifest.dump();
  Descriptor d;
  d.media_type = kOciManifest;
  d.digest = Digest::Of(mbytes);
  d.size = mbytes.size();
  RETURN_IF_ERROR(out.PutManifest(d, mbytes, tag));
  return d;
}

Status Store::Push(const std::string& name, const std::string& dest, const PushOptions& o,
                   Digest* manifest) {
  ASSIGN_OR_RETURN(Dest d, ParseDest(dest));
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(Digest m, impl_->Resolve(*ix, name));
  std::string tag = d.tag;
  if (tag.empty()) {
    auto norm = NormalizeImageName(name);
    tag = norm.ok() && norm->rfind("sha256:", 0) != 0 ? TagOf(*norm) : "latest";
  }
  if (d.transport == "oci") {
    ASSIGN_OR_RETURN(auto w, OciLayoutWriter::Create(d.path));
    ASSIGN_OR_RETURN(Descriptor written, impl_->ExportImage(*ix, m, *w, tag, o));
    RETURN_IF_ERROR(impl_->ExportReferrers(*ix, m, *w, written));
    RETURN_IF_ERROR(w->Finish());
    if (manifest) *manifest = written.digest;
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(impl_->tmp_dir, "push-"));
  ASSIGN_OR_RETURN(auto w, OciLayoutWriter::Create(tmp.path() + "/layout"));
  ASSIGN_OR_RETURN(Descriptor written, impl_->ExportImage(*ix, m, *w, tag, o));
  RETURN_IF_ERROR(impl_->ExportReferrers(*ix, m, *w, written));
  RETURN_IF_ERROR(w->Finish());
  RETURN_IF_ERROR(WriteTarOfDir(w->dir(), d.path));
  if (manifest) *manifest = written.digest;
  return Status::Ok();
}

Status Store::PushTo(const std::string& name, ImageDestination& dest, const std::string& tag,
                    const PushOptions& o, Digest* manifest) {
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(Digest m, impl_->Resolve(*ix, name));
  ASSIGN_OR_RETURN(Descriptor written, impl_->ExportImage(*ix, m, dest, tag, o));
  if (o.referrers) RETURN_IF_ERROR(impl_->ExportReferrers(*ix, m, dest, written));
  RETURN_IF_ERROR(dest.Finish());
  if (manifest) *manifest = written.digest;
  return Status::Ok();
}

Status Store::Save(const std::vector<std::string>& names, const std::string& file,
                   const PushOptions& o) {
  if (names.empty()) return Status::Invalid("save: name at least one image");
  ASSIGN_OR_RETURN(FileLock op, impl_->OperationLock());
  ASSIGN_OR_RETURN(auto ix, impl_->Reader());
  ASSIGN_OR_RETURN(TempDir tmp, TempDir::Create(impl_->tmp_dir, "save-"));
  ASSIGN_OR_RETURN(auto w, OciLayoutWriter::Create(tmp.path() + "/layout"));
  for (const auto& n : names) {
    ASSIGN_OR_RETURN(Digest m, impl_->Resolve(*ix, n));
    auto norm = NormalizeImageName(n);
    ASSIGN_OR_RETURN(
        Descriptor written,
        impl_->ExportImage(*ix, m, *w, norm.ok() && norm->rfind("sha256:", 0) != 0 ? *norm : "", o));
    RETURN_IF_ERROR(impl_->ExportReferrers(*ix, m, *w, written));
  }
  RETURN_IF_ERROR(w->Finish());
  return WriteTarOfDir(w->dir(), file);
}

}  // namespace cfs
