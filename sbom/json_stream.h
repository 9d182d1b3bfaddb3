// Writes a JSON array element by element (each a compact JSON value on its
// own line), so a document with a million files is never one string.
// Private to sbom/.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/io.h"
#include "base/status.h"

namespace cfs::sbom {

class JsonArrayStream {
 public:
  // Writes `"key":[` (after a ',' unless first_member).
  JsonArrayStream(ByteSink& out, const char* key, bool first_member = false) : out_(out) {
    status_ = out_.Write(std::string(first_member ? "" : ",\n") + "\"" + key + "\":[");
  }
  void Add(const nlohmann::json& v) {
    if (!status_.ok()) return;
    status_ = out_.Write((first_ ? "\n" : ",\n") + v.dump());
    first_ = false;
  }
  // Writes "]"; the first error of any write.
  Status Close() {
    if (status_.ok()) status_ = out_.Write("\n]");
    return status_;
  }

 private:
  ByteSink& out_;
  Status status_;
  bool first_ = true;
};

// `{...` of an object without its closing brace, to append members to.
inline std::string OpenObject(const nlohmann::json& head) {
  std::string s = head.dump();
  s.pop_back();
  return s;
}

}  // namespace cfs::sbom
