// What `cimg version` and `clusterfs --version` print: the version and git
// commit the build was configured with, its build type, and the versions of
// the libraries linked. Part of cfs_tools (tools/CMakeLists.txt).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cimg {

struct LibraryVersion {
  std::string name;     // "libfuse3", "RocksDB", ...
  std::string version;  // "3.14.0"
  bool runtime = true;  // from the library's own version function, else the headers built against
};

struct VersionInfo {
  std::string version;     // CMake's project VERSION
  std::string commit;      // `git rev-parse --short=12 HEAD` at configure time, else "unknown"
  std::string build_type;  // CMAKE_BUILD_TYPE
  std::vector<LibraryVersion> libraries;
};

// This binary's, with the libraries every tool links (libfuse3, RocksDB,
// zstd, libarchive, libcurl, OpenSSL) followed by `extra`.
VersionInfo CurrentVersion(std::vector<LibraryVersion> extra = {});

// "NAME version 0.1.0 (commit 1a2b3c4d5e6f)": the --version line.
std::string VersionLine(const std::string& program, const VersionInfo& v);
// The `version` listing: one "Key: value" line each, then the libraries.
std::string VersionText(const VersionInfo& v);
// {"Version", "GitCommit", "BuildType", "Libraries": {name: version}}; a
// library known only from its headers is "VERSION (build)".
nlohmann::json VersionJson(const VersionInfo& v);

}  // namespace cimg
