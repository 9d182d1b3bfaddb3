#include "tools/deploy_format.h"

#include "tools/image_list.h"

namespace cimg {

namespace dp = cfs::deploy;
using cfs::tmpl::Value;
using nlohmann::json;

namespace {

// The plan's per-host step counts, named as its Totals.
void AddStepCounts(const json& steps, json* row) {
  uint64_t pending = 0, done = 0, runs = 0;
  for (const auto& st : steps) {
    const std::string state = st.value("State", "");
    pending += state == "pending";
    done += state == "done";
    runs += state == "runs";
  }
  (*row)["StepsPending"] = pending;
  (*row)["StepsDone"] = done;
  (*row)["StepsNotRecorded"] = runs;
}

// A one-host report and a one-host plan with an entry of each list, for
// checking a template before the real ones exist.
json SampleReport() {
  dp::DeployReport r;
  r.hosts.emplace_back();
  return DeployReportJson("sample", "sample", r, 0);
}

json SamplePlan() {
  dp::DeployPlan p;
  dp::HostPlan h;
  h.rootfs.send.push_back({});
  h.rootfs.remove.push_back("");
  h.steps.push_back({});
  p.hosts.push_back(h);
  p.streams.push_back({{""}, 0, 0, false, {-1}, 1});
  return json::parse(dp::FormatPlanJson(p));
}

std::vector<std::string> KeysOf(const std::vector<Value>& rows) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : rows.at(0).map()) keys.push_back(k);
  return keys;
}

}  // namespace

json DeployReportJson(const std::string& cluster, const std::string& image,
                      const dp::DeployReport& r, double secs) {
  json j;
  j["Cluster"] = cluster;
  j["Image"] = image;
  j["Seconds"] = secs;
  j["Hosts"] = json::array();
  for (const auto& h : r.hosts)
    j["Hosts"].push_back({{"IP", h.ip},
                          {"FilesSent", h.files_sent},
                          {"FilesRemoved", h.files_removed},
                          {"FilesTotal", h.files_total},
                          {"DataBytes", h.data_bytes},
                          {"WireBytes", h.wire_bytes}});
  return j;
}

std::vector<Value> ReportRows(const json& report) {
  std::vector<Value> rows;
  for (json row : report.at("Hosts")) {
    for (const char* k : {"Cluster", "Image", "Seconds"}) row[k] = report.at(k);
    rows.push_back(FromJson(row));
  }
  return rows;
}

std::vector<Value> PlanRows(const json& plan) {
  std::vector<Value> rows;
  for (json row : plan.at("Hosts")) {
    // Keys the JSON leaves out when empty are "" in a row: every row has every field.
    if (!row.contains("PlatformError")) row["PlatformError"] = "";
    for (auto& st : row.at("Steps"))
      if (!st.contains("Recorded")) st["Recorded"] = "";
    for (const auto& [k, v] : row.at("Rootfs").items())
      if (!v.is_array()) row[k] = v;
    AddStepCounts(row.at("Steps"), &row);
    for (const char* k : {"Cluster", "Image", "ImageID", "Platform", "Fanout", "Refusal"})
      row[k] = plan.at(k);
    rows.push_back(FromJson(row));
  }
  return rows;
}

const std::vector<std::string>& ReportFields() {
  static const std::vector<std::string> fields = KeysOf(ReportRows(SampleReport()));
  return fields;
}

const std::vector<std::string>& PlanFields() {
  static const std::vector<std::string> fields = KeysOf(PlanRows(SamplePlan()));
  return fields;
}

cfs::Result<DeployFormat> DeployFormat::Parse(std::string_view format, Kind kind) {
  if (format.empty() || format == "table") return DeployFormat(Mode::kText, kind, std::nullopt);
  if (cfs::tmpl::IsJsonFormat(format)) return DeployFormat(Mode::kJson, kind, std::nullopt);
  const bool plan = kind == Kind::kPlan;
  auto report = cfs::tmpl::Report::Parse(format, "", plan ? PlanFields() : ReportFields());
  if (!report.ok()) return report.status().Prefix("--format");
  DeployFormat f(Mode::kTemplate, kind, std::move(*report));
  // Run once on the sample: a field the rows lack fails now, not after the deploy.
  auto sample = f.Render(plan ? SamplePlan() : SampleReport());
  if (!sample.ok()) return sample.status();
  return f;
}

cfs::Result<std::string> DeployFormat::Render(const nlohmann::json& doc) const {
  auto out = report_->Render(kind_ == Kind::kPlan ? PlanRows(doc) : ReportRows(doc));
  if (!out.ok()) return out.status().Prefix("--format");
  return out;
}

}  // namespace cimg
