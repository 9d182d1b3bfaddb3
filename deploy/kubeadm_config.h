// kubeadm configuration documents in a Clusterfile (sealer
// pkg/runtime/kubernetes/kubeadm/kubeadm_config.go): InitConfiguration,
// ClusterConfiguration, JoinConfiguration (kubeadm.k8s.io/v1beta1-3),
// KubeletConfiguration (kubelet.config.k8s.io/v1beta1) and
// KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) are merged into
// the image's etc/kubeadm.yml (after its template is rendered) as sealer
// merges them (mergo.Merge without override): a Clusterfile value wins;
// fields it leaves empty (absent, "", 0, false, empty lists and maps) come
// from the image's document of the same kind; maps merge key by key;
// ClusterConfiguration apiServer.certSANs is the union of both (the
// Clusterfile's first). A kind the image's file lacks is added; the image's
// apiVersion is kept. Without an etc/kubeadm.yml in the image the documents
// alone become it. Fields are not checked here: kubeadm checks them.
// cimg joins nodes with the command `kubeadm token create` prints, so a
// JoinConfiguration lands in the file but kubeadm join does not read it.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace cfs::deploy {

struct KubeadmDoc {
  std::string kind;         // InitConfiguration, ...
  std::string api_version;  // as given
  std::string yaml;         // the whole document
};

// The kinds above, and the apiVersions each is accepted with.
bool IsKubeadmKind(const std::string& kind);
bool KubeadmApiVersionOk(const std::string& kind, const std::string& api_version);
std::string KubeadmApiVersions(const std::string& kind);  // for errors

// The image's kubeadm config (YAML documents) with `docs` merged in.
Result<std::string> MergeKubeadmConfig(const std::string& image_yaml,
                                       const std::vector<KubeadmDoc>& docs);

}  // namespace cfs::deploy
