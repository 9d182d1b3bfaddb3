// Deploy's order at the unit level: every template is rendered before any
// host is reached, so a template error fails the deploy with no host
// touched (here the hosts cannot even be connected to: a connection error
// would mean deploy reached for them first).
#include "deploy/deploy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "deploy/clusterfile.h"
#include "store/testing/temp_store.h"

namespace cfs::deploy {
namespace {

namespace fs = std::filesystem;

void WriteFile(const std::string& path, const std::string& data) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << data;
}

// An image named `name` in `store` holding the files of `files` (path →
// data); its app launches of an earlier cimg, when any.
Status BuildImage(Store& store, const std::string& dir, const std::string& name,
                  const std::map<std::string, std::string>& files,
                  const std::vector<std::string>& launch) {
  for (const auto& [p, data] : files) WriteFile(dir + "/" + p, data);
  std::unique_ptr<Store::Lease> lease;
  ASSIGN_OR_RETURN(LayerSummary l, store.ImportDirLayer(dir, nullptr, &lease));
  nlohmann::json config =
      nlohmann::json({{"architecture", "amd64"},
                      {"os", "linux"},
                      {"rootfs", {{"type", "layers"}, {"diff_ids", {l.diff_id.ToString()}}}}});
  if (!launch.empty())
    config["config"] = {{"Labels", {{"io.cimg.launch", nlohmann::json(launch).dump()}}}};
  return store.CreateImage(name, config.dump(), "test", {l}).status();
}

// Two hosts on 127.0.0.1 and 127.0.0.2, port 1: nothing listens there.
Result<Clusterfile> Cluster(const std::string& image, const std::string& extra_spec = "",
                            const std::string& application = "") {
  return ParseClusterfile(R"(apiVersion: sealer.io/v2
kind: Cluster
metadata:
  name: tmpl
spec:
  image: )" + image + R"(
  env: [ZONE=a]
)" + extra_spec + R"(  ssh:
    passwd: x
    port: "1"
  hosts:
    - ips: [127.0.0.1]
      roles: [master]
    - ips: [127.0.0.2]
      roles: [node]
      env: [ZONE=]
)" + (application.empty() ? "" : "---\napiVersion: sealer.io/v2\nkind: Application\n"
                                    "metadata: {name: apps}\nspec:\n" + application),
                          "Clusterfile");
}

struct Outcome {
  Status status;
  bool connected = false;
  std::vector<std::string> log;
};

Outcome DeployImage(const std::map<std::string, std::string>& files,
                    const std::string& extra_spec = "", const std::string& application = "",
                    const std::vector<std::string>& launch = {}) {
  StoreOptions so;
  so.threads = 1;
  auto tmp = cfs::testing::TempStore::Create("deploy_test.", "store", so);
  EXPECT_TRUE(tmp.ok()) << tmp.status().ToString();
  Outcome r;
  if (!tmp.ok()) return r;
  Store& store = *tmp->store;
  Status built = BuildImage(store, tmp->Path("rootfs"), "test/tmpl:1", files, launch);
  EXPECT_TRUE(built.ok()) << built.ToString();
  auto cf = Cluster("test/tmpl:1", extra_spec, application);
  EXPECT_TRUE(cf.ok()) << cf.status().ToString();
  DeployOptions o;
  o.insecure_host_keys = true;
  o.connect_timeout_ms = 2000;
  o.log = [&](const std::string& line) { r.log.push_back(line); };
  o.on_connected = [&] { r.connected = true; };
  auto rep = Deploy(store, *cf, o);
  r.status = rep.status();
  return r;
}

TEST(Deploy, TemplateErrorFailsBeforeAnyHostIsReached) {
  // Renders on master0 (ZONE=a); fails on the node (ZONE empty → required).
  Outcome r = DeployImage({{"statics/zone.conf", "zone: {{ required \"ZONE is empty\" .ZONE }}\n"},
                           {"etc/kubeadm.yml.tmpl", "ip: {{ .CIMG_HOST_IP }}\n"}});
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.message(),
            "host 127.0.0.2: statics/zone.conf:1:10: executing \"statics/zone.conf\" at "
            "<required>: error calling required: ZONE is empty");
  EXPECT_FALSE(r.connected);
  for (const auto& line : r.log) EXPECT_EQ(line.find("connecting"), std::string::npos) << line;
}

TEST(Deploy, UnknownFunctionFailsBeforeAnyHostIsReached) {
  Outcome r = DeployImage({{"etc/a.yml.tmpl", "a: {{ .ZONE | sha256sum }}\n"}});
  ASSERT_FALSE(r.status.ok());
  EXPECT_NE(r.status.message().find("etc/a.yml.tmpl:1:15: function \"sha256sum\" not defined"),
            std::string::npos)
      << r.status.message();
  EXPECT_FALSE(r.connected);
}

TEST(Deploy, UnknownAppRefusedBeforeAnyHostIsReached) {
  Outcome r = DeployImage({{"application/apps/a/a.yaml", "kind: x\n"}}, "  appNames: [a]\n");
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.message(),
            "Clusterfile: spec.appNames: app \"a\" is not among the image's applications (none)");
  EXPECT_FALSE(r.connected);
  EXPECT_TRUE(r.log.empty());
}

// An Application file that cannot be written (merge into a file the image
// lacks) fails while the hosts' plans are made: no host is reached.
TEST(Deploy, ApplicationFileErrorFailsBeforeAnyHostIsReached) {
  Outcome r = DeployImage({{"application/apps/a/a.yaml", "kind: x\n"}}, "",
                          "  launchApps: [a]\n  configs:\n  - name: a\n    files:\n"
                          "    - {path: missing.yaml, strategy: merge, data: \"x: 1\"}\n",
                          {"a"});
  ASSERT_FALSE(r.status.ok());
  // (every host's plan fails; which one is named first is not fixed)
  EXPECT_NE(r.status.message().find(": application/apps/a/missing.yaml: strategy merge: the "
                                    "image has no such file to merge into"),
            std::string::npos)
      << r.status.message();
  EXPECT_FALSE(r.connected);
}

TEST(Deploy, GoodTemplatesGoOnToConnect) {
  // The same image with templates that render: deploy then reaches for the
  // hosts (and fails there, as nothing listens on port 1).
  Outcome r = DeployImage({{"statics/zone.conf", "zone: {{ .ZONE | default \"none\" }}\n"}});
  ASSERT_FALSE(r.status.ok());
  EXPECT_EQ(r.status.message().find("statics/"), std::string::npos) << r.status.message();
  ASSERT_FALSE(r.log.empty());
  EXPECT_EQ(r.log[0], "connecting to 2 hosts");
}

}  // namespace
}  // namespace cfs::deploy
