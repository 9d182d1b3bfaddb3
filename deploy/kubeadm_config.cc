#include "deploy/kubeadm_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "deploy/yaml_data.h"

namespace cfs::deploy {

namespace {

std::vector<std::string> ApiVersions(const std::string& kind) {
  if (kind == "InitConfiguration" || kind == "ClusterConfiguration" ||
      kind == "JoinConfiguration")
    return {"kubeadm.k8s.io/v1beta1", "kubeadm.k8s.io/v1beta2", "kubeadm.k8s.io/v1beta3"};
  if (kind == "KubeletConfiguration") return {"kubelet.config.k8s.io/v1beta1"};
  if (kind == "KubeProxyConfiguration") return {"kubeproxy.config.k8s.io/v1alpha1"};
  return {};
}

std::string KindOf(const YAML::Node& doc) {
  return doc.IsMap() && doc["kind"] && doc["kind"].IsScalar() ? doc["kind"].Scalar() : "";
}

// apiServer.certSANs: the Clusterfile's, then the image's, each once.
void UnionCertSans(YAML::Node merged, const YAML::Node& image) {
  const YAML::Node& cm = merged;
  if (!image["apiServer"] || !image["apiServer"]["certSANs"] || !cm["apiServer"] ||
      !cm["apiServer"]["certSANs"])
    return;
  std::vector<std::string> sans;
  for (const YAML::Node& list : {cm["apiServer"]["certSANs"], image["apiServer"]["certSANs"]})
    for (const auto& s : list)
      if (s.IsScalar() && std::find(sans.begin(), sans.end(), s.Scalar()) == sans.end())
        sans.push_back(s.Scalar());
  merged["apiServer"]["certSANs"] = sans;
}

}  // namespace

bool IsKubeadmKind(const std::string& kind) { return !ApiVersions(kind).empty(); }

bool KubeadmApiVersionOk(const std::string& kind, const std::string& api) {
  auto ok = ApiVersions(kind);
  return std::find(ok.begin(), ok.end(), api) != ok.end();
}

std::string KubeadmApiVersions(const std::string& kind) {
  std::string out;
  for (const auto& a : ApiVersions(kind)) out += (out.empty() ? "" : ", ") + a;
  return out;
}

Result<std::string> MergeKubeadmConfig(const std::string& image_yaml,
                                       const std::vector<KubeadmDoc>& docs) {
  std::vector<YAML::Node> image;
  try {
    image = YAML::LoadAll(image_yaml);
  } catch (const YAML::Exception& e) {
    return Status::Invalid("etc/kubeadm.yml:" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  std::vector<YAML::Node> out;
  for (const auto& d : image)
    if (!d.IsNull()) out.push_back(d);
  for (const auto& doc : docs) {
    ASSIGN_OR_RETURN(YAML::Node mine, LoadYaml(doc.yaml, "kind " + doc.kind));
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const YAML::Node& d) { return KindOf(d) == doc.kind; });
    if (same == out.end()) {
      out.push_back(mine);
      continue;
    }
    YAML::Node merged = YAML::Clone(mine);
    DeepMergeFill(merged, *same);
    if (doc.kind == "ClusterConfiguration") UnionCertSans(merged, *same);
    if ((*same)["apiVersion"]) merged["apiVersion"] = YAML::Clone((*same)["apiVersion"]);
    *same = merged;
  }
  std::string text;
  for (size_t i = 0; i < out.size(); i++)
    text += (i ? "---\n" : "") + EmitSortedYaml(out[i], 2);
  return text;
}

}  // namespace cfs::deploy
