// --format of what a deploy prints: the per-host report of `cimg deploy`,
// `scale-up`, `upgrade` and `rollback`, and the plan of `deploy --dry-run`
// and `scale-up --dry-run`. Part of cfs_tools (tools/CMakeLists.txt), tested
// in deploy_format_test.cc.
//
// FORMAT is "" or "table" (the built-in text), "json" (the whole report or
// plan as one JSON document), or a Go template run once per host
// (template/report.h: "table TEMPLATE" adds a header row). The rows are the
// JSON's, so the fields are named as there:
//   report: the host's keys (IP, FilesSent, FilesRemoved, FilesTotal,
//           DataBytes, WireBytes) and the report's Cluster, Image, Seconds.
//   plan:   the host's keys (IP, Role, Arch, PlatformOK, PlatformError -- ""
//           when OK --, Rootfs, Steps), the keys of its Rootfs that are not
//           lists (FilesTotal, FilesToSend, FilesToRemove, FilesUnchanged,
//           SendBytes, Registry, HasRecord, Compression) and its step counts
//           named as the plan's Totals (StepsPending, StepsDone,
//           StepsNotRecorded) at the top too, so tables can show them; and
//           the plan's Cluster, Image, ImageID, Platform, Fanout, Refusal.
// A template is checked when parsed by running it on a sample row built by
// the same code as the real ones: a field no row has, or a function applied
// to the wrong type, fails before any host is touched.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "deploy/deploy.h"
#include "deploy/deploy_plan.h"
#include "template/report.h"
#include "template/value.h"

namespace cimg {

class DeployFormat {
 public:
  enum class Kind { kReport, kPlan };
  // Errors: one line, "--format: format:LINE:COL: reason".
  [[nodiscard]] static cfs::Result<DeployFormat> Parse(std::string_view format, Kind kind);

  // "" or "table": the built-in text (the caller prints it).
  bool text() const { return mode_ == Mode::kText; }
  bool json() const { return mode_ == Mode::kJson; }

  // The output for a template (REQUIRES: !text() && !json()).
  [[nodiscard]] cfs::Result<std::string> Render(const nlohmann::json& doc) const;

 private:
  enum class Mode { kText, kJson, kTemplate };
  DeployFormat(Mode mode, Kind kind, std::optional<cfs::tmpl::Report> report)
      : mode_(mode), kind_(kind), report_(std::move(report)) {}
  Mode mode_;
  Kind kind_;
  std::optional<cfs::tmpl::Report> report_;
};

// The report as JSON: Cluster, Image, Seconds, Hosts[] {IP, FilesSent,
// FilesRemoved, FilesTotal, DataBytes, WireBytes}.
nlohmann::json DeployReportJson(const std::string& cluster, const std::string& image,
                                const cfs::deploy::DeployReport& r, double secs);

// The template rows of a report's or a plan's JSON, one per host.
std::vector<cfs::tmpl::Value> ReportRows(const nlohmann::json& report);
std::vector<cfs::tmpl::Value> PlanRows(const nlohmann::json& plan);

// The fields of the rows (for a table's header).
const std::vector<std::string>& ReportFields();
const std::vector<std::string>& PlanFields();

// The fields, for --help of the commands.
inline constexpr char kReportFormatHelp[] =
    "--format TEMPLATE runs once per host of the report, with {{.IP}} {{.FilesSent}}\n"
    "{{.FilesRemoved}} {{.FilesTotal}} {{.DataBytes}} (file bytes sent) {{.WireBytes}} (SSH\n"
    "bytes) and the report's {{.Cluster}} {{.Image}} {{.Seconds}}; --format json prints them as\n"
    "Cluster, Image, Seconds, Hosts[]. A field no host has is an error before anything runs.\n";
inline constexpr char kPlanFormatHelp[] =
    "With --dry-run, --format TEMPLATE runs once per host of the plan, with the keys of its\n"
    "--format json Hosts[] entries: {{.IP}} {{.Role}} {{.Arch}} {{.PlatformOK}}\n"
    "{{.PlatformError}} {{.Rootfs}} {{.Steps}} (lists: {{range .Steps}}{{.State}} {{.What}}\n"
    "{{end}}); at the top too, for tables: {{.FilesToSend}} {{.FilesToRemove}}\n"
    "{{.FilesUnchanged}} {{.FilesTotal}} {{.SendBytes}} {{.Registry}} {{.HasRecord}}\n"
    "{{.Compression}} {{.StepsPending}} {{.StepsDone}} {{.StepsNotRecorded}}; and the plan's\n"
    "{{.Cluster}} {{.Image}} {{.ImageID}} {{.Platform}} {{.Fanout}} {{.Refusal}}.\n";

}  // namespace cimg
