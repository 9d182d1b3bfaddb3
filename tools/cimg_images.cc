// cimg commands over stored images: pull, load, push, save, images,
// inspect, tag, rmi, history, diff. Argument parsing and printing only.
#include <ctime>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "registry/client.h"
#include "registry/image_io.h"
#include "registry/pull.h"
#include "registry/push.h"
#include "registry/reference.h"
#include "store/store.h"
#include "tools/cimg_common.h"

namespace cimg {

namespace {

using nlohmann::json;

std::string Ago(int64_t t) {
  if (t <= 0) return "N/A";
  int64_t d = static_cast<int64_t>(std::time(nullptr)) - t;
  if (d < 60) return "Less than a minute ago";
  if (d < 3600) return std::to_string(d / 60) + " minutes ago";
  if (d < 86400) return std::to_string(d / 3600) + " hours ago";
  if (d < 86400 * 60) return std::to_string(d / 86400) + " days ago";
  return std::to_string(d / (86400 * 30)) + " months ago";
}

std::string Iso(int64_t t) {
  if (t <= 0) return "";
  char buf[32];
  struct tm tm;
  time_t tt = static_cast<time_t>(t);
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void SplitName(const std::string& n, std::string* repo, std::string* tag) {
  if (auto at = n.find('@'); at != std::string::npos) {  // REPO@sha256:… (pulled by digest)
    *repo = n.substr(0, at);
    *tag = "<none>";
    return;
  }
  auto slash = n.rfind('/');
  auto colon = n.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    *repo = n.substr(0, colon);
    *tag = n.substr(colon + 1);
  } else {
    *repo = n;
    *tag = "<none>";
  }
}

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
  j["Manifest"] = manifest;
  return j;
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
      "else docker's config.json (credHelpers, auths, credsStore), else podman's auth.json.\n\n"
      "Examples:\n  cimg pull quay.io/team/app:1.0\n  cimg pull nginx:1.25          # an alias or a search registry\n"
      "  CONTAINERS_REGISTRIES_CONF=./mirror.conf cimg pull docker.io/library/nginx:1.25\n"
      "  cimg pull oci-archive:app.tar --as app:1");
  pull->add_option("--as", pull_as, "Local name (default: from the source)");
  pull->add_option("--platform", pull_platform, "os/arch[/variant] to pick from an index (default: this host)");
  pull_reg.Add(pull);
  pull->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PullOptions o;
    o.as_name = pull_as;
    if (!pull_platform.empty()) o.platform = Must(cfs::Platform::Parse(pull_platform));
    o.progress = TerminalProgress(quiet);
    auto po = pull_reg.Pull(o);
    cfs::PullResult r = Must(cfs::registry::PullFromSource(*store, pull_src, po));
    if (po.client) {
      auto st = po.client->stats();
      std::printf("%s: %s fetched in %llu requests\n", pull_src.c_str(),
                  HumanSize(st.bytes_down).c_str(), static_cast<unsigned long long>(st.requests));
    }
    const auto& d = r.image;
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
    o.progress = TerminalProgress(quiet);
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
    for (const auto& r : Must(store->Load(load_in[0], o)))
      std::printf("Loaded image: %s\n", r.name.c_str());
  });
}

// cimg push
void AddPushCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* push = app.add_subcommand("push", "Write an image to a destination");
  static std::string push_name, push_dest, push_comp = "zstd:chunked";
  static RegistryFlags push_reg;
  push->add_option("NAME", push_name, "Image in the store")->required();
  push->add_option("DEST", push_dest,
                   "[docker://]REGISTRY/REPO[:TAG] | oci:DIR[:TAG] | oci-archive:FILE[:TAG] "
                   "(default: NAME as a registry reference)");
  push->add_option("--compression", push_comp, "zstd:chunked (default) | zstd | gzip | none");
  push_reg.Add(push);
  push->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PushOptions o;
    o.compression = Must(cfs::ParseCompression(push_comp));
    o.progress = TerminalProgress(quiet);
    std::string dest = push_dest.empty() ? push_name : push_dest;
    if (!cfs::registry::IsRegistryReference(dest)) {
      Must(store->Push(push_name, dest, o));
      std::printf("Pushed %s to %s\n", push_name.c_str(), dest.c_str());
      return;
    }
    auto ref = Must(cfs::registry::Reference::Parse(dest));
    if (ref.tag.empty() && !ref.digest) ref.tag = "latest";
    cfs::registry::PushToRegistryOptions po;
    po.client = push_reg.Connect(ref.registry);
    po.parallel = push_reg.parallel;
    po.push = o;
    auto stats = Must(cfs::registry::PushToRegistry(*store, push_name, ref, po));
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
      "  cimg save --since mycluster:v1 --split-size 4G -o /media/usb/delta.tar mycluster:v2\n");
  save->callback([&] {
    auto store = Must(OpenStore(g));
    if (save_since.empty()) {
      if (!save_split.empty()) Must(cfs::Status::Invalid("--split-size needs --since"));
      cfs::PushOptions o;
      o.compression = Must(cfs::ParseCompression(save_comp));
      o.progress = TerminalProgress(quiet);
      Must(store->Save(save_names, save_out, o));
      return;
    }
    cfs::DeltaSaveOptions o;
    o.since = save_since;
    if (!save_split.empty()) o.split_size = Must(cfs::ParseByteSize(save_split));
    o.progress = TerminalProgress(quiet);
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

// cimg images
void AddImagesCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* images = app.add_subcommand("images", "List images in the store");
  static std::string images_format;
  images->add_option("--format", images_format, "json for machine-readable output")
      ->check(CLI::IsMember({"", "json", "table"}));
  images->callback([&] {
    auto store = Must(OpenStore(g));
    auto list = Must(store->ListImages());
    if (images_format == "json") {
      json j = json::array();
      for (const auto& s : list)
        j.push_back({{"Names", s.names},
                     {"Id", s.image_id.ToString()},
                     {"Digest", s.manifest_digest.ToString()},
                     {"Created", Iso(s.created)},
                     {"Size", s.size}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    std::printf("%-40s %-16s %-14s %-22s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE");
    for (const auto& s : list) {
      std::vector<std::string> names = s.names;
      if (names.empty()) names.push_back("<none>");
      for (const auto& n : names) {
        std::string repo, tag;
        SplitName(n, &repo, &tag);
        std::printf("%-40s %-16s %-14s %-22s %s\n", repo.c_str(), tag.c_str(),
                    s.image_id.Hex().substr(0, 12).c_str(), Ago(s.created).c_str(),
                    HumanSize(s.size).c_str());
      }
    }
  });
}

// cimg inspect
void AddInspectCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* inspect = app.add_subcommand("inspect", "Show an image's metadata as JSON");
  static std::vector<std::string> inspect_names;
  static std::string inspect_format = "json";
  inspect->add_option("NAME", inspect_names, "Images (name, digest or ID prefix)")->required();
  inspect->add_option("--format", inspect_format, "json (default)")->check(CLI::IsMember({"json"}));
  inspect->callback([&] {
    auto store = Must(OpenStore(g));
    json out = json::array();
    for (const auto& n : inspect_names) out.push_back(InspectJson(Must(store->Inspect(n))));
    std::printf("%s\n", out.dump(2).c_str());
  });
}

// cimg tag
void AddTagCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* tag = app.add_subcommand("tag", "Give an image another name");
  static std::string tag_src, tag_dst;
  tag->add_option("SRC", tag_src, "Existing image")->required();
  tag->add_option("DST", tag_dst, "New name")->required();
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
  rmi->add_flag("-f,--force", rmi_force, "Remove an image by ID even when several names point at it");
  rmi->callback([&] {
    auto store = Must(OpenStore(g));
    for (const auto& n : rmi_names)
      for (const auto& r : Must(store->Remove(n, rmi_force))) std::printf("Untagged: %s\n", r.c_str());
  });
}

// cimg history
void AddHistoryCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* history = app.add_subcommand("history", "Show how an image's layers were made");
  static std::string history_name, history_format;
  history->add_option("NAME", history_name, "Image")->required();
  history->add_option("--format", history_format, "json for machine-readable output")
      ->check(CLI::IsMember({"", "json", "table"}));
  history->callback([&] {
    auto store = Must(OpenStore(g));
    auto d = Must(store->Inspect(history_name));
    json config = json::parse(d.config, nullptr, false);
    json hist = config.is_object() && config.contains("history") ? config["history"] : json::array();
    json rows = json::array();
    size_t layer = 0;
    for (const auto& h : hist) {
      bool empty = h.value("empty_layer", false);
      uint64_t size = 0;
      std::string id = "<missing>";
      if (!empty && layer < d.layers.size()) {
        size = d.layers[layer].tar_size;
        id = d.layers[layer].diff_id.ToString();
        layer++;
      }
      rows.push_back({{"Layer", empty ? "" : id},
                      {"Created", h.value("created", "")},
                      {"CreatedBy", h.value("created_by", "")},
                      {"Size", size},
                      {"Comment", h.value("comment", "")}});
    }
    if (history_format == "json") {
      std::printf("%s\n", rows.dump(2).c_str());
      return;
    }
    std::printf("%-14s %-22s %-50s %-10s %s\n", "LAYER", "CREATED", "CREATED BY", "SIZE", "COMMENT");
    for (const auto& r : rows) {
      std::string id = r["Layer"].get<std::string>();
      std::string by = r["CreatedBy"].get<std::string>();
      if (by.size() > 48) by = by.substr(0, 47) + "…";
      std::printf("%-14s %-22s %-50s %-10s %s\n", id.empty() ? "-" : id.substr(7, 12).c_str(),
                  Ago(cfs::ParseRfc3339(r["Created"].get<std::string>())).c_str(), by.c_str(),
                  HumanSize(r["Size"].get<uint64_t>()).c_str(), r["Comment"].get<std::string>().c_str());
    }
  });
}

// cimg diff
void AddDiffCommand(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* diff = app.add_subcommand("diff", "List paths added (A), changed (C) and deleted (D)");
  static std::string diff_a, diff_b, diff_format;
  diff->add_option("NAME", diff_a, "Image (alone: compared with its parent, i.e. its top layer's changes)")->required();
  diff->add_option("NAME2", diff_b, "Second image: the changes from NAME to NAME2");
  diff->add_option("--format", diff_format, "json for machine-readable output")
      ->check(CLI::IsMember({"", "json", "table"}));
  diff->callback([&] {
    auto store = Must(OpenStore(g));
    auto changes = Must(store->Diff(diff_a, diff_b));
    if (diff_format == "json") {
      json j = json::array();
      for (const auto& c : changes) j.push_back({{"Kind", std::string(1, c.kind)}, {"Path", "/" + c.path}});
      std::printf("%s\n", j.dump(2).c_str());
      return;
    }
    for (const auto& c : changes) std::printf("%c /%s\n", c.kind, c.path.c_str());
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
}

}  // namespace cimg
