#include "deploy/node_labels.h"

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "deploy/host_script.h"

namespace cfs::deploy {

namespace {

bool ValidEffect(const std::string& e) {
  return e == "NoSchedule" || e == "PreferNoSchedule" || e == "NoExecute";
}

// `kubectl VERB node <the node of c> ARGS...` on m0.
Status Kubectl(HostRunner& run, HostCtx& m0, const HostCtx& c, const std::string& what,
               std::vector<std::string> args) {
  args.insert(args.begin(), {run.Rootfs(), c.host.ip});
  return run.Step(m0, "", "", what + " " + c.host.ip, HostCommand(host_scripts::kKubectlNode, args));
}

Status LabelAndTaint(HostRunner& run, HostCtx& m0, const HostCtx& c) {
  const auto& h = c.host;
  if (!h.labels.empty()) {
    std::vector<std::string> args = {"label", "--overwrite"};
    for (const auto& [k, v] : h.labels) args.push_back(k + "=" + v);
    RETURN_IF_ERROR(Kubectl(run, m0, c, "node labels", args));
  }
  std::vector<Taint> adds;
  std::vector<std::string> removes = {"taint"};
  for (const auto& t : h.taints) {
    ASSIGN_OR_RETURN(Taint taint, ParseTaint(t));
    if (!taint.remove) adds.push_back(taint);
    else removes.push_back(taint.key + (taint.effect.empty() ? "" : ":" + taint.effect) + "-");
  }
  if (removes.size() > 1) RETURN_IF_ERROR(Kubectl(run, m0, c, "node taints removed", removes));
  if (adds.empty()) return Status::Ok();
  return Kubectl(run, m0, c, "node taints", {"patch", "--type", "merge", "-p", TaintsPatch(adds)});
}

}  // namespace

Result<Taint> ParseTaint(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid("taint \"" + text + "\": " + why +
                           " (key=value:Effect, key:Effect, key- or key:Effect-)");
  };
  Taint t;
  std::string s = text;
  if (!s.empty() && s.back() == '-') {
    t.remove = true;
    s.pop_back();
  }
  size_t colon = s.find(':');
  std::string kv = s.substr(0, colon);
  if (colon != std::string::npos) t.effect = s.substr(colon + 1);
  size_t eq = kv.find('=');
  t.key = kv.substr(0, eq);
  if (eq != std::string::npos) t.value = kv.substr(eq + 1);
  if (t.key.empty()) return bad("no key");
  if (t.remove && eq != std::string::npos) return bad("a removal names no value");
  if (!t.remove && colon == std::string::npos) return bad("no effect");
  if ((!t.remove || colon != std::string::npos) && !ValidEffect(t.effect))
    return bad("effect \"" + t.effect + "\" is not NoSchedule, PreferNoSchedule or NoExecute");
  if (t.value.find_first_of(":=") != std::string::npos || t.key.find(':') != std::string::npos)
    return bad("too many parts");
  return t;
}

std::string TaintsPatch(const std::vector<Taint>& adds) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : adds) {
    nlohmann::json j = {{"key", t.key}, {"effect", t.effect}};
    if (!t.value.empty()) j["value"] = t.value;
    list.push_back(j);
  }
  return nlohmann::json({{"spec", {{"taints", list}}}}).dump();
}

Status SetNodeLabels(HostRunner& run, HostCtx& m0, const std::vector<HostCtx*>& all) {
  for (HostCtx* c : all) {
    const auto& h = c->host;
    if (h.labels.empty() && h.taints.empty()) continue;
    std::string what;
    for (const auto& [k, v] : h.labels) what += "label " + k + "=" + v + "\n";
    for (const auto& t : h.taints) what += "taint " + t + "\n";
    const std::string id = "node-labels-" + h.ip, value = Digest::Of(what).Short();
    if (!HostRunner::StepDone(m0, id, value)) RETURN_IF_ERROR(LabelAndTaint(run, m0, *c));
    // Recorded once set (the command is a no-op); skipped when they were.
    RETURN_IF_ERROR(run.Step(m0, id, value, "labels and taints of " + h.ip, "true"));
  }
  return Status::Ok();
}

}  // namespace cfs::deploy
