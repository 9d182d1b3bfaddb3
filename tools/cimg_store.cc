// cimg gc and cimg fsck [--repair]. Argument parsing and printing only.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "registry/pull.h"
#include "chunkstore/chunk_store.h"
#include "store/store.h"
#include "tools/cimg_common.h"

namespace cimg {

// cimg fsck --repair: Store::Repair, then a pull of every image that needs
// one from the source it was stored from.
void RepairStore(cfs::Store& store, RegistryFlags& reg, bool quiet) {
  auto rep = Must(store.Repair());
  for (const auto& a : rep.actions) std::printf("repair: %s\n", a.c_str());
  for (const auto& img : rep.images_to_pull) {
    std::string name = img.names.empty() ? img.manifest.ToString() : img.names[0];
    cfs::PullOptions o;
    o.as_name = img.names.empty() ? "" : img.names[0];
    o.progress = StderrProgress(quiet);
    const std::string& src = img.source;
    auto po = reg.Pull(o);
    po.source = src;
    auto r = cfs::registry::PullAgainFromRecordedSource(store, src, po);
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
  gc->footer("Examples:\n"
      "  cimg gc\n"
      "  cimg --root /srv/cimg gc");
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
    if (r.digest_records_removed)
      std::printf("gc: removed %llu build digest cache records unused for %d days\n",
                  static_cast<unsigned long long>(r.digest_records_removed),
                  cfs::Store::kDigestRecordMaxAgeDays);
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

}  // namespace cimg
