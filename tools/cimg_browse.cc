// cimg commands that look inside images without a mount, root or FUSE:
// ls, cat, cp, export (of stored images, and of registry images read lazily:
// only the TOCs and the chunks needed cross the wire), and the registry half
// of inspect (docker://REF: manifest and config only). Argument parsing and
// printing only: lazy/readable_image.h, layer/merged_file.h,
// layer/merged_tar.h, builder/copy_out.h and registry/remote_inspect.h do
// the work.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/io.h"
#include "base/time.h"
#include "builder/copy_out.h"
#include "layer/merged_file.h"
#include "layer/merged_tar.h"
#include "lazy/readable_image.h"
#include "registry/remote_inspect.h"
#include "tools/cimg_common.h"
#include "tools/cimg_source.h"

namespace cimg {

namespace {

using nlohmann::json;

// IMAGE[:/PATH] split at the first ":/" after any "docker://" (names hold
// ':' for tags and ports, never ":/").
void SplitImagePath(const std::string& arg, std::string* image, std::string* path) {
  size_t from = arg.rfind("docker://", 0) == 0 ? 9 : 0;
  size_t at = arg.find(":/", from);
  if (at == std::string::npos) {
    *image = arg;
    path->clear();
    return;
  }
  *image = arg.substr(0, at);
  *path = arg.substr(at + 1);
}

// "drwxr-xr-x" of an entry.
std::string ModeString(const cfs::TocEntry& e) {
  static const char kType[] = "-dlhcbp";
  std::string s(1, kType[static_cast<int>(e.type)]);
  if (e.type == cfs::EntryType::kHardlink) s[0] = '-';
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; i++) s += (e.mode >> (8 - i)) & 1 ? rwx[i] : '-';
  auto special = [&](int pos, uint32_t bit, char set, char unset) {
    if (e.mode & bit) s[pos] = s[pos] == '-' ? unset : set;
  };
  special(3, 04000, 's', 'S');
  special(6, 02000, 's', 'S');
  special(9, 01000, 't', 'T');
  return s;
}

json ListJson(const cfs::LayerStack& stack, const cfs::MergedListEntry& e) {
  const cfs::TocEntry& m = cfs::MergedMeta(stack, e.ref);
  json j = {{"Path", e.path},
            {"Type", cfs::EntryTypeName(m.type)},
            {"Mode", ModeString(m)},
            {"Uid", m.uid},
            {"Gid", m.gid},
            {"Size", m.type == cfs::EntryType::kRegular ? m.size : 0},
            {"Mtime", Iso(m.mtime_sec)}};
  if (m.type == cfs::EntryType::kSymlink) j["LinkTarget"] = m.link_target;
  if (m.type == cfs::EntryType::kChar || m.type == cfs::EntryType::kBlock)
    j["Device"] = std::to_string(m.dev_major) + "," + std::to_string(m.dev_minor);
  if (!m.xattrs.empty()) {
    j["Xattrs"] = json::array();
    for (const auto& [k, v] : m.xattrs) j["Xattrs"].push_back(k);
  }
  return j;
}

// ls -ln's columns (no link count): mode, uid, gid, size (or major, minor),
// mtime (UTC), name [-> target].
void PrintLong(const cfs::LayerStack& stack, const std::vector<cfs::MergedListEntry>& list) {
  std::vector<std::vector<std::string>> rows;
  size_t w[4] = {0, 0, 0, 0};
  for (const auto& e : list) {
    const cfs::TocEntry& m = cfs::MergedMeta(stack, e.ref);
    std::string size = m.type == cfs::EntryType::kChar || m.type == cfs::EntryType::kBlock
                           ? std::to_string(m.dev_major) + ", " + std::to_string(m.dev_minor)
                           : std::to_string(m.type == cfs::EntryType::kRegular ? m.size : 0);
    std::string name = e.path;
    if (m.type == cfs::EntryType::kSymlink) name += " -> " + m.link_target;
    rows.push_back({ModeString(m), std::to_string(m.uid), std::to_string(m.gid), size,
                    cfs::FormatUtc(m.mtime_sec, "%Y-%m-%d %H:%M"), name});
    for (int i = 0; i < 4; i++) w[i] = std::max(w[i], rows.back()[i].size());
  }
  for (const auto& r : rows)
    std::printf("%-*s %*s %*s %*s %s %s\n", int(w[0]), r[0].c_str(), int(w[1]), r[1].c_str(),
                int(w[2]), r[2].c_str(), int(w[3]), r[3].c_str(), r[4].c_str(), r[5].c_str());
}

// cimg ls
void AddLsCommand(CLI::App& app, const Global& g) {
  static auto* ls =
      app.add_subcommand("ls", "List a directory of an image (stored or in a registry)");
  static std::string arg, path_arg, format;
  static bool recursive = false;
  static SourceFlags reg;
  ls->add_option("IMAGE[:/PATH]", arg,
                 "An image of the store or REGISTRY/REPO[:TAG], and a path (default /)")
      ->required();
  ls->add_option("PATH", path_arg, "The path, when not given after IMAGE:");
  ls->add_flag("-R,--recursive", recursive, "List subdirectories too");
  ls->add_option("--format", format, "json: one JSON array of the entries");
  reg.Add(ls);
  ls->footer(
      "Columns as ls -ln: mode, uid, gid, size (major, minor for devices), mtime (UTC), name.\n"
      "A registry image is read lazily: only its layers' TOCs are fetched (kept in the store).\n\n"
      "Examples:\n  cimg ls demo/app:1:/etc\n  cimg ls demo/app:1 /etc -R\n"
      "  cimg ls 127.0.0.1:5000/team/app:1:/manifests --tls-verify=false\n"
      "  cimg ls demo/app:1:/ --format json");
  ls->callback([&] {
    std::string image, path;
    SplitImagePath(arg, &image, &path);
    if (!path_arg.empty()) path = path_arg;
    if (!format.empty() && format != "json") Fail(cfs::Status::Invalid("--format takes json"));
    auto store = Must(OpenStore(g));
    auto img = OpenImage(*store, image, reg);
    auto list = cfs::ListMerged(img->stack(), path, recursive);
    if (!list.ok()) Fail(list.status().Prefix(image + ":" + (path.empty() ? "/" : path)));
    if (format.empty()) return PrintLong(img->stack(), *list);
    json out = json::array();
    for (const auto& e : *list) out.push_back(ListJson(img->stack(), e));
    std::printf("%s\n", out.dump(2).c_str());
  });
}

// cimg cat
void AddCatCommand(CLI::App& app, const Global& g) {
  static auto* cat = app.add_subcommand("cat", "Write a file of an image to stdout");
  static std::string arg;
  static SourceFlags reg;
  cat->add_option("IMAGE:/PATH", arg, "An image of the store or REGISTRY/REPO[:TAG], and the file")
      ->required();
  reg.Add(cat);
  cat->footer(
      "Every chunk is verified against its digest. A registry image is read lazily: its TOCs and\n"
      "the file's chunks are fetched (Range requests), nothing else; they stay in the store.\n\n"
      "Examples:\n  cimg cat demo/app:1:/etc/kubeadm.yml\n"
      "  cimg cat registry.example.com/team/app:1:/Kubefile\n"
      "  cimg cat 127.0.0.1:5000/team/app:1:/etc/hosts --tls-verify=false");
  cat->callback([&] {
    std::string image, path;
    SplitImagePath(arg, &image, &path);
    if (path.empty()) Fail(cfs::Status::Invalid(arg + ": no path (IMAGE:/PATH)"));
    auto store = Must(OpenStore(g));
    auto img = OpenImage(*store, image, reg);
    const std::string what = image + ":" + path;
    auto ref = cfs::LookupMerged(img->stack(), path, true);
    if (!ref.ok()) Fail(ref.status().Prefix(what));
    const cfs::TocEntry& m = cfs::MergedMeta(img->stack(), *ref);
    if (m.type == cfs::EntryType::kDirectory) Fail(cfs::Status::Invalid(what + ": is a directory"));
    cfs::FdSink out(1);
    Status s = cfs::ReadMergedFile(img->stack(), img->chunks(), *ref, out);
    if (!s.ok()) Fail(s.Prefix(what));
  });
}

// cimg cp
void AddCpCommand(CLI::App& app, const Global& g) {
  static auto* cp = app.add_subcommand("cp", "Copy a file or directory out of an image");
  static std::string arg, dest;
  static SourceFlags reg;
  cp->add_option("IMAGE:/PATH", arg, "An image of the store or REGISTRY/REPO[:TAG], and the path")
      ->required();
  cp->add_option("DEST", dest, "Where to (an existing directory: the copy goes inside it)")
      ->required();
  reg.Add(cp);
  cp->footer(
      "As docker cp: DEST an existing directory receives PATH's last component; else DEST becomes\n"
      "the copy. Modes, times, symlinks, hard links and xattrs are kept; owners only as root;\n"
      "devices only as root. Nothing is written outside DEST (no symlink is ever followed).\n\n"
      "Examples:\n  cimg cp demo/app:1:/etc ./app-etc\n  cimg cp demo/app:1:/Kubefile .\n"
      "  cimg cp 127.0.0.1:5000/team/app:1:/charts /tmp/charts --tls-verify=false");
  cp->callback([&] {
    std::string image, path;
    SplitImagePath(arg, &image, &path);
    if (path.empty()) Fail(cfs::Status::Invalid(arg + ": no path (IMAGE:/PATH)"));
    auto store = Must(OpenStore(g));
    auto img = OpenImage(*store, image, reg);
    if (auto ref = cfs::LookupMerged(img->stack(), path); !ref.ok())
      Fail(ref.status().Prefix(image + ":" + path));
    auto log = [](const std::string& s) { std::fprintf(stderr, "cimg: %s\n", s.c_str()); };
    auto st = cfs::builder::CopyOut(img->stack(), img->chunks(), path, dest, log);
    if (!st.ok()) Fail(st.status().Prefix(image));
  });
}

// cimg export
void AddExportCommand(CLI::App& app, const Global& g) {
  static auto* ex = app.add_subcommand("export", "Write an image's merged rootfs as one tar");
  static std::string image, output;
  static SourceFlags reg;
  ex->add_option("IMAGE", image, "An image of the store or REGISTRY/REPO[:TAG]")->required();
  ex->add_option("-o,--output", output, "The tar file (default: stdout, unless a terminal)");
  reg.Add(ex);
  ex->footer(
      "As podman export: the layers applied (whiteouts gone), hard links, symlinks, devices and\n"
      "xattrs kept; an uncompressed POSIX tar. A registry image is read whole, chunk by chunk.\n\n"
      "Examples:\n  cimg export demo/app:1 -o rootfs.tar\n  cimg export demo/app:1 | tar -tvf -");
  ex->callback([&] {
    if (output.empty() && ::isatty(1))
      Fail(cfs::Status::Invalid("refusing to write a tar to a terminal; use -o FILE or a pipe"));
    auto store = Must(OpenStore(g));
    auto img = OpenImage(*store, image, reg);
    cfs::UniqueFd file;
    if (!output.empty()) {
      file.Reset(::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!file.valid()) Fail(cfs::Status::IOError(output));
    }
    cfs::FdSink out(file.valid() ? file.get() : 1);
    Status s = cfs::WriteMergedTar(img->stack(), img->chunks(), out);
    if (!s.ok()) {
      if (!output.empty()) ::unlink(output.c_str());
      Fail(s.Prefix(image));
    }
  });
}

}  // namespace

std::unique_ptr<cfs::lazy::ReadableImage> OpenImage(cfs::Store& store, const std::string& name,
                                                    const SourceFlags& reg) {
  cfs::lazy::ReadableImageOptions o;
  o.client = reg.Options();
  if (!reg.platform.empty()) o.platform = Must(cfs::Platform::Parse(reg.platform));
  o.log = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
  // A stored image list: its image for --platform (else the host's, as
  // the store resolves a list's name).
  std::string image = name;
  if (auto list = store.InspectImageList(name); !reg.platform.empty() && list.ok() && *list)
    image = Must(store.Inspect(name, o.platform)).summary.manifest_digest.ToString();
  return Must(cfs::lazy::ReadableImage::Open(store, image, o));
}

json RemoteInspectJson(const std::string& name, const RegistryFlags& reg,
                       const std::string& platform, bool raw, std::string* raw_bytes) {
  cfs::registry::RemoteInspectOptions o;
  o.client = reg.Options();
  if (!platform.empty()) o.platform = Must(cfs::Platform::Parse(platform));
  o.raw = raw;
  o.log = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
  auto r = Must(cfs::registry::InspectRegistryImage(name, o));
  if (raw) {
    *raw_bytes = r.served.bytes;
    return json();
  }
  const cfs::SourceImage& im = r.image;
  json config = json::parse(im.config, nullptr, false);
  json j;
  j["Id"] = im.config_digest.ToString();
  j["Digest"] = im.manifest_digest.ToString();
  j["Name"] = r.logical.ToString();
  j["RepoTags"] = json::array({r.logical.ToString()});
  j["Source"] = "docker://" + r.logical.ToString();
  j["ServedBy"] = r.served_by;
  uint64_t size = 0;
  json layers = json::array();
  for (size_t i = 0; i < im.layers.size(); i++) {
    const auto& l = im.layers[i];
    size += l.size;
    json a = json::object();
    for (const auto& [k, v] : l.annotations) a[k] = v;
    layers.push_back({{"DiffID", im.diff_ids[i].ToString()},
                      {"SourceDigest", l.digest.ToString()},
                      {"SourceMediaType", l.media_type},
                      {"Size", l.size},
                      {"Annotations", a}});
  }
  j["Size"] = size;
  if (config.is_object()) {
    j["Created"] = config.value("created", "");
    j["Architecture"] = config.value("architecture", "");
    j["Os"] = config.value("os", "");
    if (config.contains("config")) j["Config"] = config["config"];
  }
  j["Layers"] = layers;
  j["Manifest"] = json::parse(im.manifest, nullptr, false);
  return j;
}

void AddBrowseCommands(CLI::App& app, const Global& g, const bool& quiet) {
  AddLsCommand(app, g);
  AddCatCommand(app, g);
  AddCpCommand(app, g);
  AddExportCommand(app, g);
  AddSbomCommand(app, g);  // cimg_sbom.cc
}

}  // namespace cimg
