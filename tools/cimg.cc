// cimg: the cluster image tool. Argument parsing and printing only; the work
// is done by the libraries (store/ for now).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "builder/builder.h"
#include "tools/cimg_common.h"
#include "registry/auth.h"
#include "registry/client.h"
#include "registry/image_io.h"
#include "registry/pull.h"
#include "registry/reference.h"
#include "store/index.h"
#include "store/store.h"
#include "store/work_dir.h"

namespace {

using cfs::Status;
using nlohmann::json;
using namespace cimg;

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

std::function<void(const std::string&, uint64_t, uint64_t)> ItemProgress(
    const cfs::ProgressFn& p, const std::string& phase) {
  if (!p) return nullptr;
  return [p, phase](const std::string& item, uint64_t done, uint64_t total) {
    p({phase, item, done, total});
  };
}

std::string ReadPasswordStdin() {
  std::string pw;
  std::getline(std::cin, pw);
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  return pw;
}

}  // namespace

// cimg fsck --repair: Store::Repair, then a pull of every image that needs
// one from the source it was stored from.
void RepairStore(cfs::Store& store, RegistryFlags& reg, bool quiet) {
  auto rep = Must(store.Repair());
  for (const auto& a : rep.actions) std::printf("repair: %s\n", a.c_str());
  for (const auto& img : rep.images_to_pull) {
    std::string name = img.names.empty() ? img.manifest.ToString() : img.names[0];
    cfs::PullOptions o;
    o.as_name = img.names.empty() ? "" : img.names[0];
    o.progress = TerminalProgress(quiet);
    cfs::Result<cfs::PullResult> r = cfs::Status::Invalid("no source recorded");
    std::string src = img.source;
    if (src.rfind("docker://", 0) == 0) {
      auto ref = cfs::registry::Reference::Parse(src);
      if (!ref.ok()) {
        r = ref.status();
      } else {
        cfs::registry::PullFromRegistryOptions po;
        po.client = reg.Connect(ref->registry);
        po.parallel = reg.parallel;
        po.source = src;
        po.pull = o;
        r = cfs::registry::PullFromRegistry(store, *ref, po);
      }
    } else if (src.rfind("oci:", 0) == 0 || src.rfind("oci-archive:", 0) == 0 ||
               src.rfind("docker-archive:", 0) == 0) {
      r = store.Pull(src, o);
    }
    if (r.ok())
      std::printf("repair: %s: pulled again from %s\n", name.c_str(), src.c_str());
    else
      std::printf("repair: %s: could not pull it again from %s: %s\n", name.c_str(),
                  src.empty() ? "(no source)" : src.c_str(), r.status().message().c_str());
  }
}

// cimg gc and cimg fsck [--repair]. Flags live as long as the process
// (static), as in AddDeployCommands.
void AddGcFsckCommands(CLI::App& app, const Global& g, const bool& quiet) {
  // gc
  auto* gc = app.add_subcommand("gc", "Remove data no image or mount references");
  gc->callback([&g] {
    auto store = Must(OpenStore(g));
    auto r = Must(store->Gc());
    std::printf("gc: removed %llu chunks, %llu layers, %llu blobs, %llu packs, %llu scratch dirs; "
                "reclaimed %s\n",
                static_cast<unsigned long long>(r.chunks_removed),
                static_cast<unsigned long long>(r.layers_removed),
                static_cast<unsigned long long>(r.blobs_removed),
                static_cast<unsigned long long>(r.packs_removed),
                static_cast<unsigned long long>(r.scratch_removed), HumanSize(r.bytes_reclaimed).c_str());
    if (r.quarantined)
      std::printf("gc: moved %llu files that are not packs to %s/quarantine\n",
                  static_cast<unsigned long long>(r.quarantined), store->root().c_str());
  });

  auto* fsck = app.add_subcommand("fsck", "Verify every chunk and reference in the store");
  fsck->footer(
      "Examples:\n  cimg fsck\n  cimg fsck --repair --tls-verify=false\n\n"
      "--repair replaces chunks that fail their check by intact copies in the store, else drops\n"
      "them from the index and pulls the images that need them again from where they came from.");
  static bool fsck_repair = false;
  static RegistryFlags fsck_reg;
  fsck->add_flag("--repair", fsck_repair, "Replace bad chunks from a good source");
  fsck_reg.Add(fsck);
  fsck->callback([&g, &quiet] {
    if (fsck_repair) {
      // A lost index/CURRENT is restored before the store can open at all.
      std::string root = g.root.empty() ? cfs::DefaultStoreRoot() : g.root;
      if (cfs::PathExists(root + "/index") && !cfs::PathExists(root + "/index/CURRENT")) {
        Must(cfs::Index::RestoreCurrent(root));
        std::printf("repair: %s/index/CURRENT restored (it names the newest manifest)\n", root.c_str());
      }
    }
    auto store = Must(OpenStore(g));
    if (fsck_repair) RepairStore(*store, fsck_reg, quiet);
    auto r = Must(store->Fsck());
    for (const auto& p : r.problems) std::printf("%s\n", p.c_str());
    std::printf("fsck: %llu chunks, %llu layers, %llu images checked; %llu garbage records; %s\n",
                static_cast<unsigned long long>(r.chunks_checked),
                static_cast<unsigned long long>(r.layers_checked),
                static_cast<unsigned long long>(r.images_checked),
                static_cast<unsigned long long>(r.garbage_records),
                r.problems.empty() ? "clean" : (std::to_string(r.problems.size()) + " problems").c_str());
    if (!r.problems.empty()) std::exit(1);
  });
}

int main(int argc, char** argv) {
  CLI::App app{"cimg: build, store, move and inspect cluster images"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  Global g;
  app.add_option("--root", g.root, "Store root (default: $CIMG_ROOT or /var/lib/cimg)");
  app.add_option("--threads", g.threads, "Worker threads for hashing and compression (0 = all cores)");
  bool quiet = false;
  app.add_flag("-q,--quiet", quiet, "No progress output");

  // pull
  auto* pull = app.add_subcommand("pull", "Copy an image into the store");
  std::string pull_src, pull_as, pull_platform;
  RegistryFlags pull_reg;
  pull->add_option("SRC", pull_src,
                   "[docker://]REGISTRY/REPO[:TAG|@DIGEST] | oci:DIR[:TAG] | oci-archive:FILE[:TAG] | "
                   "docker-archive:FILE")
      ->required();
  pull->add_option("--as", pull_as, "Local name (default: from the source)");
  pull->add_option("--platform", pull_platform, "os/arch[/variant] to pick from an index (default: this host)");
  pull_reg.Add(pull);
  pull->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PullOptions o;
    o.as_name = pull_as;
    if (!pull_platform.empty()) o.platform = Must(cfs::Platform::Parse(pull_platform));
    o.progress = TerminalProgress(quiet);
    cfs::PullResult r;
    if (cfs::registry::IsRegistryReference(pull_src)) {
      auto ref = Must(cfs::registry::Reference::Parse(pull_src));
      cfs::registry::PullFromRegistryOptions po;
      po.client = pull_reg.Connect(ref.registry);
      po.parallel = pull_reg.parallel;
      po.pull = o;
      r = Must(cfs::registry::PullFromRegistry(*store, ref, po));
      auto st = po.client->stats();
      std::printf("%s: %s fetched in %llu requests\n", ref.ToString().c_str(),
                  HumanSize(st.bytes_down).c_str(), static_cast<unsigned long long>(st.requests));
    } else {
      r = Must(store->Pull(pull_src, o));
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

  // load
  auto* load = app.add_subcommand("load", "Load every image of an oci-archive or docker-archive file");
  std::string load_in;
  load->add_option("-i,--input", load_in, "Archive file")->required();
  load->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PullOptions o;
    o.progress = TerminalProgress(quiet);
    for (const auto& r : Must(store->Load(load_in, o)))
      std::printf("Loaded image: %s\n", r.name.c_str());
  });

  // push
  auto* push = app.add_subcommand("push", "Write an image to a destination");
  std::string push_name, push_dest, push_comp = "zstd:chunked";
  RegistryFlags push_reg;
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
    // Blobs of an image pulled from another repository of the same registry
    // may be mounted from there instead of uploaded.
    std::string mount_from;
    auto details = Must(store->Inspect(push_name));
    if (details.source.rfind("docker://", 0) == 0) {
      auto from = cfs::registry::Reference::Parse(details.source);
      if (from.ok() && from->registry == ref.registry && from->repository != ref.repository)
        mount_from = from->repository;
    }
    auto client = push_reg.Connect(ref.registry);
    cfs::registry::PushStats stats;
    // Scratch in a work dir of this process (gc leaves it alone), gone
    // before any exit, failures included.
    auto push_remote = [&]() -> Status {
      ASSIGN_OR_RETURN(auto work, cfs::WorkDir::Create(store->root(), "push-"));
      ASSIGN_OR_RETURN(auto dst, cfs::registry::OpenRegistryDestination(
                                     client, ref, work.path(), mount_from, &stats,
                                     ItemProgress(o.progress, "upload"), push_reg.parallel));
      Status pushed = store->PushTo(push_name, *dst, ref.digest ? "" : ref.tag, o);
      dst.reset();  // joins its upload threads first
      return pushed;
    };
    Must(push_remote());
    std::printf("Pushed %s to %s: %llu blobs uploaded (%s), %llu already there, %llu mounted\n",
                push_name.c_str(), ref.ToString().c_str(),
                static_cast<unsigned long long>(stats.blobs_uploaded),
                HumanSize(stats.bytes_uploaded).c_str(),
                static_cast<unsigned long long>(stats.blobs_skipped),
                static_cast<unsigned long long>(stats.blobs_mounted));
  });

  // build
  auto* build = app.add_subcommand("build", "Build a cluster image from a Kubefile");
  cfs::builder::BuildOptions bo;
  std::vector<std::string> build_args;
  std::string build_platform;
  RegistryFlags build_reg;
  build->add_option("-f,--file", bo.kubefile, "Kubefile (default: CONTEXT/Kubefile)");
  build->add_option("-t,--tag", bo.tag, "Name of the image")->required();
  build->add_option("--build-arg", build_args, "K=V for an ARG (repeatable)");
  build->add_option("--platform", build_platform, "os/arch[/variant] of the image (default: this host)");
  build->add_flag("--no-cache", bo.no_cache, "Run every step, ignoring the build cache");
  build->add_option("--image-list", bo.image_list, "More container images to collect (one a line)");
  build->add_option("--ignored-image-list", bo.ignored_image_list, "Container images not to collect (one a line)");
  build->add_option("--build-mode", bo.build_mode,
                    "lite (default): collect the container images the rootfs names into registry/; "
                    "all: also the image archives under images/")
      ->check(CLI::IsMember({"lite", "all"}));
  build->add_option("--max-download", bo.download.max_bytes,
                    "Largest COPY http(s):// download (default 1GiB; k/M/G suffixes)")
      ->transform(CLI::AsSizeValue(false));
  build->add_option("--download-timeout", bo.download.timeout_s,
                    "Seconds a COPY http(s):// download may take (default 1800)")
      ->check(CLI::PositiveNumber);
  build_reg.Add(build);
  build->add_option("CONTEXT", bo.context, "Build context directory")->required();
  build->callback([&] {
    auto store = Must(OpenStore(g));
    for (const auto& a : build_args) {
      auto eq = a.find('=');
      if (eq == std::string::npos || eq == 0) Fail(Status::Invalid("--build-arg " + a + ": want K=V"));
      bo.build_args.emplace_back(a.substr(0, eq), a.substr(eq + 1));
    }
    if (!build_platform.empty()) bo.platform = Must(cfs::Platform::Parse(build_platform));
    bo.registry = build_reg.Options();
    bo.log = [&](const std::string& line) {
      if (!quiet) std::fprintf(stderr, "%s\n", line.c_str());
    };
    bo.progress = TerminalProgress(quiet);
    auto t0 = std::chrono::steady_clock::now();
    auto r = Must(cfs::builder::Build(*store, bo));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%s  %s\n", bo.tag.c_str(), r.image.summary.image_id.ToString().c_str());
    std::printf("  %d steps (%d layer steps cached), %zu layers, %s, %zu container images, %.2f s\n",
                r.steps, r.cached, r.image.layers.size(), HumanSize(r.image.summary.size).c_str(),
                r.images.size(), secs);
  });

  // commit
  auto* commit = app.add_subcommand("commit",
                                    "Make a writable clusterfs mount's changes (its upper dir) a new image");
  std::string commit_mnt, commit_name, commit_msg;
  commit->add_option("MNT", commit_mnt, "Mount point of a clusterfs mount with an upper dir")->required();
  commit->add_option("NAME", commit_name, "Name of the new image")->required();
  commit->add_option("-m,--message", commit_msg, "Comment in the image history");
  commit->callback([&] {
    char* rp = ::realpath(commit_mnt.c_str(), nullptr);
    if (!rp) Fail(Status::NotFound(commit_mnt + ": no such directory"));
    std::string mnt = rp;
    ::free(rp);
    std::string dir = ::geteuid() == 0 ? "/run/clusterfs"
                                       : "/run/user/" + std::to_string(::geteuid()) + "/clusterfs";
    std::string statefile = dir + "/" + cfs::Digest::Of(mnt).Hex().substr(0, 16) + ".json";
    auto body = cfs::ReadFile(statefile);
    if (!body.ok()) Fail(Status::NotFound(commit_mnt + " is not a clusterfs mount"));
    json st = json::parse(*body, nullptr, false);
    if (!st.is_object()) Fail(Status::Corruption(statefile + ": malformed"));
    std::string upper = st.value("upper", "");
    auto manifests = st.value("manifests", std::vector<std::string>());
    if (upper.empty()) Fail(Status::Invalid(commit_mnt + " is read-only (no upper dir): nothing to commit"));
    if (manifests.size() != 1 || manifests[0].empty() || st.value("dir_lowers", 0) != 0)
      Fail(Status::Unsupported(commit_mnt + ": commit needs a mount of one image from the store"));
    auto store = Must(OpenStore(g));
    if (st.value("root", "") != store->root())
      Fail(Status::Invalid(commit_mnt + " is mounted from the store " + st.value("root", "") +
                           " (use cimg --root " + st.value("root", "") + ")"));
    // Changes made through the mount are in the upper dir once synced.
    int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
      ::syncfs(fd);
      ::close(fd);
    }
    auto base = Must(store->Inspect(manifests[0]));
    std::unique_ptr<cfs::Store::Lease> lease2;
    auto layer = Must(store->ImportDirLayer(upper, TerminalProgress(quiet), &lease2));
    json cfg = json::parse(base.config, nullptr, false);
    if (!cfg.is_object()) cfg = json::object();
    char now[32];
    std::time_t t = std::time(nullptr);
    struct tm tm;
    gmtime_r(&t, &tm);
    std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cfg["created"] = now;
    if (!cfg.contains("rootfs") || !cfg["rootfs"].is_object())
      cfg["rootfs"] = {{"type", "layers"}, {"diff_ids", json::array()}};
    cfg["rootfs"]["diff_ids"].push_back(layer.diff_id.ToString());
    if (!cfg.contains("history") || !cfg["history"].is_array()) cfg["history"] = json::array();
    json h = {{"created", now}, {"created_by", "cimg commit " + mnt}};
    if (!commit_msg.empty()) h["comment"] = commit_msg;
    cfg["history"].push_back(h);
    auto img = Must(store->CreateImage(commit_name, cfg.dump(), "commit:" + mnt, {layer}));
    std::printf("%s  %s\n  %zu layers (+1: %llu entries, %s)\n", commit_name.c_str(),
                img.summary.image_id.ToString().c_str(), img.layers.size(),
                static_cast<unsigned long long>(layer.entries), HumanSize(layer.tar_size).c_str());
  });

  // diff
  auto* diff = app.add_subcommand("diff", "List paths added (A), changed (C) and deleted (D)");
  std::string diff_a, diff_b, diff_format;
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

  // login / logout
  auto* login = app.add_subcommand("login", "Log in to a registry (credentials go to the auth file)");
  std::string login_reg, login_user, login_pass;
  bool login_stdin = false;
  RegistryFlags login_flags;
  login->add_option("REGISTRY", login_reg, "host[:port]")->required();
  login->add_option("-u,--username", login_user, "User name");
  login->add_option("-p,--password", login_pass, "Password (prefer --password-stdin)");
  login->add_flag("--password-stdin", login_stdin, "Read the password from stdin");
  login_flags.Add(login, false);
  login->callback([&] {
    std::string reg = cfs::registry::NormalizeRegistryHost(login_reg);
    if (login_stdin && !login_pass.empty()) Fail(Status::Invalid("--password and --password-stdin are exclusive"));
    if (login_user.empty()) {
      if (!::isatty(0) || login_stdin) Fail(Status::Invalid("login: give --username"));
      std::fprintf(stderr, "Username: ");
      std::getline(std::cin, login_user);
    }
    if (login_stdin) {
      login_pass = ReadPasswordStdin();
    } else if (login_pass.empty()) {
      if (!::isatty(0)) Fail(Status::Invalid("login: give --password-stdin (stdin is not a terminal)"));
      char* pw = ::getpass("Password: ");
      login_pass = pw ? pw : "";
    }
    if (login_pass.empty()) Fail(Status::Invalid("login: empty password"));
    login_flags.creds = login_user + ":" + login_pass;
    auto client = login_flags.Connect(reg);
    Must(client->CheckLogin());
    cfs::registry::Credentials c;
    c.username = login_user;
    c.password = login_pass;
    std::string file = login_flags.authfile.empty() ? cfs::registry::DefaultAuthFile() : login_flags.authfile;
    Must(cfs::registry::StoreCredentials(file, reg, c));
    std::printf("Login Succeeded (%s)\n", reg.c_str());
  });
  auto* logout = app.add_subcommand("logout", "Remove a registry's credentials from the auth file");
  std::string logout_reg, logout_file;
  logout->add_option("REGISTRY", logout_reg, "host[:port]")->required();
  logout->add_option("--authfile", logout_file, "Auth file (default: $REGISTRY_AUTH_FILE or ~/.docker/config.json)");
  logout->callback([&] {
    std::string reg = cfs::registry::NormalizeRegistryHost(logout_reg);
    std::string file = logout_file.empty() ? cfs::registry::DefaultAuthFile() : logout_file;
    if (!Must(cfs::registry::RemoveCredentials(file, reg)))
      Fail(Status::NotFound("not logged in to " + reg));
    std::printf("Removed login credentials for %s\n", reg.c_str());
  });

  // save
  auto* save = app.add_subcommand("save", "Write images into one oci-archive file");
  std::string save_out, save_comp = "zstd:chunked";
  std::vector<std::string> save_names;
  save->add_option("-o,--output", save_out, "Archive file to write")->required();
  save->add_option("NAME", save_names, "Images to save")->required();
  save->add_option("--compression", save_comp, "zstd:chunked (default) | zstd | gzip | none");
  save->callback([&] {
    auto store = Must(OpenStore(g));
    cfs::PushOptions o;
    o.compression = Must(cfs::ParseCompression(save_comp));
    o.progress = TerminalProgress(quiet);
    Must(store->Save(save_names, save_out, o));
  });

  // images
  auto* images = app.add_subcommand("images", "List images in the store");
  std::string images_format;
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

  // inspect
  auto* inspect = app.add_subcommand("inspect", "Show an image's metadata as JSON");
  std::vector<std::string> inspect_names;
  std::string inspect_format = "json";
  inspect->add_option("NAME", inspect_names, "Images (name, digest or ID prefix)")->required();
  inspect->add_option("--format", inspect_format, "json (default)")->check(CLI::IsMember({"json"}));
  inspect->callback([&] {
    auto store = Must(OpenStore(g));
    json out = json::array();
    for (const auto& n : inspect_names) out.push_back(InspectJson(Must(store->Inspect(n))));
    std::printf("%s\n", out.dump(2).c_str());
  });

  // tag
  auto* tag = app.add_subcommand("tag", "Give an image another name");
  std::string tag_src, tag_dst;
  tag->add_option("SRC", tag_src, "Existing image")->required();
  tag->add_option("DST", tag_dst, "New name")->required();
  tag->callback([&] {
    auto store = Must(OpenStore(g));
    Must(store->Tag(tag_src, tag_dst));
  });

  // rmi
  auto* rmi = app.add_subcommand("rmi", "Remove image names (data goes at the next gc)");
  std::vector<std::string> rmi_names;
  bool rmi_force = false;
  rmi->add_option("NAME", rmi_names, "Images to remove (a name, or an ID: the image and all its names)")->required();
  rmi->add_flag("-f,--force", rmi_force, "Remove an image by ID even when several names point at it");
  rmi->callback([&] {
    auto store = Must(OpenStore(g));
    for (const auto& n : rmi_names)
      for (const auto& r : Must(store->Remove(n, rmi_force))) std::printf("Untagged: %s\n", r.c_str());
  });

  // history
  auto* history = app.add_subcommand("history", "Show how an image's layers were made");
  std::string history_name, history_format;
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

  AddGcFsckCommands(app, g, quiet);
  AddDeployCommands(app, g, quiet);

  // Name an unknown command (CLI11 would only say one is required).
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--root" || a == "--threads") {
      i++;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    bool known = false;
    for (const auto* sub : app.get_subcommands({})) known |= sub->get_name() == a;
    if (!known) {
      std::fprintf(stderr, "cimg: unknown command \"%s\" (see 'cimg --help')\n", a.c_str());
      return 2;
    }
    break;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One line, like every other error; name the subcommand when there is one.
    std::string where = "cimg";
    for (const auto* sub : app.get_subcommands()) where += " " + sub->get_name();
    std::fprintf(stderr, "cimg: %s (see '%s --help')\n", e.what(), where.c_str());
    return 2;
  }
  return 0;
}
