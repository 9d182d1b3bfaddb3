// cimg commands over stored images: pull, load, push, save, images,
// inspect, tag, rmi, history, diff. Argument parsing and printing only.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/io.h"
#include "registry/client.h"
#include "registry/image_io.h"
#include "registry/image_list_io.h"
#include "store/image_stack.h"
#include "registry/pull.h"
#include "registry/push.h"
#include "registry/referrers.h"
#include "registry/reference.h"
#include "store/store.h"
#include "template/report.h"
#include "tools/cimg_common.h"
#include "tools/image_list.h"

namespace cimg {

namespace {

using nlohmann::json;

json InspectJson(const cfs::ImageDetails& d) {
  json config = json::parse(d.config, nullptr, false);
  json manifest = json::parse(d.manifest, nullptr, false);
  json j;
  j["Id"] = d.summary.image_id.ToString();
  j["Digest"] = d.summary.manifest_digest.ToString();
  j["RepoTags"] = d.summary.names;
  j["Created"] = Iso(d.summary.created);
  j["Size"] = d.summary.size;
  j["Source"] = d.source;
  if (config.is_object()) {
    j["Architecture"] = config.value("architecture", "");
    j["Os"] = config.value("os", "");
    if (config.contains("config")) j["Config"] = config["config"];
  }
  j["Layers"] = json::array();
  for (const auto& l : d.layers)
    j["Layers"].push_back({{"DiffID", l.diff_id.ToString()},
                           {"SourceDigest", l.source_digest.ToString()},
                           {"SourceMediaType", l.source_media_type},
                           {"Size", l.tar_size},
                           {"Entries", l.entries},
                           {"Chunks", l.chunks}});
  j["Chunks"] = {{"Total", d.chunks_total}, {"New", d.chunks_new}, {"NewBytes", d.bytes_new}};
  j["Referrers"] = json::array();
  for (const auto& r : d.referrers)
    j["Referrers"].push_back({{"Digest", r.manifest.ToString()},
                              {"ArtifactType", r.artifact_type},
                              {"Size", r.blob_size}});
  j["Manifest"] = manifest;
  return j;
}

// Writes the stack index a mount of the image maps (store/image_stack.h),
// so the first mount need not build it. Best effort: a mount builds a
// missing one itself.
void PrepareMountIndex(cfs::Store& store, const cfs::ImageDetails& d) {
  std::vector<cfs::Digest> diff_ids;
  for (const auto& l : d.layers) diff_ids.push_back(l.diff_id);
  auto ix = cfs::OpenImageIndex(store, diff_ids);
  if (!ix.ok())
    std::fprintf(stderr, "cimg: note: the mount index was not written (%s); the first mount builds it\n",
                 ix.status().message().c_str());
}

// cimg pull --platform all: every platform of a registry index, and the
// index as an image list.
void PullAll(cfs::Store& store, const std::string& src, cfs::registry::PullFromRegistryOptions po) {
  cfs::registry::PullAllResult r;
  if (cfs::registry::IsRegistryReference(src)) {
    r = Must(cfs::registry::PullAllPlatforms(store, src, po));
  } else {
    Must(cfs::registry::CheckLocalPolicy(*Must(cfs::registry::PolicyOf(po)), src));
    r = Must(cfs::registry::PullAllPlatformsLocal(store, src, po.pull));
  }
  for (const auto& img : r.images) {
    cfs::Platform p;
    auto cfg = json::parse(img.image.config, nullptr, false);
    if (cfg.is_object()) p = {cfg.value("os", ""), cfg.value("architecture", ""), cfg.value("variant", "")};
    std::printf("  %-16s %s  %zu layers (%llu already stored, %llu fetched by parts)\n", p.ToString().c_str(),
                img.image.summary.image_id.ToString().c_str(), img.image.layers.size(),
                static_cast<unsigned long long>(img.layers_reused),
                static_cast<unsigned long long>(img.layers_by_parts));
  }
  if (r.list.digest.IsZero()) {
    std::printf("%s  %s (a single image, no list)\n", r.images[0].name.c_str(),
                r.images[0].image.summary.image_id.ToString().c_str());
    return;
  }
  std::printf("%s  %s  image list of %zu platforms\n", r.list.names.empty() ? "" : r.list.names[0].c_str(),
              r.list.digest.ToString().c_str(), r.list.children.size());
}

// cimg pull
void AddPullCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* pull = app.add_subcommand("pull", "Copy an image into the store");
  static std::string pull_src, pull_as, pull_platform;
  static RegistryFlags pull_reg;
  pull->add_option("SRC", pull_src,
                   "[docker://]REGISTRY/REPO[:TAG|@DIGEST] | oci:DIR[:TAG] | oci-archive:FILE[:TAG] | "
                   "docker-archive:FILE")
      ->required();
  pull->footer(
      "A registry name is read as podman reads it: registries.conf ($CONTAINERS_REGISTRIES_CONF, else\n"
      "~/.config/containers/registries.conf or /etc/containers/registries.conf, with registries.conf.d/)\n"
      "gives mirrors (tried first), location rewrites, blocked and insecure registries, short-name\n"
      "aliases and unqualified-search registries. Credentials: --creds, --authfile/$REGISTRY_AUTH_FILE,\n"
      "else docker's config.json (credHelpers, auths, credsStore), else podman's auth.json.\n"
      "The image's OCI 1.1 referrers of the kind cimg keeps (an SBOM of build --sbom) come along: from\n"
      "the registry's referrers API, else its sha256-<digest> fallback tag; cimg sbom --attached prints them.\n\n"
      "Examples:\n  cimg pull quay.io/team/app:1.0\n  cimg pull nginx:1.25          # an alias or a search registry\n"
      "  CONTAINERS_REGISTRIES_CONF=./mirror.conf cimg pull docker.io/library/nginx:1.25\n"
      "  cimg pull oci-archive:app.tar --as app:1\n"
      "  cimg pull 127.0.0.1:5000/team/app:1 --tls-verify=false --as app:1\n"
      "  cimg pull docker.io/library/alpine:3.19 --platform linux/arm64\n"
      "  cimg pull 127.0.0.1:5000/team/cluster:1 --platform all --tls-verify=false\n"
      "  cimg pull oci-archive:cluster.tar --platform all --as team/cluster:1");
  pull->add_option("--as", pull_as, "Local name (default: from the source)");
  pull->add_option("--platform", pull_platform,
                   "os/arch[/variant] to pick from an index (default: this host); 'all': every "
                   "platform, kept as an image list");
  static bool pull_all = false;
  pull->add_flag("--all-platforms", pull_all, "Every platform of an index, kept as an image list (= --platform all)");
  pull_reg.Add(pull);
  pull->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PullOptions o;
    o.as_name = pull_as;
    o.progress = StderrProgress(quiet);
    if (pull_all || pull_platform == "all") return PullAll(*store, pull_src, pull_reg.Pull(o));
    if (!pull_platform.empty()) o.platform = Must(cfs::Platform::Parse(pull_platform));
    auto po = pull_reg.Pull(o);
    cfs::PullResult r = Must(cfs::registry::PullFromSource(*store, pull_src, po));
    if (po.client) {
      auto st = po.client->stats();
      std::printf("%s: %s fetched in %llu requests\n", pull_src.c_str(),
                  HumanSize(st.bytes_down).c_str(), static_cast<unsigned long long>(st.requests));
    }
    const auto& d = r.image;
    PrepareMountIndex(*store, d);
    std::printf("%s  %s\n", r.name.c_str(), d.summary.image_id.ToString().c_str());
    if (r.chunks_replaced)
      std::printf("  %llu damaged chunk%s of the stored image replaced\n",
                  static_cast<unsigned long long>(r.chunks_replaced), r.chunks_replaced == 1 ? "" : "s");
    std::printf("  %zu layers (%llu already stored, %llu fetched by parts), %s; chunks: %llu distinct, "
                "%llu new (%s stored)\n",
                d.layers.size(), static_cast<unsigned long long>(r.layers_reused),
                static_cast<unsigned long long>(r.layers_by_parts),
                HumanSize(d.summary.size).c_str(), static_cast<unsigned long long>(d.chunks_total),
                static_cast<unsigned long long>(d.chunks_new), HumanSize(d.bytes_new).c_str());
  });
}

// cimg load
void AddLoadCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* load = app.add_subcommand(
      "load", "Load every image of an oci-archive or docker-archive file, or a delta bundle");
  static std::vector<std::string> load_in;
  load->add_option("-i,--input", load_in,
                   "Archive file; a delta bundle's volumes (cimg save --since): all of them, "
                   "in any order (-i V1 -i V2 ...)")
      ->required();
  load->footer(
      "Examples:\n  cimg load -i cluster.tar\n"
      "  cimg load -i delta.tar                       # a delta bundle (its base image stored)\n"
      "  cimg load -i delta.tar.002 -i delta.tar.001  # its volumes, in any order\n");
  load->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PullOptions o;
    o.progress = StderrProgress(quiet);
    if (cfs::Store::IsDeltaBundle(load_in[0])) {
      for (const auto& r : Must(store->LoadDelta(load_in, o)))
        std::printf("Loaded image: %s (%llu of its layers were in the store)\n",
                    r.name.empty() ? r.image.summary.manifest_digest.ToString().c_str()
                                   : r.name.c_str(),
                    static_cast<unsigned long long>(r.layers_reused));
      return;
    }
    if (load_in.size() != 1) Must(cfs::Status::Invalid("load: one archive at a time (several -i "
                                                       "only for the volumes of a delta bundle)"));
    // cimg save of an image list (anything else, unreadable included, loads as before).
    if (auto is_list = cfs::registry::ArchiveHoldsImageList(load_in[0]); is_list.ok() && *is_list) {
      auto r = Must(cfs::registry::PullAllPlatformsLocal(*store, "oci-archive:" + load_in[0], o));
      for (const auto& img : r.images) PrepareMountIndex(*store, img.image);
      std::printf("Loaded image list: %s (%zu platforms)\n", r.list.names.empty() ? "" : r.list.names[0].c_str(),
                  r.list.children.size());
      return;
    }
    for (const auto& r : Must(store->Load(load_in[0], o))) {
      PrepareMountIndex(*store, r.image);
      std::printf("Loaded image: %s\n", r.name.c_str());
    }
  });
}

// push --digestfile: the digest alone, no newline (as skopeo and podman).
void WriteDigestFile(const std::string& path, const cfs::Digest& d) {
  if (path.empty()) return;
  Status s = cfs::WriteFileAtomic(path, d.ToString());
  if (!s.ok()) Fail(Status::Invalid("--digestfile: " + s.message()));
}

// The artifacts kept with the image (an SBOM of build --sbom), pushed as
// OCI 1.1 referrers of the manifest just pushed.
void PushAttachedArtifacts(cfs::Store& store, const std::string& name, cfs::registry::Client& client,
                           const cfs::registry::Reference& ref, const cfs::Digest& pushed, bool quiet) {
  cfs::ImageDetails d = Must(store.Inspect(name));
  auto pushed_refs =
      Must(cfs::registry::PushReferrers(store, client, ref.repository, d, pushed, store.root() + "/tmp"));
  for (const auto& r : pushed_refs)
    if (!quiet)
      std::fprintf(stderr, "Pushed %s artifact %s%s\n", r.artifact_type.c_str(), r.manifest.ToString().c_str(),
                   r.fallback_tag ? (" (listed under tag " + cfs::registry::ReferrersTag(pushed) + ")").c_str()
                                  : "");
}

}  // namespace

namespace {

// The summary line of a list push (none with -q: podman's push -q prints
// nothing but errors).
void PrintListPushed(const cfs::ImageListDetails& list, const std::string& dest, const cfs::Digest& d,
                     bool quiet) {
  if (quiet) return;
  std::printf("Pushed image list %s (%zu platforms) to %s: %s\n",
              list.names.empty() ? list.digest.ToString().c_str() : list.names[0].c_str(),
              list.children.size(), dest.c_str(), d.ToString().c_str());
}

}  // namespace

// cimg push LIST / cimg manifest push: the children, then the index.
void PushList(cfs::Store& store, const cfs::ImageListDetails& list, const std::string& dest,
              const cfs::PushOptions& o, const RegistryFlags& reg, const std::string& digestfile,
              bool quiet) {
  if (!cfs::registry::IsRegistryReference(dest)) {
    cfs::Digest d = Must(cfs::registry::PushImageListToLayout(store, list, dest, o));
    WriteDigestFile(digestfile, d);
    PrintListPushed(list, dest, d, quiet);
    return;
  }
  auto ref = Must(cfs::registry::Reference::Parse(dest));
  cfs::registry::PushToRegistryOptions po;
  po.client = reg.Connect(ref.registry);
  po.parallel = reg.parallel;
  po.push = o;
  cfs::Digest d = Must(cfs::registry::PushImageList(store, list, ref, po));
  WriteDigestFile(digestfile, d);
  PrintListPushed(list, ref.ToString(), d, quiet);
}

namespace {

// cimg push
void AddPushCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* push = app.add_subcommand("push", "Write an image to a destination");
  static std::string push_name, push_dest, push_comp = "zstd:chunked";
  static RegistryFlags push_reg;
  push->add_option("NAME", push_name, "Image in the store")->required();
  push->add_option("DEST", push_dest,
                   "[docker://]REGISTRY/REPO[:TAG] | oci:DIR[:TAG] | oci-archive:FILE[:TAG] "
                   "(default: NAME as a registry reference)");
  static std::string push_digestfile;
  push->add_option("--compression", push_comp, "zstd:chunked (default) | zstd | gzip | none");
  push->add_option("--digestfile", push_digestfile,
                   "Write the digest of the manifest pushed to this file (as skopeo and podman)");
  push_reg.Add(push);
  static SignFlags push_sign;
  push_sign.Add(push);
  push->footer(
      "Examples:\n"
      "  cimg push demo/app:1 registry.example.com/team/app:1\n"
      "  cimg push demo/app:1 oci-archive:/tmp/app.tar --compression gzip\n"
      "  cimg push demo/app:1 127.0.0.1:5000/app:1 --tls-verify=false --digestfile /tmp/app.digest\n"
      "  cimg push demo/app:1 quay.io/team/app:1 --sign-by-sigstore-private-key key.private \\\n"
      "      --sign-passphrase-file pass.txt\n"
      "  cimg push -q demo/app:1 127.0.0.1:5000/app:1 --tls-verify=false --digestfile d  # prints nothing\n\n"
      "-q (--quiet, before or after push) prints nothing but errors: no progress, no summary line\n"
      "(use --digestfile for the digest).");
  push->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PushOptions o;
    o.compression = Must(cfs::ParseCompression(push_comp));
    o.progress = StderrProgress(quiet);
    std::string dest = push_dest.empty() ? push_name : push_dest;
    if (auto list = Must(store->InspectImageList(push_name))) {
      return PushList(*store, *list, dest, o, push_reg, push_digestfile, quiet);
    }
    if (!cfs::registry::IsRegistryReference(dest)) {
      if (!push_sign.key.empty())
        Fail(Status::Invalid("--sign-by-sigstore-private-key: signatures go to registries only"));
      cfs::Digest manifest;
      Must(store->Push(push_name, dest, o, &manifest));
      WriteDigestFile(push_digestfile, manifest);
      if (!quiet) std::printf("Pushed %s to %s\n", push_name.c_str(), dest.c_str());
      return;
    }
    auto ref = Must(cfs::registry::Reference::Parse(dest));
    if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
    std::optional<cfs::registry::sigstore::PrivateKey> key;
    if (!push_sign.key.empty()) key = Must(LoadSigningKey(push_sign));
    cfs::registry::PushToRegistryOptions po;
    po.client = push_reg.Connect(ref.registry);
    po.parallel = push_reg.parallel;
    po.push = o;
    auto stats = Must(cfs::registry::PushToRegistry(*store, push_name, ref, po));
    if (key) Must(SignInRegistry(push_sign, *key, *po.client, ref, stats.manifest_digest));
    PushAttachedArtifacts(*store, push_name, *po.client, ref, stats.manifest_digest, quiet);
    WriteDigestFile(push_digestfile, stats.manifest_digest);
    if (quiet) return;  // podman's push -q: nothing but errors
    std::printf("Pushed %s to %s: %llu blobs uploaded (%s), %llu already there, %llu mounted\n",
                push_name.c_str(), ref.ToString().c_str(),
                static_cast<unsigned long long>(stats.blobs_uploaded),
                HumanSize(stats.bytes_uploaded).c_str(),
                static_cast<unsigned long long>(stats.blobs_skipped),
                static_cast<unsigned long long>(stats.blobs_mounted));
  });
}

// cimg save
void AddSaveCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* save = app.add_subcommand(
      "save", "Write images into one oci-archive file, or a delta bundle against an older image");
  static std::string save_out, save_comp = "zstd:chunked", save_since, save_split;
  static std::vector<std::string> save_names;
  save->add_option("-o,--output", save_out, "Archive file to write")->required();
  save->add_option("NAME", save_names, "Images to save")->required();
  save->add_option("--compression", save_comp, "zstd:chunked (default) | zstd | gzip | none");
  save->add_option("--since", save_since,
                   "Write a delta bundle: only what image OLD (held by the receiving store) "
                   "lacks, down to chunks");
  save->add_option("--split-size", save_split,
                   "With --since: volumes OUTPUT.001, OUTPUT.002, ... of at most this size "
                   "(e.g. 4G, 700M; at least 1M)");
  save->footer(
      "Examples:\n  cimg save -o cluster.tar mycluster:v2\n"
      "  cimg save --since mycluster:v1 -o delta.tar mycluster:v2\n"
      "  cimg save --since mycluster:v1 --split-size 4G -o /media/usb/delta.tar mycluster:v2\n"
      "  cimg save -o cluster-all.tar mycluster:multi   # an image list, alone: every platform; load keeps it\n");
  save->callback([&] {
    auto store = Must(OpenStore(g));
    for (const auto& n : save_names) {
      auto list = store->InspectImageList(n);
      if (!list.ok() || !*list) continue;
      if (save_names.size() != 1 || !save_since.empty())
        Fail(Status::Unsupported("save " + n + ": an image list is saved alone, without --since"));
      cfs::PushOptions o;
      o.compression = Must(cfs::ParseCompression(save_comp));
      o.progress = StderrProgress(quiet);
      // Tagged with the list's name, as save tags each image; cimg load keeps it a list.
      std::string tag = (*list)->names.empty() ? "" : (*list)->names[0];
      Must(cfs::registry::PushImageListToLayout(*store, **list, "oci-archive:" + save_out, o, tag));
      return;
    }
    if (save_since.empty()) {
      if (!save_split.empty()) Must(cfs::Status::Invalid("--split-size needs --since"));
      cfs::PushOptions o;
      o.compression = Must(cfs::ParseCompression(save_comp));
      o.progress = StderrProgress(quiet);
      Must(store->Save(save_names, save_out, o));
      return;
    }
    cfs::DeltaSaveOptions o;
    o.since = save_since;
    if (!save_split.empty()) o.split_size = Must(cfs::ParseByteSize(save_split));
    o.progress = StderrProgress(quiet);
    auto rep = Must(store->SaveDelta(save_names, save_out, o));
    auto n = [](uint64_t k, const char* what) {
      return std::to_string(k) + " " + what + (k == 1 ? "" : "s");
    };
    std::printf("Wrote %s in %s: %s (%llu more in %s), %s (%llu more in %s), %s of chunks\n",
                HumanSize(rep.bytes).c_str(), n(rep.files.size(), "volume").c_str(),
                n(rep.layers_sent, "layer").c_str(),
                static_cast<unsigned long long>(rep.layers_in_base), save_since.c_str(),
                n(rep.chunks_sent, "chunk").c_str(),
                static_cast<unsigned long long>(rep.chunks_in_base), save_since.c_str(),
                HumanSize(rep.chunk_bytes).c_str());
    for (const auto& f : rep.files) std::printf("  %s\n", f.c_str());
  });
}

// The config's Labels (config.Labels of the image config JSON).
std::map<std::string, std::string> ConfigLabels(const std::string& config) {
  std::map<std::string, std::string> out;
  json c = json::parse(config, nullptr, false);
  if (!c.is_object() || !c.contains("config") || !c["config"].is_object()) return out;
  const json& l = c["config"].value("Labels", json());
  if (!l.is_object()) return out;
  for (auto it = l.begin(); it != l.end(); ++it)
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  return out;
}

// A --format value's report, refused before any work when it does not parse.
cfs::tmpl::Report MustReport(const std::string& format, const char* default_table,
                             const std::vector<std::string>& fields,
                             const std::map<std::string, std::string>& headers = {}) {
  return Must(cfs::tmpl::Report::Parse(format.empty() ? "table" : format, default_table, fields, headers));
}

void PrintReport(const cfs::tmpl::Report& r, const std::vector<cfs::tmpl::Value>& rows) {
  std::fputs(Must(r.Render(rows)).c_str(), stdout);
}

// cimg images
struct ImagesFlags {
  std::string format;
  std::vector<std::string> filters;
  bool quiet = false, no_trunc = false, digests = false;
};

void RunImages(cfs::Store& store, const ImagesFlags& f) {
  const bool as_json = cfs::tmpl::IsJsonFormat(f.format);
  std::optional<cfs::tmpl::Report> report;
  if (!as_json && !f.quiet)
    report = MustReport(f.format, f.digests ? kImagesTableDigests : kImagesTable, ImageFields(), ImageHeaders());
  auto filter = Must(ImageFilter::Parse(f.filters, [&](const std::string& n) -> cfs::Result<cfs::ImageSummary> {
    ASSIGN_OR_RETURN(cfs::ImageDetails d, store.Inspect(n));
    return d.summary;
  }));
  // Labels only when a filter or the format may read them (one config read
  // per image).
  const bool labels = filter.needs_labels() || f.format.find("Labels") != std::string::npos ||
                      f.format.find("json") != std::string::npos;
  std::map<std::string, std::map<std::string, std::string>> labels_by_id;
  std::vector<cfs::ImageSummary> list;
  for (auto& s : Must(store.ListImages())) {
    std::map<std::string, std::string> l;
    if (labels && s.platforms.empty())
      l = ConfigLabels(Must(store.Inspect(s.manifest_digest.ToString())).config);
    if (!filter.Match(s, l)) continue;
    s.names = filter.ShownNames(s);
    labels_by_id[s.image_id.ToString()] = std::move(l);
    list.push_back(std::move(s));
  }
  // An image list among the rows: the default table shows PLATFORMS.
  const bool any_list = std::any_of(list.begin(), list.end(), [](const auto& s) { return !s.platforms.empty(); });
  if (report && f.format.empty() && any_list)
    report = MustReport("", f.digests ? kImagesTableDigestsPlatforms : kImagesTablePlatforms,
                        ImageFields(), ImageHeaders());
  if (f.quiet) {
    for (const auto& id : UniqueIds(list, f.no_trunc)) std::printf("%s\n", id.c_str());
  } else if (as_json) {
    json j = json::array();
    for (const auto& s : list)
      j.push_back({{"Names", s.names},
                   {"Id", s.image_id.ToString()},
                   {"Digest", s.manifest_digest.ToString()},
                   {"Created", Iso(s.created)},
                   {"Size", s.size}});
    for (size_t i = 0; i < list.size(); i++)
      if (!list[i].platforms.empty()) j[i]["Platforms"] = list[i].platforms;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    if (!labels) labels_by_id.clear();
    PrintReport(*report, ImageRows(list, labels_by_id, {f.no_trunc, std::time(nullptr)}));
  }
}

void AddImagesCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* images = app.add_subcommand("images", "List images in the store");
  static ImagesFlags f;
  images->add_option("--format", f.format,
                     "json, or a Go template: {{.ID}} {{.Repository}} {{.Tag}} {{.Digest}} {{.Created}} "
                     "{{.Size}} {{json .}} ...; 'table ...' adds a header row");
  images->add_option("-f,--filter", f.filters,
                     "reference=PATTERN, before=IMAGE, since=IMAGE, label=K[=V], label!=K[=V], "
                     "dangling=true|false, id=PREFIX (repeatable)");
  images->add_flag("-q,--quiet", f.quiet, "Print only the image IDs, each once");
  images->add_flag("--no-trunc", f.no_trunc, "Full image IDs (sha256:...)");
  images->add_flag("--digests", f.digests, "Add a DIGEST column (the manifest digest)");
  images->footer(
      "Fields of --format: ID, Id, Repository, Tag, Digest, Names, Created, CreatedAt, CreatedSince,\n"
      "CreatedTime, Size, VirtualSize, Labels, Dangling. \\t and \\n mean tab and newline.\n\n"
      "Examples:\n"
      "  cimg images -q --filter reference='demo/*'\n"
      "  cimg images --filter since=demo/base:1 --filter label=app=web\n"
      "  cimg images --format '{{.Repository}}:{{.Tag}} {{.ID}}'\n"
      "  cimg images --format 'table {{.ID}}\\t{{.Repository}}\\t{{.Size}}' --no-trunc\n"
      "  cimg images --format json");
  images->callback([&] { RunImages(*Must(OpenStore(g)), f); });
}

// `cimg inspect` of a stored name: an image list (without platform) as its
// index and platforms, else the image (a list's for platform, or the host's).
json LocalInspectJson(cfs::Store& store, const std::string& name, const std::string& platform,
                      std::string* raw) {
  if (platform.empty()) {
    if (auto list = Must(store.InspectImageList(name))) {
      *raw = list->index;
      json children = json::array(), platforms = json::array();
      for (const auto& c : list->children) {
        children.push_back({{"Digest", c.manifest.ToString()}, {"Platform", c.platform.ToString()}});
        platforms.push_back(c.platform.ToString());
      }
      return {{"Id", list->digest.ToString()},     {"Digest", list->digest.ToString()},
              {"RepoTags", list->names},          {"MediaType", "application/vnd.oci.image.index.v1+json"},
              {"Platforms", platforms},           {"Manifests", children},
              {"Source", list->source},           {"Index", json::parse(list->index, nullptr, false)}};
    }
  }
  cfs::Platform p;
  if (!platform.empty()) p = Must(cfs::Platform::Parse(platform));
  auto d = Must(store.Inspect(name, p));
  *raw = d.manifest;
  return InspectJson(d);
}

// cimg inspect
void AddInspectCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* inspect = app.add_subcommand("inspect", "Show an image's metadata as JSON");
  static std::vector<std::string> inspect_names;
  static std::string inspect_format = "json", inspect_platform;
  static bool inspect_raw = false;
  static RegistryFlags inspect_reg;
  inspect->add_option("NAME", inspect_names, "Images (name, digest or ID prefix; docker://REF: a registry's)")
      ->required();
  inspect->add_option("-f,--format", inspect_format,
                      "json (default), or a Go template run on each image: {{.Id}}, {{.Digest}}, "
                      "{{.RepoTags}}, {{.Config.Labels}}, {{json .Config}} ...");
  inspect->add_flag("--raw", inspect_raw, "The manifest as stored (docker://: as served, an index stays one)");
  inspect->add_option("--platform", inspect_platform,
                      "os/arch[/variant] to pick from an index (docker://) or an image list (default: "
                      "an image list itself; docker://: this host)");
  inspect_reg.Add(inspect);
  inspect->footer(
      "docker://REF reads a registry image without pulling it: its manifest and config, nothing\n"
      "else (registries.conf and credentials as for pull).\n\n"
      "Examples:\n"
      "  cimg inspect demo/app:1\n"
      "  cimg inspect --format '{{.Id}} {{.Digest}}' demo/app:1\n"
      "  cimg inspect --format '{{index .Config.Labels \"io.cimg.cmds\"}}' demo/app:1\n"
      "  cimg inspect --format '{{range .Layers}}{{.DiffID}} {{.Size}}\\n{{end}}' demo/app:1\n"
      "  cimg inspect docker://quay.io/team/app:1 --platform linux/arm64\n"
      "  cimg inspect demo/cluster:multi                         # an image list: its index and platforms\n"
      "  cimg inspect demo/cluster:multi --platform linux/arm64  # the list's arm64 image\n"
      "  cimg inspect --raw docker://127.0.0.1:5000/team/app:1 --tls-verify=false");
  inspect->callback([&] {
    std::optional<cfs::tmpl::Report> report;
    if (!cfs::tmpl::IsJsonFormat(inspect_format)) report = Must(cfs::tmpl::Report::Parse(inspect_format, "", {}));
    std::unique_ptr<cfs::Store> store;
    json out = json::array();
    for (const auto& n : inspect_names) {
      std::string raw;
      if (n.rfind("docker://", 0) == 0) {
        out.push_back(RemoteInspectJson(n, inspect_reg, inspect_platform, inspect_raw, &raw));
      } else {
        if (!store) store = Must(OpenStore(g));
        out.push_back(LocalInspectJson(*store, n, inspect_platform, &raw));
      }
      if (inspect_raw) std::fwrite(raw.data(), 1, raw.size(), stdout);  // the bytes exactly
    }
    if (inspect_raw) return;
    if (!report) {
      std::printf("%s\n", out.dump(2).c_str());
      return;
    }
    std::vector<cfs::tmpl::Value> rows;
    for (auto& j : out) {
      j["ID"] = j["Id"];  // docker's and podman's spelling both
      if (j.contains("Config") && j["Config"].is_object() && j["Config"].contains("Labels"))
        j["Labels"] = j["Config"]["Labels"];
      rows.push_back(FromJson(j));
    }
    PrintReport(*report, rows);
  });
}

// cimg tag
void AddTagCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* tag = app.add_subcommand("tag", "Give an image another name");
  static std::string tag_src, tag_dst;
  tag->add_option("SRC", tag_src, "Existing image")->required();
  tag->add_option("DST", tag_dst, "New name")->required();
  tag->footer("Example:\n  cimg tag demo/app:1 registry.example.com/team/app:1");
  tag->callback([&] {
    auto store = Must(OpenStore(g));
    Must(store->Tag(tag_src, tag_dst));
  });
}

// cimg rmi
void AddRmiCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* rmi = app.add_subcommand("rmi", "Remove image names (data goes at the next gc)");
  static std::vector<std::string> rmi_names;
  static bool rmi_force = false;
  rmi->add_option("NAME", rmi_names, "Images to remove (a name, or an ID: the image and all its names)")->required();
  rmi->add_flag("-f,--force", rmi_force, "Remove an image by ID or digest even when several names point at it");
  rmi->footer(
      "A name removes that name (the image goes with its last one); an ID (full or a prefix) or a\n"
      "manifest digest removes the image with all its names, refused without -f when it has several.\n\n"
      "Examples:\n"
      "  cimg rmi demo/app:1\n"
      "  cimg rmi -f 3f2a9c1b7d4e\n"
      "  cimg rmi $(cimg images -q --filter reference='demo/*')");
  rmi->callback([&] {
    auto store = Must(OpenStore(g));
    for (const auto& n : rmi_names)
      for (const auto& r : Must(store->Remove(n, rmi_force))) std::printf("Untagged: %s\n", r.c_str());
  });
}

// cimg history
struct HistoryFlags {
  std::string name, format;
  bool no_trunc = false, quiet = false;
};

void RunHistory(cfs::Store& store, const HistoryFlags& f) {
  static const std::vector<std::string> kFields = {"ID", "Layer", "Created", "CreatedAt", "CreatedBy",
                                                   "Size", "Comment"};
  const bool as_json = cfs::tmpl::IsJsonFormat(f.format);
  std::optional<cfs::tmpl::Report> report;
  if (!as_json)
    report = MustReport(f.quiet ? "{{.ID}}" : f.format,
                        "table {{.ID}}\\t{{.Created}}\\t{{.CreatedBy}}\\t{{.Size}}\\t{{.Comment}}",
                        kFields, {{"Layer", "LAYER ID"}});
  auto d = Must(store.Inspect(f.name));
  json config = json::parse(d.config, nullptr, false);
  json hist = config.is_object() && config.contains("history") ? config["history"] : json::array();
  json rows = json::array();
  std::vector<cfs::tmpl::Value> values;
  size_t layer = 0;
  for (const auto& h : hist) {
    bool empty = h.value("empty_layer", false);
    uint64_t size = 0;
    std::string id;
    if (!empty && layer < d.layers.size()) {
      size = d.layers[layer].tar_size;
      id = d.layers[layer].diff_id.ToString();
      layer++;
    }
    std::string created = h.value("created", ""), by = h.value("created_by", "");
    rows.push_back({{"Layer", id}, {"Created", created}, {"CreatedBy", by}, {"Size", size},
                    {"Comment", h.value("comment", "")}});
    if (!f.no_trunc && by.size() > 45) by = by.substr(0, 42) + "...";
    values.push_back(cfs::tmpl::Value::Map{
        {"ID", id.empty() ? "<missing>" : f.no_trunc ? id : id.substr(7, 12)},
        {"Layer", id},
        {"Created", Ago(cfs::ParseRfc3339(created), std::time(nullptr))},
        {"CreatedAt", created},
        {"CreatedBy", by},
        {"Size", HumanSize(size)},
        {"Comment", h.value("comment", "")}});
  }
  if (as_json) {
    std::printf("%s\n", rows.dump(2).c_str());
    return;
  }
  PrintReport(*report, values);
}

void AddHistoryCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* history = app.add_subcommand("history", "Show how an image's layers were made");
  static HistoryFlags f;
  history->add_option("NAME", f.name, "Image")->required();
  history->add_option("--format", f.format,
                      "json, or a Go template: {{.ID}} {{.Layer}} {{.Created}} {{.CreatedAt}} "
                      "{{.CreatedBy}} {{.Size}} {{.Comment}}; 'table ...' adds a header row");
  history->add_flag("--no-trunc", f.no_trunc, "Full layer IDs and commands");
  history->add_flag("-q,--quiet", f.quiet, "Print only the layer IDs");
  history->footer(
      "Examples:\n"
      "  cimg history demo/app:1\n"
      "  cimg history --format '{{.Size}}\\t{{.CreatedBy}}' demo/app:1\n"
      "  cimg history --format json demo/app:1");
  history->callback([&] { RunHistory(*Must(OpenStore(g)), f); });
}

// cimg diff
void AddDiffCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* diff = app.add_subcommand("diff", "List paths added (A), changed (C) and deleted (D)");
  static std::string diff_a, diff_b, diff_format;
  diff->add_option("NAME", diff_a, "Image (alone: compared with its parent, i.e. its top layer's changes)")->required();
  diff->add_option("NAME2", diff_b, "Second image: the changes from NAME to NAME2");
  diff->add_option("--format", diff_format,
                   "json, or a Go template: {{.Kind}} {{.Path}}; 'table ...' adds a header row");
  diff->footer(
      "Examples:\n"
      "  cimg diff demo/app:1\n"
      "  cimg diff demo/app:1 demo/app:2 --format '{{if eq .Kind \"D\"}}{{.Path}}{{end}}'\n"
      "  cimg diff demo/app:1 --format json");
  diff->callback([&] {
    const bool as_json = cfs::tmpl::IsJsonFormat(diff_format);
    std::optional<cfs::tmpl::Report> report;
    if (!as_json)
      report = Must(cfs::tmpl::Report::Parse(diff_format.empty() ? "{{.Kind}} {{.Path}}" : diff_format,
                                             "table {{.Kind}}\\t{{.Path}}", {"Kind", "Path"}));
    auto store = Must(OpenStore(g));
    auto changes = Must(store->Diff(diff_a, diff_b));
    json j = json::array();
    std::vector<cfs::tmpl::Value> rows;
    for (const auto& c : changes) {
      j.push_back({{"Kind", std::string(1, c.kind)}, {"Path", "/" + c.path}});
      rows.push_back(cfs::tmpl::Value::Map{{"Kind", std::string(1, c.kind)}, {"Path", "/" + c.path}});
    }
    if (as_json) {
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    PrintReport(*report, rows);
  });
}

}  // namespace

void AddImageCommands(CLI::App& app, const Global& g, const bool& quiet) {
  AddPullCommand(app, g, quiet);
  AddLoadCommand(app, g, quiet);
  AddPushCommand(app, g, quiet);
  AddSaveCommand(app, g, quiet);
  AddImagesCommand(app, g, quiet);
  AddInspectCommand(app, g, quiet);
  AddTagCommand(app, g, quiet);
  AddRmiCommand(app, g, quiet);
  AddHistoryCommand(app, g, quiet);
  AddDiffCommand(app, g, quiet);
  AddManifestCommands(app, g, quiet);
}

}  // namespace cimg
