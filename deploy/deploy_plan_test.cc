// The dry run's parts: HostRunner's planning mode (steps listed by the check
// that skips them in a real run, nothing run: the hosts here have no SSH
// session at all), the plan's totals and its text and JSON forms, and
// PlanDeploy failing as Deploy does before any host is touched.
#include "deploy/deploy_plan.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "deploy/clusterfile.h"
#include "deploy/host_runner.h"
#include "deploy/kubeadm.h"
#include "store/testing/temp_store.h"

namespace cfs::deploy {
namespace {

namespace fs = std::filesystem;
using State = PlannedStep::State;

Clusterfile ThreeHosts(const std::string& plugins = "") {
  auto cf = ParseClusterfile(R"(apiVersion: sealer.io/v2
kind: Cluster
metadata:
  name: plan
spec:
  image: test/plan:1
  ssh:
    passwd: x
    port: "1"
  hosts:
    - ips: [127.0.0.1]
      roles: [master]
    - ips: [127.0.0.2, 127.0.0.3]
      roles: [node]
)" + plugins,
                             "Clusterfile");
  EXPECT_TRUE(cf.ok()) << cf.status().ToString();
  return cf.ok() ? *cf : Clusterfile();
}

// The cluster's hosts for a planning HostRunner (no session: a step that
// tried to run would crash the test).
struct Planning {
  explicit Planning(const Clusterfile& c) : cf(c), run(cf, o) {
    run.StartPlanning();
    for (const auto& h : cf.Hosts()) {
      owned.push_back(run.NewHost(h, cf.Hosts()[0].ip, {}));
      all.push_back(owned.back().get());
    }
  }
  Clusterfile cf;
  DeployOptions o;
  HostRunner run;
  std::vector<std::unique_ptr<HostCtx>> owned;
  std::vector<HostCtx*> all;
};

std::vector<std::pair<std::string, State>> Listed(const HostCtx& c) {
  std::vector<std::pair<std::string, State>> out;
  for (const auto& s : c.planned) out.emplace_back(s.what, s.state);
  return out;
}

TEST(PlanningRunner, StepsAreListedByWhatTheHostRecorded) {
  Planning p(ThreeHosts());
  HostCtx& c = *p.all[0];
  c.steps = {{"init", "sha256:new"}, {"cmd-0", "sha256:old/abc"}};
  ASSERT_TRUE(p.run.Step(c, "init", "sha256:new", "scripts/init.sh", "exit 1").ok());
  ASSERT_TRUE(p.run.Step(c, "cmd-0", "sha256:new/abc", "CMD a", "exit 1").ok());
  ASSERT_TRUE(p.run.Step(c, "cmd-1", "sha256:new/def", "CMD b", "exit 1").ok());
  ASSERT_TRUE(p.run.Step(c, "", "", "built-in registry", "exit 1").ok());
  // The same step again in this run: done now (Mark's effect, in memory).
  ASSERT_TRUE(p.run.Step(c, "cmd-1", "sha256:new/def", "CMD b", "exit 1").ok());
  std::vector<std::pair<std::string, State>> want = {{"scripts/init.sh", State::kDone},
                                                     {"CMD a", State::kPending},
                                                     {"CMD b", State::kPending},
                                                     {"built-in registry", State::kAlways},
                                                     {"CMD b", State::kDone}};
  EXPECT_EQ(Listed(c), want);
  EXPECT_EQ(c.planned[1].recorded, "sha256:old/abc");
  EXPECT_EQ(c.planned[2].recorded, "");
}

TEST(PlanningRunner, PluginsListedOnTheHostsOfTheirScope) {
  Planning p(ThreeHosts(R"(---
apiVersion: sealer.io/v2
kind: Plugin
metadata: {name: tune}
spec:
  type: SHELL
  action: pre-init-host
  scope: node
  data: echo hi
)"));
  p.all[2]->steps["plugin-tune-pre-init-host"] = "img1";
  for (HostCtx* c : p.all) c->image_id = "img1";
  ASSERT_TRUE(p.run.Phase("pre-init-host", p.all, true).ok());
  EXPECT_TRUE(p.all[0]->planned.empty());  // master: out of scope
  ASSERT_EQ(p.all[1]->planned.size(), 1u);
  EXPECT_EQ(p.all[1]->planned[0].what, "plugin tune (pre-init-host)");
  EXPECT_EQ(p.all[1]->planned[0].state, State::kPending);
  ASSERT_EQ(p.all[2]->planned.size(), 1u);
  EXPECT_EQ(p.all[2]->planned[0].state, State::kDone);
}

TEST(PlanningRunner, BringUpListsJoinsDoneAndPending) {
  Planning p(ThreeHosts());
  p.all[0]->steps["kubeadm-init"] = "done";
  p.all[1]->steps["kubeadm-join"] = "done";
  ASSERT_TRUE(BringUpCluster(p.run, p.all, true).ok());
  std::vector<std::pair<std::string, State>> m0 = {{"kubeadm init", State::kDone},
                                                   {"kubeadm token create", State::kAlways}};
  EXPECT_EQ(Listed(*p.all[0]), m0);
  std::vector<std::pair<std::string, State>> done = {{"kubeadm join", State::kDone}};
  std::vector<std::pair<std::string, State>> pending = {{"kubeadm join", State::kPending}};
  EXPECT_EQ(Listed(*p.all[1]), done);
  EXPECT_EQ(Listed(*p.all[2]), pending);
}

TEST(PlanningRunner, BringUpOfAJoinedClusterAsksMaster0Nothing) {
  Planning p(ThreeHosts());
  p.all[0]->steps["kubeadm-init"] = "done";
  for (int i : {1, 2}) p.all[i]->steps["kubeadm-join"] = "done";
  ASSERT_TRUE(BringUpCluster(p.run, p.all, true).ok());
  std::vector<std::pair<std::string, State>> m0 = {{"kubeadm init", State::kDone}};
  EXPECT_EQ(Listed(*p.all[0]), m0);  // no token created: nobody joins
}

// A plan of two hosts: master with a rendered and a patched file, a node
// with one file and a removal; one relayed stream to both.
DeployPlan SamplePlan() {
  DeployPlan p;
  p.cluster = "c";
  p.image = "app:2";
  p.image_id = "sha256:ab";
  p.platform = "linux/amd64";
  p.fanout = 1;
  HostPlan m{"10.0.0.2", "master", "x86_64", "", {}, {}};
  m.rootfs.send = {{"etc/a.conf", 'f', 20000000, 20000000, false, false},
                   {"statics/x", 'f', 10, 10, false, true},
                   {"data/big", 'f', 6000000, 262144, true, false}};
  m.rootfs.total = 40;
  m.rootfs.unchanged = 37;
  m.rootfs.send_bytes = 20000000 + 10 + 262144;
  m.rootfs.registry = true;
  m.rootfs.has_record = true;
  m.rootfs.compression = "zstd";
  m.steps = {{"init", "scripts/init.sh", State::kPending, "sha256:" + std::string(64, 'a') + "/9f"},
             {"kubeadm-init", "kubeadm init", State::kDone, ""},
             {"", "built-in registry", State::kAlways, ""}};
  HostPlan n{"10.0.0.3", "node", "aarch64", "host 10.0.0.3 is aarch64", {}, {}};
  n.rootfs.send = {{"etc/a.conf", 'f', 20000000, 20000000, false, false}};
  n.rootfs.remove = {"etc/old"};
  n.rootfs.total = 30;
  n.rootfs.unchanged = 29;
  n.rootfs.send_bytes = 20000000;
  n.rootfs.compression = "zstd";
  n.steps = {{"init", "scripts/init.sh", State::kPending, ""}};
  p.hosts = {m, n};
  p.streams = {{{"10.0.0.2", "10.0.0.3"}, 1, 20000000, true, {-1, 0}, 1}};
  p.refusal = "host 10.0.0.3 is aarch64";
  return p;
}

TEST(PlanFormat, TotalsCountARelayedStreamOnceFromHere) {
  PlanTotals t = Totals(SamplePlan());
  EXPECT_EQ(t.files_send, 4u);
  EXPECT_EQ(t.files_remove, 1u);
  EXPECT_EQ(t.steps_pending, 2u);
  EXPECT_EQ(t.steps_done, 1u);
  EXPECT_EQ(t.steps_always, 1u);
  EXPECT_EQ(t.bytes_to_hosts, 40000000u + 10 + 262144);
  EXPECT_EQ(t.bytes_from_here, 20000000u + 10 + 262144);
  DeployPlan direct = SamplePlan();
  direct.streams[0] = {{"10.0.0.2", "10.0.0.3"}, 1, 20000000, false, {-1, -1}, 2};
  EXPECT_EQ(Totals(direct).bytes_from_here, 40000000u + 10 + 262144);
}

TEST(PlanFormat, TextNamesEveryFileStepAndTreeEdge) {
  std::string t = FormatPlanText(SamplePlan());
  for (const char* want :
       {"cluster c: image app:2 (linux/amd64), 2 hosts\n",
        "host 10.0.0.2 (master, x86_64, runs linux/amd64)\n",
        "  rootfs: 3 entries to send (20.3 MB), 0 to remove, 37 of 40 unchanged; registry/ "
        "included; zstd\n",
        "    + f     20000000 etc/a.conf\n",
        "    + f           10 statics/x (rendered for this host)\n",
        "    ~ f      6000000 data/big (chunks only: 262144 B)\n",
        "  steps: 1 pending, 1 done, 1 not recorded (run every deploy)\n",
        "    pending  scripts/init.sh (recorded for sha256:aaaaaaaaaaaa/9f)\n",
        "    done     kubeadm init\n", "    runs     built-in registry\n",
        "host 10.0.0.3 (node, aarch64, CANNOT RUN linux/amd64)\n", "    - etc/old\n",
        "  stream 1: 1 entry, 20.0 MB to 2 hosts, relayed, 1 copy on this host's link\n",
        "    here -> 10.0.0.2\n", "    10.0.0.2 -> 10.0.0.3\n",
        "plan: 4 entries to send (40.3 MB of file data to hosts, 20.3 MB of it from here), 1 to "
        "remove, 2 steps pending, 1 not recorded; nothing was changed\n",
        "a deploy would stop: host 10.0.0.3 is aarch64\n"})
    EXPECT_NE(t.find(want), std::string::npos) << want << "\nin:\n" << t;
}

TEST(PlanFormat, JsonHasTheDocumentedFields) {
  auto j = nlohmann::json::parse(FormatPlanJson(SamplePlan()));
  EXPECT_EQ(j["Cluster"], "c");
  EXPECT_EQ(j["ImageID"], "sha256:ab");
  EXPECT_EQ(j["Fanout"], 1);
  ASSERT_EQ(j["Hosts"].size(), 2u);
  const auto& m = j["Hosts"][0];
  EXPECT_EQ(m["IP"], "10.0.0.2");
  EXPECT_EQ(m["Role"], "master");
  EXPECT_EQ(m["PlatformOK"], true);
  EXPECT_EQ(m["Rootfs"]["FilesToSend"], 3);
  EXPECT_EQ(m["Rootfs"]["FilesUnchanged"], 37);
  EXPECT_EQ(m["Rootfs"]["Registry"], true);
  EXPECT_EQ(m["Rootfs"]["Send"][2]["Path"], "data/big");
  EXPECT_EQ(m["Rootfs"]["Send"][2]["Bytes"], 6000000);
  EXPECT_EQ(m["Rootfs"]["Send"][2]["SendBytes"], 262144);
  EXPECT_EQ(m["Rootfs"]["Send"][2]["Patched"], true);
  EXPECT_EQ(m["Steps"][0]["Step"], "init");
  EXPECT_EQ(m["Steps"][0]["State"], "pending");
  EXPECT_EQ(m["Steps"][0]["Recorded"], "sha256:" + std::string(64, 'a') + "/9f");
  EXPECT_EQ(m["Steps"][2]["State"], "runs");
  EXPECT_EQ(j["Hosts"][1]["PlatformOK"], false);
  EXPECT_EQ(j["Hosts"][1]["Rootfs"]["Remove"][0], "etc/old");
  EXPECT_EQ(j["Streams"][0]["Tree"][1]["From"], "10.0.0.2");
  EXPECT_EQ(j["Streams"][0]["Copies"], 1);
  EXPECT_EQ(j["Totals"]["StepsPending"], 2);
  EXPECT_EQ(j["Totals"]["BytesFromHere"], 20000000 + 10 + 262144);
  EXPECT_EQ(j["Refusal"], "host 10.0.0.3 is aarch64");
}

// PlanDeploy fails as Deploy does: a template error before any host is
// reached, an unreachable host (nothing listens on port 1) after.
Result<DeployPlan> PlanImage(const std::map<std::string, std::string>& files,
                             std::vector<std::string>* log) {
  StoreOptions so;
  so.threads = 1;
  ASSIGN_OR_RETURN(auto tmp, cfs::testing::TempStore::Create("deploy_plan_test.", "store", so));
  Store* store = tmp.store.get();
  for (const auto& [p, data] : files) {
    fs::create_directories(fs::path(tmp.Path("rootfs/" + p)).parent_path());
    std::ofstream(tmp.Path("rootfs/" + p)) << data;
  }
  std::unique_ptr<Store::Lease> lease;
  ASSIGN_OR_RETURN(LayerSummary l, store->ImportDirLayer(tmp.Path("rootfs"), nullptr, &lease));
  nlohmann::json config = {{"architecture", "amd64"},
                           {"os", "linux"},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", {l.diff_id.ToString()}}}}};
  RETURN_IF_ERROR(store->CreateImage("test/plan:1", config.dump(), "test", {l}).status());
  DeployOptions o;
  o.insecure_host_keys = true;
  o.connect_timeout_ms = 2000;
  o.log = [log](const std::string& line) { log->push_back(line); };
  return PlanDeploy(*store, ThreeHosts(), o);
}

TEST(PlanDeploy, TemplateErrorBeforeAnyHostIsReached) {
  std::vector<std::string> log;
  auto p = PlanImage({{"statics/zone.conf", "zone: {{ .ZONE }}\n"}}, &log);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("statics/zone.conf:1:"), std::string::npos)
      << p.status().message();
  for (const auto& line : log) EXPECT_EQ(line.find("connecting"), std::string::npos) << line;
}

TEST(PlanDeploy, UnreachableHostFailsThePlan) {
  std::vector<std::string> log;
  auto p = PlanImage({{"etc/a.conf", "a\n"}}, &log);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("127.0.0."), std::string::npos) << p.status().message();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log[0], "connecting to 3 hosts");
}

}  // namespace
}  // namespace cfs::deploy
