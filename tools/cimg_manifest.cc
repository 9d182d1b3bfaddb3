// cimg manifest: multi-platform images (image lists) as podman's manifest
// lists: create, add, remove, inspect, push, rm.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "tools/cimg_common.h"

namespace cimg {

namespace {

using nlohmann::json;

// The list `name` names; Invalid when it is an image, not a list.
cfs::ImageListDetails MustList(cfs::Store& store, const std::string& name) {
  auto list = Must(store.InspectImageList(name));
  if (!list)
    Fail(Status::Invalid(name + " is an image, not an image list (cimg manifest create " + name +
                         "-list " + name + ")"));
  return std::move(*list);
}

std::vector<std::string> ChildDigests(const cfs::ImageListDetails& l) {
  std::vector<std::string> out;
  for (const auto& c : l.children) out.push_back(c.manifest.ToString());
  return out;
}

void PrintList(const cfs::ImageListDetails& l) {
  std::printf("%s\n", l.digest.ToString().c_str());
}

void AddCreate(CLI::App* m, const Global& g) {
  static std::string list;
  static std::vector<std::string> images;
  auto* c = m->add_subcommand("create", "Create an image list from stored images");
  c->add_option("LIST", list, "Name of the new list")->required();
  c->add_option("IMAGE", images, "Stored images to put in it (name, digest or ID), one per platform");
  c->footer("Each image's platform is read from its config (os, architecture, variant).\n\n"
            "Examples:\n  cimg manifest create demo/cluster:1 demo/cluster:1-amd64 demo/cluster:1-arm64\n"
            "  cimg manifest create demo/cluster:1 && cimg manifest add demo/cluster:1 demo/cluster:1-amd64");
  c->callback([&] {
    auto store = Must(OpenStore(g));
    if (store->InspectImageList(list).ok())
      Fail(Status::Exists(list + " already names an image; pick another name or cimg rmi it first"));
    PrintList(Must(store->PutImageList(list, images, "manifest create")));
  });
}

void AddAdd(CLI::App* m, const Global& g) {
  static std::string list, image;
  auto* c = m->add_subcommand("add", "Add a stored image to an image list");
  c->add_option("LIST", list, "The image list")->required();
  c->add_option("IMAGE", image, "Stored image (name, digest or ID)")->required();
  c->footer("Example:\n  cimg manifest add demo/cluster:1 demo/cluster:1-arm64");
  c->callback([&] {
    auto store = Must(OpenStore(g));
    auto l = MustList(*store, list);
    auto children = ChildDigests(l);
    children.push_back(image);
    PrintList(Must(store->PutImageList(list, children, "manifest add")));
  });
}

void AddRemove(CLI::App* m, const Global& g) {
  static std::string list, image;
  auto* c = m->add_subcommand("remove", "Remove an image from an image list");
  c->add_option("LIST", list, "The image list")->required();
  c->add_option("IMAGE", image, "The image to take out (name, manifest digest or ID)")->required();
  c->footer("An image the list held alone (no name of its own) goes with it (its data at the next gc).\n\n"
            "Example:\n  cimg manifest remove demo/cluster:1 sha256:3f1c...");
  c->callback([&] {
    auto store = Must(OpenStore(g));
    auto l = MustList(*store, list);
    cfs::Digest drop = Must(store->Inspect(image)).summary.manifest_digest;
    std::vector<std::string> children;
    for (const auto& ch : l.children)
      if (ch.manifest != drop) children.push_back(ch.manifest.ToString());
    if (children.size() == l.children.size())
      Fail(Status::NotFound(image + " (" + drop.ToString() + ") is not in image list " + list));
    PrintList(Must(store->PutImageList(list, children, "manifest remove")));
  });
}

void AddInspect(CLI::App* m, const Global& g) {
  static std::string list;
  auto* c = m->add_subcommand("inspect", "Print an image list's index (OCI image index JSON)");
  c->add_option("LIST", list, "The image list")->required();
  c->footer("Example:\n  cimg manifest inspect demo/cluster:1");
  c->callback([&] {
    auto store = Must(OpenStore(g));
    auto l = MustList(*store, list);
    std::printf("%s\n", json::parse(l.index).dump(4).c_str());
  });
}

void AddPush(CLI::App* m, const Global& g, const bool& quiet) {
  static std::string list, dest, comp = "zstd:chunked", digestfile;
  static RegistryFlags reg;
  auto* c = m->add_subcommand("push", "Push an image list: its images, then the index");
  c->add_option("LIST", list, "The image list")->required();
  c->add_option("DEST", dest, "[docker://]REGISTRY/REPO[:TAG] | oci:DIR[:TAG] | oci-archive:FILE[:TAG] (default: LIST)");
  c->add_option("--compression", comp, "zstd:chunked (default) | zstd | gzip | none");
  c->add_option("--digestfile", digestfile, "Write the digest of the index pushed to this file");
  reg.Add(c);
  c->footer("Each image is pushed by its digest, then the index (application/vnd.oci.image.index.v1+json)\n"
            "under the tag. Same as `cimg push LIST DEST`.\n\n"
            "An oci: layout or oci-archive: gets the images' blobs and one index.json entry, the index.\n\n"
            "Examples:\n  cimg manifest push demo/cluster:1 127.0.0.1:5000/demo/cluster:1 --tls-verify=false\n"
            "  cimg manifest push demo/cluster:1 oci-archive:/tmp/cluster.tar");
  c->callback([&] {
    auto store = Must(OpenStore(g));
    auto l = MustList(*store, list);
    cfs::PushOptions o;
    o.compression = Must(cfs::ParseCompression(comp));
    o.progress = StderrProgress(quiet);
    PushList(*store, l, dest.empty() ? list : dest, o, reg, digestfile, quiet);
  });
}

void AddRm(CLI::App* m, const Global& g) {
  static std::vector<std::string> lists;
  auto* c = m->add_subcommand("rm", "Remove image lists (as cimg rmi)");
  c->add_option("LIST", lists, "Image lists")->required();
  c->footer("Each list's images that no other name or list holds go with it.\n\n"
            "Example:\n  cimg manifest rm demo/cluster:1");
  c->callback([&] {
    auto store = Must(OpenStore(g));
    for (const auto& n : lists) {
      MustList(*store, n);
      for (const auto& r : Must(store->Remove(n))) std::printf("Untagged: %s\n", r.c_str());
    }
  });
}

}  // namespace

void AddManifestCommands(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* m = app.add_subcommand("manifest", "Multi-platform images (image lists), as podman's manifest lists");
  m->require_subcommand(1);
  m->footer("An image list is an OCI image index over stored images, one per platform. `cimg deploy`\n"
            "of a list gives each host the image for its `uname -m`; inspect (or --platform), mount, ls\n"
            "and export of a list read the image for this host's platform.\n\n"
            "Examples:\n"
            "  cimg build --platform linux/amd64 -t demo/c:1-amd64 . && cimg build --platform linux/arm64 -t demo/c:1-arm64 .\n"
            "  cimg manifest create demo/c:1 demo/c:1-amd64 demo/c:1-arm64\n"
            "  cimg manifest push demo/c:1 registry.example.com/demo/c:1\n"
            "  cimg pull registry.example.com/demo/c:1 --platform all");
  AddCreate(m, g);
  AddAdd(m, g);
  AddRemove(m, g);
  AddInspect(m, g);
  AddPush(m, g, quiet);
  AddRm(m, g);
}

}  // namespace cimg
