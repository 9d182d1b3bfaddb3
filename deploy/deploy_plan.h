// PlanDeploy: what `cimg deploy --dry-run` prints. It runs the phases of
// Deploy (deploy.h) up to the point where a host would change: every host's
// templates rendered, every host connected (host keys, authentication, sudo,
// `uname -m`), its record and chunk lists read and its delta computed by the
// same code that sends it (rootfs_sync.h PlanSync), and the lifecycle walked
// through with HostRunner in planning mode, where each step is listed as
// pending, done or always run by the same check that skips it in a real run
// (host_runner.h), instead of being run. Nothing is written on any host, in
// the store or in the saved clusters.
//
// Thread-safety: a DeployPlan is a plain value; the Format functions are
// pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace cfs {
class Store;
}

namespace cfs::deploy {

struct Clusterfile;
struct DeployOptions;

// One lifecycle step on one host, in the order a real run takes them.
struct PlannedStep {
  enum class State { kPending, kDone, kAlways };
  std::string id;    // the step recorded on the host ("" for one never recorded)
  std::string what;  // as the deploy log names it: "scripts/init.sh", "CMD ..."
  State state = State::kPending;
  std::string recorded;  // pending: the value the host recorded for it ("" when none)
};

// One rootfs entry a host would get.
struct PlannedFile {
  std::string path;
  char type = 'f';          // f d l h c b p (rootfs_transfer.h)
  uint64_t bytes = 0;       // file data bytes (regular files)
  uint64_t send_bytes = 0;  // of them sent: all, or the new chunks of a patched file
  bool patched = false;     // rebuilt on the host from its old copy (rootfs_patch.h)
  bool rendered = false;    // a template rendered for this host
};

// What one host would get of the rootfs.
struct RootfsHostPlan {
  std::vector<PlannedFile> send;    // in plan order (parents first)
  std::vector<std::string> remove;  // paths deleted first
  uint64_t total = 0;               // entries of the host's rootfs
  uint64_t unchanged = 0;           // entries it holds already
  uint64_t send_bytes = 0;          // uncompressed file bytes that travel to it
  bool registry = false;            // registry/ is part of its rootfs
  bool has_record = false;          // the host holds a record (else: everything is new)
  bool fanout_left = false;         // keys of an interrupted fan-out would be removed
  std::string compression;          // "zstd" or "gzip" (host without zstd)
};

// One rootfs stream of the store's entries, shared by hosts that need the
// same ones (rootfs_sync.h), and how it reaches them.
struct StreamPlan {
  std::vector<std::string> hosts;  // receiving, in cluster order
  uint64_t files = 0, bytes = 0;   // entries and their file data bytes
  bool relayed = false;            // fan-out: hosts relay it to each other
  // relayed: parent[i] is the index into hosts host i fetches from, -1 the
  // deploy host (deploy/fanout.h FanoutParents); else every host is -1.
  std::vector<int> parent;
  // Copies of the stream on the deploy host's link: 1 relayed, else one a host.
  uint64_t copies = 0;
};

struct HostPlan {
  std::string ip, role;        // role: master or node
  std::string machine;         // `uname -m`
  std::string platform_error;  // "" when the host runs the image's platform
  RootfsHostPlan rootfs;
  std::vector<PlannedStep> steps;
};

struct DeployPlan {
  std::string cluster, image, image_id, platform;  // platform "" when the image names none
  int fanout = 0;
  std::vector<HostPlan> hosts;  // master0 first
  std::vector<StreamPlan> streams;
  std::vector<std::string> prune;  // hosts of the saved cluster that would be cleaned first
  // The one-line reason a real deploy would stop with after connecting (a
  // host of another platform); "" when it would go ahead.
  std::string refusal;
};

// Totals of a plan.
struct PlanTotals {
  uint64_t files_send = 0, files_remove = 0, steps_pending = 0, steps_always = 0, steps_done = 0;
  uint64_t bytes_to_hosts = 0;   // uncompressed file bytes all hosts receive
  uint64_t bytes_from_here = 0;  // of them leaving the deploy host (a relayed stream once)
};
PlanTotals Totals(const DeployPlan& p);

// The plan of deploying cf with options o (o.log gets the progress lines a
// deploy logs up to its first change; o.progress and o.on_connected are not
// used). Fails as Deploy would before changing anything: template, Config
// and Application errors, a host that cannot be reached or authenticated.
// A host of another platform does not fail it: DeployPlan::refusal.
// REQUIRES: cf.image names an image in `store`.
Result<DeployPlan> PlanDeploy(Store& store, const Clusterfile& cf, const DeployOptions& o);

// The plan as text for a terminal (every entry to send or remove, every
// step), and as JSON (the fields documented in README, "Deploying").
std::string FormatPlanText(const DeployPlan& p);
std::string FormatPlanJson(const DeployPlan& p);

}  // namespace cfs::deploy
