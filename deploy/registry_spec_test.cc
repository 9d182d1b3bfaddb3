#include "deploy/registry_spec.h"

#include <gtest/gtest.h>

#include "deploy/clusterfile.h"

namespace cfs::deploy {
namespace {

using Env = std::map<std::string, std::string>;

const char kBase[] = R"(apiVersion: sealer.io/v2
kind: Cluster
metadata: {name: c1}
spec:
  image: img
  env: [SvcCIDR=10.96.0.0/22, RegistryURL=ignored, A=1]
  hosts: [{ips: [10.0.0.2], roles: [master]}]
)";

Result<Clusterfile> With(const std::string& extra) {
  return ParseClusterfile(kBase + extra, "Clusterfile");
}

TEST(RegistrySpec, DefaultIsTheBuiltInRegistry) {
  auto c = With("");
  ASSERT_TRUE(c.ok()) << c.status().message();
  auto hosts = c->Hosts();
  EXPECT_EQ(hosts[0].env.count("RegistryURL"), 0u);  // dropped as sealer drops it
  Env env = SealerEnv(c->registry, c->container_runtime, hosts[0].env, "10.0.0.2");
  EXPECT_EQ(env, (Env{{"LocalRegistryDomain", "sea.hub"}, {"LocalRegistryPort", "5000"},
                      {"LocalRegistryURL", "sea.hub:5000"}, {"RegistryDomain", "sea.hub"},
                      {"RegistryPort", "5000"}, {"RegistryURL", "sea.hub:5000"},
                      {"KubeSvcIP", "10.96.0.1"}, {"DNSSvcIP", "10.96.0.10"},
                      {"HostIP", "10.0.0.2"}}));
  // cimg's REGISTRY_PORT / REGISTRY_DOMAIN pick the built-in registry's.
  env = SealerEnv(c->registry, "", {{"REGISTRY_PORT", "5001"}, {"HostIP", "x"}}, "10.0.0.2");
  EXPECT_EQ(env.at("RegistryURL"), "sea.hub:5001");
  EXPECT_EQ(env.count("HostIP"), 0u);
  // sealer's defaults: TLS, a registry on every master.
  auto builtin = LocalRegistry(c->registry, {});
  ASSERT_TRUE(builtin.has_value());
  EXPECT_TRUE(builtin->tls);
  EXPECT_TRUE(builtin->ha);
}

TEST(RegistrySpec, SavedDefaultsAreRecorded) {
  auto c = With("");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->registry.defaults_recorded);  // a user's Clusterfile
  const std::string saved = EmitClusterfile(*c);
  EXPECT_NE(saved.find("cimg.registry-defaults: sealer"), std::string::npos) << saved;
  auto again = ParseClusterfile(saved, "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->registry.defaults_recorded);
  EXPECT_FALSE(again->registry.legacy_defaults);
  EXPECT_TRUE(LocalRegistry(again->registry, {})->tls);

  // A cluster of the old defaults: the built-in registry plain, master0 only,
  // and so it reads back.
  UseLegacyRegistryDefaults(&c->registry);
  auto builtin = LocalRegistry(c->registry, {});
  EXPECT_FALSE(builtin->tls);
  EXPECT_FALSE(builtin->ha);
  again = ParseClusterfile(EmitClusterfile(*c), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->registry.legacy_defaults);
  EXPECT_FALSE(LocalRegistry(again->registry, {})->tls);
  EXPECT_FALSE(LocalRegistry(again->registry, {})->ha);
  EXPECT_FALSE(again->registry.local.has_value());
}

TEST(RegistrySpec, LegacyDefaultsKeepWhatIsGiven) {
  auto c = With("  registry: {localRegistry: {insecure: false}}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  UseLegacyRegistryDefaults(&c->registry);
  EXPECT_TRUE(c->registry.local->tls);   // given
  EXPECT_FALSE(c->registry.local->ha);   // left out: the old default
  auto again = ParseClusterfile(EmitClusterfile(*c), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->registry.local->tls);
  EXPECT_FALSE(again->registry.local->ha);
  // A certificate asked for keeps TLS.
  c = With("  registry: {localRegistry: {cert: {subjectAltName: {ips: [192.0.2.7]}}}}\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  UseLegacyRegistryDefaults(&c->registry);
  EXPECT_TRUE(c->registry.local->tls);
  // A bad annotation value is refused at its line.
  std::string text = kBase;
  text.replace(text.find("{name: c1}"), 10, "{name: c1, annotations: {cimg.registry-defaults: x}}");
  auto bad = ParseClusterfile(text, "Clusterfile");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("Clusterfile:3: metadata.annotations.cimg.registry-defaults: give sealer or plain"),
            std::string::npos) << bad.status().message();
}

TEST(RegistrySpec, LocalExternalAndRuntime) {
  auto c = With(R"(  registry:
    localRegistry: {domain: hub.local, port: 5443, ha: false, insecure: true}
    externalRegistry: {domain: reg.example.com}
  containerRuntime: {type: containerd}
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  Env env = SealerEnv(c->registry, c->container_runtime, {}, "10.0.0.2");
  EXPECT_EQ(env.at("LocalRegistryURL"), "hub.local:5443");
  EXPECT_EQ(env.at("RegistryURL"), "hub.local:5443");
  EXPECT_EQ(env.at("ExternalRegistryURL"), "reg.example.com");
  EXPECT_EQ(env.at("ExternalRegistryPort"), "");
  EXPECT_EQ(env.at("ContainerRuntime"), "containerd");
  auto again = ParseClusterfile(EmitClusterfile(*c), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->registry.local->port, 5443);
  EXPECT_EQ(again->container_runtime, "containerd");

  auto ext = With("  registry: {externalRegistry: {domain: reg.example.com, port: 443}}\n");
  ASSERT_TRUE(ext.ok());
  EXPECT_FALSE(LocalRegistry(ext->registry, {}).has_value());
  EXPECT_EQ(SealerEnv(ext->registry, "", {}, "h").at("RegistryURL"), "reg.example.com:443");
}

TEST(RegistrySpec, TlsAndCredentials) {
  auto c = With(R"(  registry:
    localRegistry: {domain: hub.local, port: 5443, insecure: false, username: admin, password: 's3 cr:et'}
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->registry.local->tls);
  EXPECT_EQ(c->registry.local->username, "admin");
  EXPECT_EQ(c->registry.local->password, "s3 cr:et");
  // The password is no part of the environment the hosts get.
  for (const auto& [k, v] : SealerEnv(c->registry, "", {}, "10.0.0.2"))
    EXPECT_EQ(v.find("s3 cr:et"), std::string::npos) << k;
  // Saved and read back the same.
  auto again = ParseClusterfile(EmitClusterfile(*c), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->registry.local->tls);
  EXPECT_EQ(again->registry.local->password, "s3 cr:et");
  // insecure: true is plain HTTP; absent is TLS (sealer's default).
  auto plain = With("  registry: {localRegistry: {insecure: true}}\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->registry.local->tls);
  EXPECT_TRUE(plain->registry.local->username.empty());
  auto again_plain = ParseClusterfile(EmitClusterfile(*plain), "saved");
  ASSERT_TRUE(again_plain.ok()) << again_plain.status().message();
  EXPECT_FALSE(again_plain->registry.local->tls);
  EXPECT_TRUE(With("  registry: {localRegistry: {}}\n")->registry.local->tls);
}

TEST(RegistrySpec, HaAndSubjectAltName) {
  auto c = With(R"(  registry:
    localRegistry:
      domain: hub.local
      insecure: false
      ha: true
      cert:
        subjectAltName:
          dnsNames: [reg.example.com, '*.hub.example']
          ips: [192.0.2.7, 'fd00::7']
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const RegistryEndpoint& r = *c->registry.local;
  EXPECT_TRUE(r.ha);
  EXPECT_EQ(r.san_dns, (std::vector<std::string>{"reg.example.com", "*.hub.example"}));
  EXPECT_EQ(r.san_ips, (std::vector<std::string>{"192.0.2.7", "fd00::7"}));
  auto again = ParseClusterfile(EmitClusterfile(*c), "saved");
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->registry.local->ha);
  EXPECT_EQ(again->registry.local->san_dns, r.san_dns);
  EXPECT_EQ(again->registry.local->san_ips, r.san_ips);
  // Absent: ha (sealer's default); ha: false a registry on master0 only,
  // and so saved.
  auto plain = With("  registry: {localRegistry: {ha: false}}\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->registry.local->ha);
  EXPECT_FALSE(ParseClusterfile(EmitClusterfile(*plain), "saved")->registry.local->ha);
  EXPECT_TRUE(With("  registry: {localRegistry: {}}\n")->registry.local->ha);
  EXPECT_TRUE(With("  registry: {localRegistry: {cert: {}}}\n").ok());
  // Bad names, with the line of the entry.
  auto bad = With(R"(  registry:
    localRegistry:
      insecure: false
      cert:
        subjectAltName:
          dnsNames: [ok.example]
          ips:
            - 192.0.2.7
            - 192.0.2.300
)");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "Clusterfile:16: spec.registry.localRegistry.cert.subjectAltName.ips: \"192.0.2.300\" "
            "is not an IPv4 or IPv6 address");
  bad = With(R"(  registry:
    localRegistry:
      insecure: false
      cert: {subjectAltName: {dnsNames: [ok.example, bad_name]}}
)");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind(
                "Clusterfile:11: spec.registry.localRegistry.cert.subjectAltName.dnsNames: "
                "\"bad_name\" is not a DNS name", 0),
            0u)
      << bad.status().message();
}

TEST(RegistrySpec, SealersClusterChecks) {
  std::string text = kBase;
  text.replace(text.find("10.96.0.0/22"), 12, "10.96.0.0/29");
  auto c = ParseClusterfile(text, "Clusterfile");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "Clusterfile:6: spec.env: SvcCIDR \"10.96.0.0/29\" is not a network with 10 addresses");
  text = kBase;
  text.replace(text.find("[10.0.0.2]"), 10, "[10.0.0.2, 'fd00::2']");
  c = ParseClusterfile(text, "Clusterfile");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "Clusterfile:7: host fd00::2 and host 10.0.0.2 are of different IP families (sealer needs one)");
  EXPECT_EQ(SealerEnv({}, "", {}, "fd00::2").at("HostIPFamily"), "ipv6");
  EXPECT_EQ(SealerEnv({}, "", {}, "10.0.0.2").count("HostIPFamily"), 0u);
}

TEST(RegistrySpec, RefusedWithTheReason) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"  registry: {localRegistry: {ha: yes please}}\n", "spec.registry.localRegistry.ha"},
      {"  registry: {localRegistry: {cert: {key: k}}}\n", "unknown field spec.registry.localRegistry.cert.key"},
      {"  registry: {localRegistry: {cert: {subjectAltName: {uris: [x]}}}}\n",
       "unknown field spec.registry.localRegistry.cert.subjectAltName.uris"},
      {"  registry: {localRegistry: {insecure: true, cert: {subjectAltName: {dnsNames: [a.b]}}}}\n",
       "Clusterfile:8: spec.registry.localRegistry.cert: a certificate needs TLS: drop insecure: true"},
      {"  registry: {localRegistry: {username: u}}\n", "give both username and password, or neither"},
      {"  registry: {localRegistry: {password: p}}\n", "give both username and password, or neither"},
      {"  registry: {localRegistry: {username: 'a:b', password: p}}\n", "without ':'"},
      {"  registry: {localRegistry: {username: u, password: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}}\n",
       "longer than 72 bytes"},
      {"  registry: {externalRegistry: {domain: r, username: u, password: p}}\n",
       "credentials of an external registry are not supported"},
      {"  registry: {localRegistry: {portt: 1}}\n", "unknown field spec.registry.localRegistry.portt"},
      {"  registry: {externalRegistry: {port: 1}}\n", "spec.registry.externalRegistry.domain is required"},
      {"  containerRuntime: {type: docker, version: 1}\n", "unknown field spec.containerRuntime.version"},
      {"  hostAliases: []\n", "spec.hostAliases is not supported"},
  };
  for (const auto& [extra, want] : cases) {
    auto c = With(extra);
    ASSERT_FALSE(c.ok()) << extra;
    EXPECT_NE(c.status().message().find(want), std::string::npos) << c.status().message();
  }
}

}  // namespace
}  // namespace cfs::deploy
