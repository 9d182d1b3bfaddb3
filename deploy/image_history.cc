#include "deploy/image_history.h"

#include <algorithm>
#include <cstdlib>

namespace cfs::deploy {

namespace {

bool Unfinished(const ClusterState& st, const std::string& op) {
  return st.operation.rfind(op + "-", 0) == 0 &&
         (st.state == (op == "upgrade" ? "upgrading" : "rolling-back") ||
          st.state == op + "-failed");
}

// "upgrade-N" / "rollback-N": N one more than the last operation's.
std::string NextOperation(const std::optional<ClusterState>& have, const std::string& kind) {
  long n = 0;
  if (have) {
    size_t dash = have->operation.rfind('-');
    if (dash != std::string::npos) n = std::strtol(have->operation.c_str() + dash + 1, nullptr, 10);
  }
  return kind + "-" + std::to_string(n + 1);
}

ImageRecord Current(const ClusterState& st) { return {st.image, st.image_id, st.manifest}; }

std::string Shown(const ImageRecord& r) {
  return r.name + " (" + r.id.substr(0, std::min<size_t>(r.id.size(), 19)) + ")";
}

// `asked` names r: its name, or a prefix (at least 4 hex digits) of its ID
// or manifest digest, with or without "sha256:".
bool Names(const ImageRecord& r, const std::string& asked) {
  if (asked == r.name) return true;
  std::string hex = asked.rfind("sha256:", 0) == 0 ? asked.substr(7) : asked;
  if (hex.size() < 4) return false;
  for (const std::string& d : {r.id, r.manifest})
    if (d.size() > 7 && d.compare(7, hex.size(), hex) == 0) return true;
  return false;
}

}  // namespace

Result<UpgradePlan> PlanUpgrade(const std::string& cluster, const std::optional<ClusterState>& have,
                                const ImageRecord& to, int64_t now) {
  UpgradePlan p;
  if (have && Unfinished(*have, "rollback"))
    return Status::Invalid("cluster " + cluster + " has an unfinished rollback to " +
                           Shown(have->previous) + "; run `cimg rollback " + cluster +
                           "` again to finish it first");
  if (have) p.state = *have;
  const bool same = have && have->image_id == to.id;
  const bool unfinished = have && Unfinished(*have, "upgrade");
  if (same && have->operation.rfind("upgrade-", 0) == 0) {
    p.continues = true;
  } else {
    p.state.operation = NextOperation(have, "upgrade");
    if (have && !same && !unfinished && !have->image_id.empty()) {
      p.state.previous = Current(*have);
      p.keep_previous_clusterfile = true;
    }
  }
  p.state.state = "upgrading";
  p.state.image = to.name;
  p.state.image_id = to.id;
  p.state.manifest = to.manifest;
  p.state.detail.clear();
  p.state.updated = now;
  return p;
}

Result<RollbackPlan> PlanRollback(const std::string& cluster,
                                  const std::optional<ClusterState>& have, const std::string& asked,
                                  int64_t now) {
  if (!have || have->previous.empty())
    return Status::NotFound("cluster " + cluster +
                            " has no previous image to roll back to (none is recorded: it was not "
                            "upgraded with cimg upgrade, or was rolled back or re-deployed since)");
  RollbackPlan p;
  p.target = have->previous;
  if (!asked.empty() && !Names(p.target, asked))
    return Status::Invalid(asked + " is not the previous image of cluster " + cluster +
                           " (that is " + Shown(p.target) +
                           "); rollback returns to it only: use `cimg upgrade " + cluster + " " +
                           asked + "` to go to another image");
  p.state = *have;
  p.continues = Unfinished(*have, "rollback");
  if (!p.continues) p.state.operation = NextOperation(have, "rollback");
  p.state.state = "rolling-back";
  p.state.detail.clear();
  p.state.updated = now;
  return p;
}

ClusterState Finished(ClusterState st, int64_t now) {
  st.updated = now;
  st.detail.clear();
  if (st.operation.rfind("rollback-", 0) != 0) {
    st.state = "upgraded";
    return st;
  }
  st.state = "rolled-back";
  st.image = st.previous.name;
  st.image_id = st.previous.id;
  st.manifest = st.previous.manifest;
  st.previous = {};
  return st;
}

ClusterState Failed(ClusterState st, const std::string& detail, int64_t now) {
  st.state = st.operation.rfind("rollback-", 0) == 0 ? "rollback-failed" : "upgrade-failed";
  st.detail = detail;
  st.updated = now;
  return st;
}

ClusterState AfterDeploy(const std::optional<ClusterState>& have, const ImageRecord& image,
                         const std::string& state, const std::string& detail, int64_t now) {
  ClusterState st;
  if (have && have->image_id == image.id && !image.id.empty()) {
    st.previous = have->previous;
    st.operation = have->operation;
  } else if (have) {
    st.operation = have->operation;  // numbering goes on
  }
  st.state = state;
  st.image = image.name;
  st.image_id = image.id;
  st.manifest = image.manifest;
  st.detail = detail;
  st.updated = now;
  return st;
}

std::string OperationStepValue(const ClusterState& during) {
  std::string target =
      during.operation.rfind("rollback-", 0) == 0 ? during.previous.id : during.image_id;
  return during.operation + "/" + target;
}

Result<ImageRecord> ResolveImage(Store& store, const std::string& name) {
  ASSIGN_OR_RETURN(ImageDetails d, store.Inspect(name));
  return ImageRecord{name, d.summary.image_id.ToString(), d.summary.manifest_digest.ToString()};
}

Status CheckRollbackImage(Store& store, const std::string& cluster, const ImageRecord& target) {
  auto found = store.Inspect(target.id);
  if (found.ok() && found->summary.image_id.ToString() == target.id) return Status::Ok();
  if (!found.ok() && !found.status().IsNotFound()) return found.status();
  return Status::NotFound("the previous image of cluster " + cluster + ", " + target.name + " (" +
                          target.id + "), is no longer in the store; get it back with `cimg pull " +
                          target.name +
                          "` (if that name still gives this image) or `cimg load -i "
                          "FILE`, then run cimg rollback again");
}

}  // namespace cfs::deploy
