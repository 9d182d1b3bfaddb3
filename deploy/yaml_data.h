// YAML data as sealer's Config documents and kubeadm documents treat it (Go
// maps decoded by yaml.v2/v3 and sigs.k8s.io/yaml): scalars resolved to
// types, maps written back with sorted keys, JSON conversion, and mergo's
// deep merge. Private to deploy/.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "base/status.h"

namespace cfs::deploy {

// Parses one YAML document; an empty text is a null node. `what` names errors.
Result<YAML::Node> LoadYaml(const std::string& text, const std::string& what);

// Block-style YAML of n, map keys sorted (as Go's encoders write maps),
// `indent` spaces per level (yaml.v3: 4, list items indented too;
// sigs.k8s.io/yaml via yaml.v2: 2, list items at their key's column). A quoted
// scalar that would read back as another type (123, true, null) stays quoted.
std::string EmitSortedYaml(const YAML::Node& n, int indent);

// Compact JSON of n, object keys sorted, scalars typed as YAML 1.1 resolves
// plain scalars (null ~, true/false/yes/no/on/off, integers, floats); quoted
// scalars are strings (sigs.k8s.io/yaml YAMLToJSON).
Result<std::string> YamlToJson(const YAML::Node& n);

// The text of a scalar node, or "" for null (sigs.k8s.io/yaml decoding a
// scalar into a Go string); kInvalidArgument for maps and lists.
Result<std::string> ScalarString(const YAML::Node& n, const std::string& what);

// mergo.Merge(&dst, src, WithOverride) on decoded YAML maps: a map in src
// merges key by key into a map in dst; anything else in src replaces dst's.
void DeepMergeOverride(YAML::Node dst, const YAML::Node& src);

// mergo.Merge(&dst, src) without override: dst keeps every value it has that
// is not empty; maps merge key by key; src fills the rest.
void DeepMergeFill(YAML::Node dst, const YAML::Node& src);

}  // namespace cfs::deploy
