// What one host's rootfs should hold, what it already holds, and the stream
// that takes it from one to the other.
//
// The merged rootfs comes straight from the store (LayerStack over the
// image's layer TOCs, file data from the chunk store), with templates
// rendered for the host: every regular file under statics/ in place, and
// every *.tmpl under etc/, charts/ and manifests/ into the same path without
// ".tmpl", and, as sealer renders an application's files with its env,
// every *.tmpl under application/apps/NAME/ of an app given in `app_env`
// (the host's env with the app's over it). Rendering is Go's text/template
// with sprig's functions (template/template.h) over that env, a map of
// strings: `{{ .KEY }}`, if/range/with, pipelines such as `{{ .X | b64enc }}`.
// An unset KEY, an unknown function or bad syntax is an error naming
// FILE:LINE:COL; nothing is ever half rendered.
//
// The host record (/var/lib/cimg/<cluster>/files.gz on the host) lists what
// the last successful transfer left there, one line per path:
//   <fingerprint: 32 hex> <type: f d l h c b p> <path, "\" and newline escaped>
// The fingerprint covers type, mode, owner, mtime, link target, device,
// xattrs and content (the chunk digests, or the rendered bytes), so a
// re-deploy sends exactly the paths whose fingerprint differs and deletes
// the paths that are gone (or changed type).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "layer/chunk_source.h"
#include "layer/layer_stack.h"
#include "base/status.h"

namespace cfs::deploy {

struct RootfsEntry {
  std::string path;      // relative, "" never (the root is not listed)
  LayerStack::Ref ref;   // metadata (and data, after ResolveHardlink)
  int rendered = -1;     // index into RootfsPlan::rendered, or -1
  int perm = -1;         // permission bits instead of ref's (a file the plan adds: 0644)
  char type = 'f';
  uint64_t size = 0;     // file data bytes (regular files)
  std::string fingerprint;
};

struct RootfsPlan {
  std::vector<RootfsEntry> entries;  // parents before children
  std::vector<std::string> rendered; // rendered contents
  uint64_t bytes = 0;                // file data bytes in total
};

// Files whose contents replace the image's, or are added (with 0755
// parent directories and mode 0644, owner root), before templates are
// rendered: rootfs-relative path -> contents (the Clusterfile's Config
// documents, deploy/config_docs.h).
using FileOverrides = std::map<std::string, std::string>;

// Filters of a file's final contents, after templates are rendered: path ->
// the new contents given the old (nullopt when the image lacks the file,
// which is then added as overrides are). The Clusterfile's kubeadm
// documents and its Application documents' files (deploy/launch_plan.h).
using FileFilter =
    std::function<Result<std::string>(const std::optional<std::string>& contents)>;
using FileFilters = std::map<std::string, FileFilter>;

// app name -> the env its application/apps/NAME/*.tmpl files are rendered
// with, over the host's (deploy/app_launch.h AppTemplateEnvs).
using AppEnvs = std::map<std::string, std::map<std::string, std::string>>;

// What the Clusterfile and the image's apps add to a host's plan.
struct PlanExtras {
  FileOverrides overrides;  // Config documents
  FileFilters filters;      // kubeadm documents, Application files
  AppEnvs app_env;          // the apps' template envs
};

// Builds the plan for one host. `env` renders templates; with
// `with_registry` false, registry/ is left out (nodes). An override of a
// path that is not a regular file in the image (or below one that is not a
// directory) is kInvalidArgument naming it.
Result<RootfsPlan> PlanRootfs(const LayerStack& stack, ChunkSource& chunks,
                              const std::map<std::string, std::string>& env, bool with_registry,
                              const PlanExtras& extras = {});

// The contents of the regular file (or hard link to one) at `path` in the
// merged rootfs; nullopt when nothing is there; kInvalidArgument when it is
// another type.
Result<std::optional<std::string>> ReadRootfsFile(const LayerStack& stack, ChunkSource& chunks,
                                                  const std::string& path);

// The host record of a plan (uncompressed), and a parsed one: path → (fp, type).
std::string EncodeRecord(const RootfsPlan& plan);
using Record = std::map<std::string, std::pair<std::string, char>>;
Result<Record> DecodeRecord(const std::string& data);

// What to do on a host that holds `old`.
struct RootfsDelta {
  std::vector<size_t> send;          // indices into plan.entries
  std::vector<std::string> remove;   // paths to delete first (gone or type changed)
  uint64_t send_bytes = 0;           // file data bytes among `send`
};
RootfsDelta ComputeDelta(const RootfsPlan& plan, const Record& old);

// Writes the entries `send` of `plan` as a compressed tar ("zstd" or "gzip")
// to every fd of `fds` (the same bytes to each: one stream read and
// compressed once for several hosts), then closes them. An fd that fails
// (its reader went away) is closed and dropped; the call fails only when
// none is left or the data cannot be read. Every chunk is verified as it is
// read.
// `done` (optional) counts the file data bytes written so far.
Status WriteRootfsTar(const LayerStack& stack, ChunkSource& chunks, const RootfsPlan& plan,
                      const std::vector<size_t>& send, const std::string& compression,
                      const std::vector<int>& fds, std::atomic<uint64_t>* done = nullptr);

// gzip / gunzip in memory (the record on the host is gzip, readable there).
std::string Gzip(const std::string& data);
Result<std::string> Gunzip(const std::string& data);

}  // namespace cfs::deploy
