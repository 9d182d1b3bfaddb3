// Reading the fields of a Clusterfile document (private to deploy/): every
// error is "FILE:LINE: reason", LINE the 1-based line of the offending node.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <string>
#include <vector>

#include "base/status.h"

namespace cfs::deploy {

class YamlFields {
 public:
  explicit YamlFields(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }

  // kInvalidArgument "FILE:LINE: why", LINE that of n (1 when n is undefined).
  Status Err(const YAML::Node& n, const std::string& why) const;

  // `map` is a mapping whose keys are all in `allowed`; else an error
  // "unknown field WHERE.KEY (known: ...)" at the key.
  Status Keys(const YAML::Node& map, const std::string& where,
              std::initializer_list<const char*> allowed) const;

  Result<std::string> Str(const YAML::Node& n, const std::string& what) const;
  // A list of strings; null is the empty list.
  Result<std::vector<std::string>> StrList(const YAML::Node& n, const std::string& what) const;
  // A list of "K=V" entries, K a shell name.
  Result<std::vector<std::string>> EnvList(const YAML::Node& n, const std::string& what) const;
  // "true"/"false" (YAML booleans).
  Result<bool> Bool(const YAML::Node& n, const std::string& what) const;
  // A port number 1-65535 (a number or a string of digits).
  Result<int> Port(const YAML::Node& n, const std::string& what) const;
  // The line of n (1-based; 1 when undefined).
  static int Line(const YAML::Node& n);

 private:
  std::string file_;
};

}  // namespace cfs::deploy
