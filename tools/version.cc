#include "tools/version.h"

#include <archive.h>
#include <curl/curl.h>
#include <fuse3/fuse.h>
#include <openssl/crypto.h>
#include <rocksdb/version.h>
#include <zstd.h>

#include <cstdio>

#include "tools/version_config.h"

namespace cimg {

namespace {

// "libarchive 3.6.2" -> "3.6.2".
std::string AfterSpace(const char* s) {
  std::string v = s ? s : "";
  auto sp = v.rfind(' ');
  return sp == std::string::npos ? v : v.substr(sp + 1);
}

}  // namespace

VersionInfo CurrentVersion(std::vector<LibraryVersion> extra) {
  VersionInfo v;
  v.version = CFS_VERSION;
  v.commit = CFS_GIT_COMMIT;
  v.build_type = CFS_BUILD_TYPE;
  v.libraries = {
      {"libfuse3", fuse_pkgversion()},
      {"RocksDB", rocksdb::GetRocksVersionAsString(true)},
      {"zstd", ZSTD_versionString()},
      {"libarchive", AfterSpace(archive_version_string())},
      {"libcurl", curl_version_info(CURLVERSION_NOW)->version},
      {"OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING)},
  };
  for (auto& l : extra) v.libraries.push_back(std::move(l));
  return v;
}

std::string VersionLine(const std::string& program, const VersionInfo& v) {
  return program + " version " + v.version + " (commit " + v.commit + ")";
}

std::string VersionText(const VersionInfo& v) {
  std::string out = "Version:     " + v.version + "\nGit Commit:  " + v.commit +
                    "\nBuild Type:  " + v.build_type + "\nLibraries:\n";
  for (const auto& l : v.libraries) {
    char line[128];
    std::snprintf(line, sizeof line, "  %-12s %s%s\n", l.name.c_str(), l.version.c_str(),
                  l.runtime ? "" : " (build)");
    out += line;
  }
  return out;
}

nlohmann::json VersionJson(const VersionInfo& v) {
  nlohmann::json libs = nlohmann::json::object();
  for (const auto& l : v.libraries) libs[l.name] = l.version + (l.runtime ? "" : " (build)");
  return {{"Version", v.version},
          {"GitCommit", v.commit},
          {"BuildType", v.build_type},
          {"Libraries", libs}};
}

}  // namespace cimg
