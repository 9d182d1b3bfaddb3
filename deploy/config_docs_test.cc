#include "deploy/config_docs.h"

#include <gtest/gtest.h>

#include "deploy/clusterfile_testing.h"

#include "deploy/clusterfile.h"

namespace cfs::deploy {
namespace {

ConfigDoc Doc(std::string path, std::string data, std::string process = "",
              std::string strategy = "") {
  ConfigDoc c;
  c.name = "c";
  c.path = std::move(path);
  c.data = std::move(data);
  c.process = std::move(process);
  c.strategy = std::move(strategy);
  return c;
}

TEST(ConfigDocs, NewFileHoldsTheData) {
  EXPECT_EQ(*ApplyConfig(Doc("etc/a.yaml", "a: 1\n"), std::nullopt), "a: 1\n");
}

TEST(ConfigDocs, OverwriteReplacesTheFile) {
  EXPECT_EQ(*ApplyConfig(Doc("etc/a.yaml", "b: 2\n"), std::string("a: 1\n")), "b: 2\n");
  EXPECT_EQ(*ApplyConfig(Doc("etc/a.yaml", "b: 2\n", "", "overwrite"), std::string("a: 1\n")),
            "b: 2\n");
}

TEST(ConfigDocs, MergeDeepMergesEveryDocument) {
  const std::string file = "a: 1\nnested:\n  keep: x\n  over: old\nlist: [1, 2]\n---\nz: 9\n";
  auto out = ApplyConfig(Doc("f.yaml", "nested: {over: new}\nlist: [3]\n", "", "merge"), file);
  ASSERT_TRUE(out.ok()) << out.status().message();
  // Maps merge key by key, lists are replaced, keys sorted, yaml.v3's 4 spaces.
  EXPECT_EQ(*out,
            "a: 1\nlist:\n    - 3\nnested:\n    keep: x\n    over: new\n---\n"
            "list:\n    - 3\nnested:\n    over: new\nz: 9\n");
}

TEST(ConfigDocs, MergeOfANewFileWritesTheData) {
  EXPECT_EQ(*ApplyConfig(Doc("f.yaml", "b: 2\n", "", "merge"), std::nullopt), "b: 2\n");
}

TEST(ConfigDocs, ToSecretAsSealersTest) {
  // pkg/config/config_test.go Test_convertSecretYaml, "secret file exists".
  const std::string data =
      "global: e2FiYzogeHh4fQo=\ncomponents: e215c3FsOntjcHU6e3JlcXVlc3Q6IDEwMDBtfX19Cg==";
  const std::string file =
      "apiVersion: v1\ndata:\nkind: Secret\nmetadata:\n  name: gu-demo-configuration\n"
      "  namespace: default\ntype: Opaque";
  auto out = ApplyConfig(Doc("manifests/s.yaml", data, "value|toSecret"), file);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out,
            "apiVersion: v1\n"
            "data:\n"
            "  components: ZTIxNWMzRnNPbnRqY0hVNmUzSmxjWFZsYzNRNklERXdNREJ0ZlgxOUNnPT0=\n"
            "  global: ZTJGaVl6b2dlSGg0ZlFvPQ==\n"
            "kind: Secret\n"
            "metadata:\n"
            "  creationTimestamp: null\n"
            "  name: gu-demo-configuration\n"
            "  namespace: default\n"
            "type: Opaque\n");
  // No file there: the data as it is (sealer converts existing files only).
  EXPECT_EQ(*ApplyConfig(Doc("manifests/s.yaml", data, "toSecret"), std::nullopt), data);
}

TEST(ConfigDocs, ToJsonWholeAndPerValue) {
  EXPECT_EQ(*ProcessConfigData(Doc("p", "b: [1, x, true, null]\na: {c: '2'}\n", "toJson")),
            R"({"a":{"c":"2"},"b":[1,"x",true,null]})");
  auto per = ProcessConfigData(Doc("p", "k1: {a: 1}\nk2: [x]\nk3: 5\n", "value|toJson"));
  ASSERT_TRUE(per.ok()) << per.status().message();
  auto again = ProcessConfigData(Doc("p", *per, "toJson"));
  EXPECT_EQ(*again, R"({"k1":"{\"a\":1}","k2":"[\"x\"]","k3":"5"})");
}

TEST(ConfigDocs, ToBase64WholeAndPerValue) {
  EXPECT_EQ(*ProcessConfigData(Doc("p", "abc", "toBase64")), "YWJj");
  EXPECT_EQ(*ProcessConfigData(Doc("p", "b: abc\na: 1\n", "value|toBase64")), "a: MQ==\nb: YWJj\n");
  // The order counts: toBase64 before value works on the whole text.
  EXPECT_EQ(*ProcessConfigData(Doc("p", "abc", "toBase64|value")), "YWJj");
}

TEST(ConfigDocs, TargetPaths) {
  EXPECT_EQ(*ConfigTarget(Doc("/etc//a.yaml", "x")), "etc/a.yaml");
  ConfigDoc app = Doc("./values.yaml", "x");
  app.app_name = "mysql";
  EXPECT_EQ(*ConfigTarget(app), "application/apps/mysql/values.yaml");
  EXPECT_FALSE(ConfigTarget(Doc("../x", "x")).ok());
  EXPECT_FALSE(ConfigTarget(Doc("/", "x")).ok());
}

TEST(ConfigDocs, ConfigsApplyInOrderOverTheImage) {
  std::vector<ConfigDoc> cs = {Doc("etc/a.yaml", "b: 2\n", "", "merge"),
                               Doc("etc/a.yaml", "c: 3\n", "", "merge"), Doc("new.txt", "hi")};
  auto files = ConfigFiles(cs, [](const std::string& p) -> Result<std::optional<std::string>> {
    if (p == "etc/a.yaml") return std::optional<std::string>("a: 1\n");
    return std::optional<std::string>();
  });
  ASSERT_TRUE(files.ok()) << files.status().message();
  EXPECT_EQ(files->at("etc/a.yaml"), "a: 1\nb: 2\nc: 3\n");
  EXPECT_EQ(files->at("new.txt"), "hi");
}

TEST(ConfigDocs, ErrorsNameTheConfig) {
  auto r = ConfigFiles({Doc("etc/a.yaml", "[1]", "", "merge")},
                       [](const std::string&) -> Result<std::optional<std::string>> {
                         return std::optional<std::string>("a: 1\n");
                       });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "Config c: etc/a.yaml: merge: data is not a YAML map");
}

const char kCluster[] = R"(apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: c1}
spec:
  image: img
  hosts: [{ips: [10.0.0.2], roles: [master]}]
---
apiVersion: sealer.io/v1
kind: Config
metadata:
  name: mysql-config
spec:
  path: etc/mysql.yaml
  appName: mysql
  strategy: merge
  process: value|toJson
  data: |
    user: root
)";

TEST(ConfigDocs, ParsedFromTheClusterfileAndSaved) {
  auto c = ParseClusterfile(kCluster, "Clusterfile");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->configs.size(), 1u);
  const ConfigDoc& d = c->configs[0];
  EXPECT_EQ(d.name, "mysql-config");
  EXPECT_EQ(d.path, "etc/mysql.yaml");
  EXPECT_EQ(d.app_name, "mysql");
  EXPECT_EQ(d.strategy, "merge");
  EXPECT_EQ(d.process, "value|toJson");
  EXPECT_EQ(d.data, "user: root\n");
  auto again = ParseClusterfile(EmitClusterfile(*c), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(EmitClusterfile(*again), EmitClusterfile(*c));
}

TEST(ConfigDocs, BadConfigsNameTheLine) {
  testing::ExpectEditsFail(kCluster, {
      {"  strategy: merge", "  strategy: append", "Clusterfile:15: Config mysql-config: unknown strategy \"append\""},
      {"value|toJson", "value|toYaml", "Clusterfile:16: Config mysql-config: unknown process \"toYaml\""},
      {"  path: etc/mysql.yaml", "  path: ../../etc/passwd", "Clusterfile:13: Config mysql-config: path"},
      {"  appName: mysql", "  app: mysql", "Clusterfile:14: unknown field Config spec.app"},
      {"  path: etc/mysql.yaml\n", "", "Clusterfile:13: Config mysql-config: spec.path is required"},
      {"sealer.io/v1\nkind: Config", "v1\nkind: Config", "Clusterfile:8: apiVersion \"v1\" is not supported for kind Config"},
  });
}

}  // namespace
}  // namespace cfs::deploy
