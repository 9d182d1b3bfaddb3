// `kind: Config` documents of a Clusterfile (sealer pkg/config): files
// written into the rootfs before it is sent, before templates are rendered.
//
//   apiVersion: sealer.io/v2
//   kind: Config
//   metadata: {name: mysql-config}
//   spec:
//     path: etc/mysql.yaml       # relative to the rootfs (a leading / too)
//     appName: mysql             # optional: the path is under application/apps/mysql/
//     strategy: merge            # "merge" (YAML files) or anything else: overwrite
//     process: value|toJson      # optional, processors joined by "|"
//     data: |
//       user: root
//
// What sealer does, and so cimg:
// - process, in the order given: `value` makes the later processors work on
//   each top-level value of data (a YAML map) instead of on the whole text;
//   `toJson` turns data (or each value) into compact JSON, `toBase64` into
//   base64; `toSecret` is used when writing (below). cimg refuses unknown
//   processors (sealer logs a warning and skips them).
// - when the target does not exist, it is created holding data;
// - when it exists: with toSecret it must be a Secret manifest, and each key
//   of data (a map of strings) is set in its `data` base64-encoded; then with
//   strategy merge each YAML document of the file ("---\n"-separated) is
//   deep-merged with data (data wins; maps merge, lists are replaced);
//   otherwise the file is replaced by data.
// Written YAML has sorted keys (as Go writes maps): 4-space indents after a
// merge, 2 after toSecret.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace cfs::deploy {

struct ConfigDoc {
  std::string name;      // metadata.name
  std::string path;      // spec.path, required
  std::string app_name;  // spec.appName
  std::string strategy;  // spec.strategy: "merge", else overwrite
  std::string process;   // spec.process: "value|toJson|toBase64|toSecret"
  std::string data;      // spec.data, required
};

// The processors of `process`; kInvalidArgument naming an unknown one.
Result<std::vector<std::string>> ConfigProcessors(const std::string& process);

// spec.data after the value/toJson/toBase64 processors.
Result<std::string> ProcessConfigData(const ConfigDoc& c);

// The rootfs-relative path c writes: application/apps/<appName>/<path> or
// <path>, cleaned ("." and empty parts dropped, a leading "/" too);
// kInvalidArgument when it climbs out with "..".
Result<std::string> ConfigTarget(const ConfigDoc& c);

// data (a YAML map) deep-merged into each "---\n"-separated YAML document
// of `existing` (data wins; maps merge, lists are replaced), written with
// sorted keys and 4-space indents (sealer's getMergeConfigData and the
// Application files' merge: mergo WithOverride, yaml.v3).
Result<std::string> MergeYamlDocuments(const std::string& existing, const std::string& data);

// The new contents of c's target, which holds `existing` (nullopt: absent).
Result<std::string> ApplyConfig(const ConfigDoc& c, const std::optional<std::string>& existing);

// The files the configs write, target path -> contents, each config applied
// in order to what the one before left (`read` gives a file of the image:
// nullopt when the image has no regular file there; an error when the path
// is something else).
using ReadImageFile =
    std::function<Result<std::optional<std::string>>(const std::string& path)>;
Result<std::map<std::string, std::string>> ConfigFiles(const std::vector<ConfigDoc>& configs,
                                                       const ReadImageFile& read);

}  // namespace cfs::deploy
