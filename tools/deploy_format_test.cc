#include "tools/deploy_format.h"

#include <gtest/gtest.h>

namespace cimg {
namespace {

namespace dp = cfs::deploy;
using nlohmann::json;
using Kind = DeployFormat::Kind;

json Report() {
  dp::DeployReport r;
  r.hosts = {{"10.0.0.2", 3, 1, 40, 20000, 9000}, {"10.0.0.3", 0, 0, 33, 0, 512}};
  return DeployReportJson("demo", "demo/app:2", r, 2.5);
}

json Plan() {
  dp::DeployPlan p;
  p.cluster = "demo";
  p.image = "demo/app:2";
  p.image_id = "sha256:ab";
  p.platform = "linux/amd64";
  p.fanout = 1;
  dp::HostPlan m{"10.0.0.2", "master", "x86_64", "", {}, {}};
  m.rootfs.send = {{"etc/a.conf", 'f', 100, 100, false, false},
                   {"data/big", 'f', 6000, 260, true, false}};
  m.rootfs.total = 40;
  m.rootfs.unchanged = 38;
  m.rootfs.send_bytes = 360;
  m.rootfs.compression = "zstd";
  m.steps = {{"init", "scripts/init.sh", dp::PlannedStep::State::kPending, ""},
             {"kubeadm-init", "kubeadm init", dp::PlannedStep::State::kDone, ""},
             {"", "built-in registry", dp::PlannedStep::State::kAlways, ""}};
  dp::HostPlan n{"10.0.0.3", "node", "aarch64", "host 10.0.0.3 is aarch64", {}, {}};
  n.rootfs.remove = {"etc/old"};
  n.rootfs.total = 30;
  n.rootfs.unchanged = 29;
  p.hosts = {m, n};
  p.refusal = "host 10.0.0.3 is aarch64";
  return json::parse(dp::FormatPlanJson(p));
}

std::string Render(std::string_view format, Kind kind) {
  auto f = DeployFormat::Parse(format, kind);
  if (!f.ok()) return "error: " + f.status().message();
  auto out = f->Render(kind == Kind::kPlan ? Plan() : Report());
  return out.ok() ? *out : "error: " + out.status().message();
}

TEST(DeployFormat, TableAndJsonAreTheBuiltInOutputs) {
  for (auto kind : {Kind::kReport, Kind::kPlan}) {
    EXPECT_TRUE(DeployFormat::Parse("", kind)->text());
    EXPECT_TRUE(DeployFormat::Parse("table", kind)->text());
    EXPECT_TRUE(DeployFormat::Parse(" json ", kind)->json());
    EXPECT_FALSE(DeployFormat::Parse("{{.IP}}", kind)->text());
    EXPECT_FALSE(DeployFormat::Parse("{{.IP}}", kind)->json());
  }
}

TEST(DeployFormat, ReportRowsAreTheHostsWithTheReportsFields) {
  EXPECT_EQ(
      Render(
          "{{.IP}} {{.FilesSent}}/{{.FilesTotal}} {{.DataBytes}} {{.WireBytes}} {{.FilesRemoved}}",
          Kind::kReport),
      "10.0.0.2 3/40 20000 9000 1\n10.0.0.3 0/33 0 512 0\n");
  EXPECT_EQ(Render("{{.Cluster}} {{.Image}} {{.Seconds}}", Kind::kReport),
            "demo demo/app:2 2.5\ndemo demo/app:2 2.5\n");
  EXPECT_EQ(Render("table {{.IP}} {{.WireBytes}}", Kind::kReport),
            "IP          WIRE BYTES\n10.0.0.2    9000\n10.0.0.3    512\n");
}

TEST(DeployFormat, PlanRowsHaveTheHostsKeysAndTopLevelCounts) {
  EXPECT_EQ(
      Render("{{.IP}} {{.Role}} {{.Arch}} {{.PlatformOK}} [{{.PlatformError}}]", Kind::kPlan),
      "10.0.0.2 master x86_64 true []\n10.0.0.3 node aarch64 false [host 10.0.0.3 is aarch64]\n");
  EXPECT_EQ(Render("{{.IP}} {{.FilesToSend}} {{.FilesToRemove}} {{.FilesUnchanged}} {{.SendBytes}} "
                   "{{.StepsPending}} {{.StepsDone}} {{.StepsNotRecorded}}",
                   Kind::kPlan),
            "10.0.0.2 2 0 38 360 1 1 1\n10.0.0.3 0 1 29 0 0 0 0\n");
  EXPECT_EQ(
      Render("{{.Rootfs.SendBytes}}{{range .Rootfs.Send}} {{.Path}}={{.SendBytes}}{{end}}"
             "{{range .Steps}} {{.State}}:{{.What}}{{.Recorded}}{{end}}",
             Kind::kPlan),
      "360 etc/a.conf=100 data/big=260 pending:scripts/init.sh done:kubeadm init runs:built-in "
      "registry\n0\n");
  EXPECT_EQ(Render("{{.Cluster}} {{.ImageID}} {{.Platform}} {{.Fanout}} {{.Refusal}}", Kind::kPlan),
            "demo sha256:ab linux/amd64 1 host 10.0.0.3 is aarch64\n"
            "demo sha256:ab linux/amd64 1 host 10.0.0.3 is aarch64\n");
  EXPECT_EQ(Render("table {{.IP}} {{.SendBytes}} {{.StepsPending}}", Kind::kPlan),
            "IP          SEND BYTES  STEPS PENDING\n10.0.0.2    360         1\n10.0.0.3    0       "
            "    0\n");
}

// Unknown fields, also inside a range over a list, and templates that fail
// on every row are refused at Parse: before any host is touched.
TEST(DeployFormat, ATemplateTheRowsCannotRunIsRefusedAtParse) {
  struct Case {
    std::string format, want;
    Kind kind;
  };
  for (const auto& c : std::vector<Case>{
           {"{{.Host}}", "map has no entry for key \"Host\"", Kind::kReport},
           {"{{.IP}} {{.Bytes}}", "map has no entry for key \"Bytes\"", Kind::kPlan},
           {"table {{.IP}} {{.Nope}}", "map has no entry for key \"Nope\"", Kind::kReport},
           {"{{range .Steps}}{{.Name}}{{end}}", "map has no entry for key \"Name\"", Kind::kPlan},
           {"{{range .Rootfs.Send}}{{.File}}{{end}}", "map has no entry for key \"File\"",
            Kind::kPlan},
           {"{{.Role}}", "map has no entry for key \"Role\"", Kind::kReport},
           {"{{.IP}", "format:1:6: unrecognized character in action", Kind::kReport},
           {"{{truncate .FilesSent 3}}", "--format: ", Kind::kReport},
       }) {
    auto f = DeployFormat::Parse(c.format, c.kind);
    ASSERT_FALSE(f.ok()) << c.format;
    EXPECT_NE(f.status().message().find(c.want), std::string::npos)
        << c.format << ": " << f.status().message();
    EXPECT_EQ(f.status().message().rfind("--format: ", 0), 0u) << f.status().message();
  }
}

TEST(DeployFormat, FieldListsAreTheRowsKeys) {
  const auto& r = ReportFields();
  for (const char* k : {"IP", "FilesSent", "FilesRemoved", "FilesTotal", "DataBytes", "WireBytes",
                        "Cluster", "Image", "Seconds"})
    EXPECT_NE(std::find(r.begin(), r.end(), k), r.end()) << k;
  EXPECT_EQ(r.size(), 9u);
  const auto& p = PlanFields();
  for (const char* k : {"IP",
                        "Role",
                        "Arch",
                        "PlatformOK",
                        "PlatformError",
                        "Rootfs",
                        "Steps",
                        "FilesTotal",
                        "FilesToSend",
                        "FilesToRemove",
                        "FilesUnchanged",
                        "SendBytes",
                        "Registry",
                        "HasRecord",
                        "Compression",
                        "StepsPending",
                        "StepsDone",
                        "StepsNotRecorded",
                        "Cluster",
                        "Image",
                        "ImageID",
                        "Platform",
                        "Fanout",
                        "Refusal"})
    EXPECT_NE(std::find(p.begin(), p.end(), k), p.end()) << k;
  EXPECT_EQ(p.size(), 24u);
}

}  // namespace
}  // namespace cimg
