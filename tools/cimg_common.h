// Helpers shared by the cimg command files: the store, errors, progress and
// registry flags. Included by tools/cimg*.cc only.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "registry/auth.h"
#include "registry/client.h"
#include "registry/pull.h"
#include "registry/reference.h"
#include "registry/sigstore_key.h"
#include "store/store.h"
#include "tools/image_list.h"
#include "tools/progress.h"
#include "tools/version.h"

namespace cimg {

using cfs::Status;


struct Global {
  std::string root;
  int threads = 0;
};

inline cfs::Result<std::unique_ptr<cfs::Store>> OpenStore(const Global& g) {
  cfs::StoreOptions o;
  o.root = g.root;
  o.threads = g.threads;
  if (const char* lvl = std::getenv("CIMG_ZSTD_LEVEL")) o.compression_level = std::atoi(lvl);
  return cfs::Store::Open(o);
}

[[noreturn]] inline void Fail(const Status& s) {
  std::fprintf(stderr, "cimg: %s\n", s.message().c_str());
  std::exit(1);
}

template <typename T>
T Must(cfs::Result<T> r) {
  if (!r.ok()) Fail(r.status());
  return std::move(r).value();
}
inline void Must(const Status& s) {
  if (!s.ok()) Fail(s);
}

// Registry flags shared by pull, push and login (skopeo/podman spelling).
struct RegistryFlags {
  bool tls_verify = true;
  std::string cert_dir, creds, authfile;
  int parallel = 3;

  void Add(CLI::App* c, bool with_creds = true) {
    c->add_option("--tls-verify", tls_verify,
                  "Require HTTPS and verify certificates (default true; false allows plain http)")
        ->default_str("true");
    c->add_option("--cert-dir", cert_dir, "Directory with the registry's CA (*.crt) and client cert (*.cert, *.key)");
    c->add_option("--authfile", authfile, "Auth file (default: $REGISTRY_AUTH_FILE, else docker's config.json with its credHelpers/credsStore, then podman's auth.json)");
    if (with_creds) c->add_option("--creds", creds, "USER[:PASSWORD] for the registry (instead of the auth file)");
  }
  cfs::registry::ClientOptions Options() const {
    cfs::registry::ClientOptions o;
    o.tls_verify = tls_verify;
    o.cert_dir = cert_dir;
    o.auth_file = authfile;
    if (!creds.empty()) o.creds = cfs::registry::Credentials::Parse(creds);
    return o;
  }
  std::shared_ptr<cfs::registry::Client> Connect(const std::string& registry) const {
    auto c = Must(cfs::registry::Client::Create(registry, Options()));
    return std::shared_ptr<cfs::registry::Client>(std::move(c));
  }
  // A pull with these flags (PullFromSource makes the client).
  cfs::registry::PullFromRegistryOptions Pull(cfs::PullOptions pull) const {
    cfs::registry::PullFromRegistryOptions po;
    po.client_options = Options();
    po.parallel = parallel;
    po.pull = std::move(pull);
    // registries.conf: the endpoints that failed and the one that served.
    po.log = [](const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); };
    return po;
  }
};

// Signing flags of push and sign (cimg_sign.cc).
struct SignFlags {
  std::string key, passphrase_file, identity;
  void Add(CLI::App* c);
};
// f's key, decrypted with its passphrase (before any work: a wrong
// passphrase costs nothing).
cfs::Result<cfs::registry::sigstore::PrivateKey> LoadSigningKey(const SignFlags& f);
// Signs manifest `manifest` of ref's repository with key, as ref (or
// f.identity), and stores the signature there (sigstore attachments).
Status SignInRegistry(const SignFlags& f, const cfs::registry::sigstore::PrivateKey& key,
                      cfs::registry::Client& client, const cfs::registry::Reference& ref,
                      const cfs::Digest& manifest);

// cimg push of an image list (and cimg manifest push): each child, then the
// index, to a registry (cimg_images.cc). quiet: no summary line.
void PushList(cfs::Store& store, const cfs::ImageListDetails& list, const std::string& dest,
              const cfs::PushOptions& o, const RegistryFlags& reg, const std::string& digestfile,
              bool quiet);

// The command groups of cimg, each in its own file (tools/cimg_*.cc). Flags
// live as long as the process (static).
// (with cimg manifest)
void AddImageCommands(CLI::App& app, const Global& g, const bool& quiet);  // cimg_images.cc
void AddBuildCommands(CLI::App& app, const Global& g, const bool& quiet);  // cimg_build.cc
void AddLoginCommands(CLI::App& app, const Global& g, const bool& quiet);  // cimg_login.cc
void AddGcFsckCommands(CLI::App& app, const Global& g, const bool& quiet);  // cimg_store.cc
void AddDeployCommands(CLI::App& app, const Global& g, const bool& quiet);  // cimg_deploy.cc
void AddUpgradeCommands(CLI::App& app, const Global& g, const bool& quiet); // cimg_upgrade.cc (by AddDeployCommands)
void AddExecCommands(CLI::App& app, const Global& g, const bool& quiet);    // cimg_exec.cc
void AddSignCommands(CLI::App& app);                                         // cimg_sign.cc
void AddVersionCommand(CLI::App& app);                                       // cimg_version.cc
void AddBrowseCommands(CLI::App& app, const Global& g, const bool& quiet);  // cimg_browse.cc
// `cimg inspect docker://REF`: the JSON of a registry image (manifest and
// config only), or with raw the manifest as served, in *raw_bytes (cimg_browse.cc).
nlohmann::json RemoteInspectJson(const std::string& name, const RegistryFlags& reg,
                                 const std::string& platform, bool raw, std::string* raw_bytes);
void AddProfileCommands(CLI::App& app, const Global& g, const bool& quiet); // cimg_profile.cc
void AddClustersCommand(CLI::App& app, const Global& g);                     // cimg_clusters.cc
void AddCompletionCommand(CLI::App& app);                                    // cimg_completion.cc
void AddSbomCommand(CLI::App& app, const Global& g);                         // cimg_sbom.cc
// Makes image's SBOM in format ("spdx-json", "cyclonedx-json") and keeps it
// with the image as an OCI artifact (cimg build --sbom; cimg_sbom.cc).
Status AttachSbom(cfs::Store& store, const std::string& image, const std::string& format);
void AddManifestCommands(CLI::App& app, const Global& g, const bool& quiet); // cimg_manifest.cc
// This binary's version report, with the deploy libraries (cimg_version.cc).
VersionInfo CimgVersion();

}  // namespace cimg
