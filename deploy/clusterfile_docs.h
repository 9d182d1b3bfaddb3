// The parsers of the Clusterfile kinds beside Cluster and Plugin (private to
// deploy/; ParseClusterfile calls them). Every error is "FILE:LINE: reason".
#pragma once

#include <yaml-cpp/yaml.h>

#include "deploy/clusterfile.h"
#include "deploy/yaml_fields.h"

namespace cfs::deploy {

// kind: Config (deploy/config_docs.h).
Result<ConfigDoc> ParseConfigDoc(const YamlFields& f, const YAML::Node& doc);

// kind: Application (deploy/application_doc.h).
Result<ApplicationDoc> ParseApplicationDoc(const YamlFields& f, const YAML::Node& doc);

// spec.registry and spec.containerRuntime of the Cluster document
// (deploy/registry_spec.h).
Status ParseRegistry(const YamlFields& f, const YAML::Node& spec, RegistrySpec* r,
                     std::string* container_runtime);

}  // namespace cfs::deploy
