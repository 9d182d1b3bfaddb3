// cimg clusters: the clusters deployed from here, with their image, hosts
// and how their last deploy went. Argument parsing and printing only.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "deploy/saved_cluster.h"
#include "template/report.h"
#include "tools/cimg_cluster.h"
#include "tools/cimg_common.h"
#include "tools/image_list.h"

namespace cimg {

namespace dp = cfs::deploy;
using nlohmann::json;

namespace {

constexpr char kClustersTable[] =
    "table {{.Name}}\\t{{.Image}}\\t{{.Previous}}\\t{{.Masters}}\\t{{.Nodes}}\\t{{.State}}\\t{{.Updated}}";

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

// One cluster as JSON: the fields --format reads, and --format json prints.
json ClusterJson(const std::string& dir, const std::string& name, int64_t now) {
  json j{{"Name", name}};
  auto cf = dp::LoadSavedCluster(dir, name);
  std::vector<std::string> masters, nodes;
  if (cf.ok())
    for (const auto& h : cf->Hosts()) (h.master ? masters : nodes).push_back(h.ip);
  j["Image"] = cf.ok() ? cf->image : "";
  j["Masters"] = masters;
  j["Nodes"] = nodes;
  auto st = dp::LoadClusterState(dir, name);
  // A cluster saved before states were kept, or whose file cannot be read.
  j["State"] = st.ok() ? st->state : cf.ok() ? "unknown" : "unreadable";
  j["Detail"] = st.ok() ? st->detail : cf.ok() ? "" : cf.status().message();
  j["DeployedImage"] = st.ok() ? st->image : "";
  j["ImageID"] = st.ok() ? st->image_id : "";
  // The image cimg rollback returns to (none: "-" in the table).
  j["Previous"] = st.ok() && !st->previous.empty() ? st->previous.name : "";
  j["PreviousID"] = st.ok() ? st->previous.id : "";
  j["UpdatedAt"] = st.ok() ? Iso(st->updated) : "";
  j["Updated"] = st.ok() ? Ago(st->updated, now) : "N/A";
  return j;
}

void RunClusters(const Global& g, const std::string& format, bool quiet_ids) {
  auto store = Must(OpenStore(g));
  const std::string dir = ClustersDir(*store);
  const bool as_json = cfs::tmpl::IsJsonFormat(format);
  std::optional<cfs::tmpl::Report> report;
  const std::vector<std::string> fields{"Name", "Image", "Masters", "Nodes", "State", "Detail",
                                        "DeployedImage", "ImageID", "Previous", "PreviousID",
                                        "UpdatedAt", "Updated"};
  if (!as_json && !quiet_ids)
    report = Must(cfs::tmpl::Report::Parse(format.empty() ? "table" : format, kClustersTable, fields));
  json all = json::array();
  for (const auto& n : Must(dp::ListSavedClusters(dir))) all.push_back(ClusterJson(dir, n, std::time(nullptr)));
  if (quiet_ids) {
    for (const auto& j : all) std::printf("%s\n", j["Name"].get<std::string>().c_str());
  } else if (as_json) {
    std::printf("%s\n", all.dump(2).c_str());
  } else {
    std::vector<cfs::tmpl::Value> rows;
    for (auto j : all) {
      j["Masters"] = Join(j["Masters"].get<std::vector<std::string>>());
      j["Nodes"] = Join(j["Nodes"].get<std::vector<std::string>>());
      if (j["Previous"] == "") j["Previous"] = "-";
      rows.push_back(FromJson(j));
    }
    std::fputs(Must(report->Render(rows)).c_str(), stdout);
  }
}

}  // namespace

void AddClustersCommand(CLI::App& app, const Global& g) {
  auto* c = app.add_subcommand("clusters", "List the clusters deployed from here");
  static std::string format;
  static bool names_only = false;
  c->add_option("--format", format,
                "json, or a Go template on each cluster: {{.Name}} {{.Image}} {{.Masters}} "
                "{{.Nodes}} {{.State}} {{.Detail}} {{.Updated}} {{.UpdatedAt}} {{.ImageID}} "
                "{{.Previous}} {{.PreviousID}}");
  c->add_flag("-q,--quiet", names_only, "Names only");
  c->footer(
      "STATE is how the last deploy or scale-up went: deploying (running, or it died mid-way),\n"
      "deployed, failed (DETAIL says why); or the last upgrade or rollback: upgrading,\n"
      "upgraded, upgrade-failed, rolling-back, rolled-back, rollback-failed; unknown for a\n"
      "cluster saved by an older cimg. PREVIOUS is the image cimg rollback returns to.\n\n"
      "Examples:\n"
      "  cimg clusters\n"
      "  cimg clusters --format '{{.Name}} {{.State}} {{.Detail}}'\n"
      "  cimg clusters --format json");
  c->callback([&g] { RunClusters(g, format, names_only); });
}

}  // namespace cimg
