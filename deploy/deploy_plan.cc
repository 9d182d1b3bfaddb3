// The plan's totals and its text and JSON forms (PlanDeploy is in
// lifecycle.cc, beside Deploy: the same phases).
#include "deploy/deploy_plan.h"

#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace cfs::deploy {

namespace {

using json = nlohmann::json;

const char* StateName(PlannedStep::State s) {
  switch (s) {
    case PlannedStep::State::kPending:
      return "pending";
    case PlannedStep::State::kDone:
      return "done";
    case PlannedStep::State::kAlways:
      return "runs";
  }
  return "?";
}

// "512 B", "4.1 kB", "6.0 MB", "1.20 GB" (SI, as the deploy log).
std::string Size(uint64_t b) {
  char buf[32];
  if (b < 1000)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else if (b < 1000000)
    std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else if (b < 1000000000)
    std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  return buf;
}

std::string Plural(uint64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// "  + f      1234 path", "  ~ f   6000000 path (patched: 262144 B of chunks)".
std::string FileLine(const PlannedFile& f) {
  char head[48];
  std::snprintf(head, sizeof head, "    %c %c %12llu ", f.patched ? '~' : '+', f.type,
                static_cast<unsigned long long>(f.bytes));
  std::string line = head + f.path;
  if (f.rendered) line += " (rendered for this host)";
  if (f.patched) line += " (chunks only: " + std::to_string(f.send_bytes) + " B)";
  return line + "\n";
}

std::string HostHead(const DeployPlan& p, const HostPlan& h) {
  std::string s = "host " + h.ip + " (" + h.role + ", " + h.machine;
  if (!h.platform_error.empty())
    s += ", CANNOT RUN " + p.platform;
  else if (!p.platform.empty())
    s += ", runs " + p.platform;
  return s + ")\n";
}

std::string RootfsText(const RootfsHostPlan& r) {
  std::string s = "  rootfs: " + Plural(r.send.size(), "entry", "entries") + " to send (" +
                  Size(r.send_bytes) + "), " + std::to_string(r.remove.size()) + " to remove, " +
                  std::to_string(r.unchanged) + " of " + std::to_string(r.total) +
                  " unchanged; registry/ " + (r.registry ? "included" : "not sent") + "; " +
                  r.compression +
                  (r.has_record ? "" : "; no record on the host: everything is new") + "\n";
  if (r.fanout_left) s += "  (keys left by an interrupted fan-out would be removed)\n";
  for (const auto& f : r.send) s += FileLine(f);
  for (const auto& path : r.remove) s += "    - " + path + "\n";
  return s;
}

// s with every "sha256:" and 64 hex digits cut to 12 digits (for a person).
std::string ShortIds(std::string s) {
  static const std::string kAlg = "sha256:";
  for (size_t at = s.find(kAlg); at != std::string::npos; at = s.find(kAlg, at + 1)) {
    size_t hex = at + kAlg.size(), n = 0;
    while (hex + n < s.size() && std::isxdigit(static_cast<unsigned char>(s[hex + n]))) n++;
    if (n == 64) s.erase(hex + 12, 52);
  }
  return s;
}

std::string StepsText(const std::vector<PlannedStep>& steps) {
  uint64_t n[3] = {0, 0, 0};
  for (const auto& st : steps) n[static_cast<int>(st.state)]++;
  std::string s = "  steps: " + std::to_string(n[0]) + " pending, " + std::to_string(n[1]) +
                  " done, " + std::to_string(n[2]) + " not recorded (run every deploy)\n";
  for (const auto& st : steps) {
    char head[24];
    std::snprintf(head, sizeof head, "    %-8s ", StateName(st.state));
    s += head + st.what;
    if (!st.recorded.empty()) s += " (recorded for " + ShortIds(st.recorded) + ")";
    s += "\n";
  }
  return s;
}

std::string TreeText(const StreamPlan& st) {
  std::string s;
  for (size_t i = 0; i < st.hosts.size(); i++)
    s += "    " + (st.parent[i] < 0 ? std::string("here") : st.hosts[st.parent[i]]) + " -> " +
         st.hosts[i] + "\n";
  return s;
}

std::string StreamsText(const DeployPlan& p) {
  std::string s = "rootfs streams (--fanout " + std::to_string(p.fanout) + "):\n";
  if (p.streams.empty()) s += "  none: no host lacks a file of the image\n";
  for (size_t i = 0; i < p.streams.size(); i++) {
    const StreamPlan& st = p.streams[i];
    s += "  stream " + std::to_string(i + 1) + ": " + Plural(st.files, "entry", "entries") + ", " +
         Size(st.bytes) + " to " + Plural(st.hosts.size(), "host", "hosts") + ", " +
         (st.relayed ? "relayed" : "each from here") + ", " + Plural(st.copies, "copy", "copies") +
         " on this host's link\n";
    s += TreeText(st);
  }
  return s;
}

json StepJson(const PlannedStep& st) {
  json j = {{"Step", st.id}, {"What", st.what}, {"State", StateName(st.state)}};
  if (!st.recorded.empty()) j["Recorded"] = st.recorded;
  return j;
}

json RootfsJson(const RootfsHostPlan& r) {
  json send = json::array();
  for (const auto& f : r.send)
    send.push_back({{"Path", f.path},
                    {"Type", std::string(1, f.type)},
                    {"Bytes", f.bytes},
                    {"SendBytes", f.send_bytes},
                    {"Patched", f.patched},
                    {"Rendered", f.rendered}});
  return {{"FilesTotal", r.total},
          {"FilesToSend", r.send.size()},
          {"FilesToRemove", r.remove.size()},
          {"FilesUnchanged", r.unchanged},
          {"SendBytes", r.send_bytes},
          {"Registry", r.registry},
          {"HasRecord", r.has_record},
          {"Compression", r.compression},
          {"Send", send},
          {"Remove", r.remove}};
}

json HostJson(const HostPlan& h) {
  json steps = json::array();
  for (const auto& st : h.steps) steps.push_back(StepJson(st));
  json j = {{"IP", h.ip},
            {"Role", h.role},
            {"Arch", h.machine},
            {"PlatformOK", h.platform_error.empty()},
            {"Rootfs", RootfsJson(h.rootfs)},
            {"Steps", steps}};
  if (!h.platform_error.empty()) j["PlatformError"] = h.platform_error;
  return j;
}

json StreamJson(const StreamPlan& st) {
  json tree = json::array();
  for (size_t i = 0; i < st.hosts.size(); i++)
    tree.push_back({{"Host", st.hosts[i]},
                    {"From", st.parent[i] < 0 ? std::string("here") : st.hosts[st.parent[i]]}});
  return {{"Hosts", st.hosts},     {"Files", st.files},   {"Bytes", st.bytes},
          {"Relayed", st.relayed}, {"Copies", st.copies}, {"Tree", tree}};
}

}  // namespace

PlanTotals Totals(const DeployPlan& p) {
  PlanTotals t;
  for (const auto& h : p.hosts) {
    t.files_send += h.rootfs.send.size();
    t.files_remove += h.rootfs.remove.size();
    t.bytes_to_hosts += h.rootfs.send_bytes;
    t.bytes_from_here += h.rootfs.send_bytes;
    for (const auto& st : h.steps) {
      if (st.state == PlannedStep::State::kPending) t.steps_pending++;
      if (st.state == PlannedStep::State::kDone) t.steps_done++;
      if (st.state == PlannedStep::State::kAlways) t.steps_always++;
    }
  }
  // A relayed stream leaves here once, not once a host.
  for (const auto& st : p.streams) t.bytes_from_here -= st.bytes * (st.hosts.size() - st.copies);
  return t;
}

std::string FormatPlanText(const DeployPlan& p) {
  std::string s = "cluster " + p.cluster + ": image " + p.image + " (" +
                  (p.platform.empty() ? "any platform" : p.platform) + "), " +
                  Plural(p.hosts.size(), "host", "hosts") + "\n";
  for (const auto& ip : p.prune)
    s += "host " + ip + ": cleaned and removed first (--prune-hosts)\n";
  for (const auto& h : p.hosts) s += HostHead(p, h) + RootfsText(h.rootfs) + StepsText(h.steps);
  s += StreamsText(p);
  PlanTotals t = Totals(p);
  s += "plan: " + Plural(t.files_send, "entry", "entries") + " to send (" + Size(t.bytes_to_hosts) +
       " of file data to hosts, " + Size(t.bytes_from_here) + " of it from here), " +
       std::to_string(t.files_remove) + " to remove, " + Plural(t.steps_pending, "step", "steps") +
       " pending, " + std::to_string(t.steps_always) + " not recorded; nothing was changed\n";
  if (!p.refusal.empty()) s += "a deploy would stop: " + p.refusal + "\n";
  return s;
}

std::string FormatPlanJson(const DeployPlan& p) {
  json hosts = json::array(), streams = json::array();
  for (const auto& h : p.hosts) hosts.push_back(HostJson(h));
  for (const auto& st : p.streams) streams.push_back(StreamJson(st));
  PlanTotals t = Totals(p);
  json j = {{"Cluster", p.cluster},
            {"Image", p.image},
            {"ImageID", p.image_id},
            {"Platform", p.platform},
            {"Fanout", p.fanout},
            {"Hosts", hosts},
            {"Streams", streams},
            {"Prune", p.prune},
            {"Totals",
             {{"FilesToSend", t.files_send},
              {"FilesToRemove", t.files_remove},
              {"BytesToHosts", t.bytes_to_hosts},
              {"BytesFromHere", t.bytes_from_here},
              {"StepsPending", t.steps_pending},
              {"StepsDone", t.steps_done},
              {"StepsNotRecorded", t.steps_always}}},
            {"Refusal", p.refusal}};
  return j.dump(2) + "\n";
}

}  // namespace cfs::deploy
