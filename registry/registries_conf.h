// registries.conf as podman, skopeo and buildah read it (the version 2
// format of containers-registries.conf(5)): where an image name is pulled
// from (mirrors, location rewrites), which names are refused (blocked),
// which registries may be plain http (insecure), and how a short name
// ("nginx", "team/app") becomes a full one (aliases, unqualified-search
// registries, short-name-mode).
//
// Files, in the order they are merged (RegistriesConfFiles):
//   $CONTAINERS_REGISTRIES_CONF alone when set (one file, no drop-ins);
//   else $HOME/.config/containers/registries.conf when it exists, followed by
//   $HOME/.config/containers/registries.conf.d/*.conf; else
//   /etc/containers/registries.conf, then /etc/containers/registries.conf.d/*.conf,
//   then $HOME/.config/containers/registries.conf.d/*.conf (each directory's
//   files in name order).
// A later file replaces a [[registry]] of the same prefix as a whole, and
// unqualified-search-registries or short-name-mode when it sets them; its
// [aliases] are added one by one (an empty value removes the alias). The
// aliases of the short-name cache (/var/cache/containers/short-name-aliases.conf
// for root, else ${XDG_CACHE_HOME:-$HOME/.cache}/containers/short-name-aliases.conf)
// win over those of the configuration.
//
// The version 1 format ([registries.search] ...) is refused by name.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "registry/reference.h"

namespace cfs::registry {

// Which pulls may use a mirror (pull-from-mirror).
enum class MirrorUse { kAll, kDigestOnly, kTagOnly };

// One place an image may be read from: "HOST[:PORT][/NAMESPACE...]".
struct RegistryEndpoint {
  std::string location;
  bool insecure = false;  // plain http and unverified TLS allowed
  MirrorUse use = MirrorUse::kAll;  // mirrors only
};

// One [[registry]] table.
struct RegistryEntry {
  // "HOST[:PORT][/NS...][/REPO][:TAG|@DIGEST]" or "*.DOMAIN"; defaults to
  // the location.
  std::string prefix;
  RegistryEndpoint primary;  // location "" only for a "*." prefix: no rewrite
  std::vector<RegistryEndpoint> mirrors;  // tried in this order, before primary
  bool blocked = false;
  bool mirror_by_digest_only = false;
  std::string file;  // where it was defined, for messages
};

enum class ShortNameMode { kEnforcing, kPermissive, kDisabled };

// One place to try a pull: the name to ask `endpoint` for.
struct PullSource {
  Reference remote;  // rewritten to the endpoint's location
  bool insecure = false;
  bool mirror = false;
  // "mirror 127.0.0.1:5000" or "127.0.0.1:5000/lib" (the primary location):
  // what a log line says served the pull.
  std::string Describe() const;
};

class RegistriesConf {
 public:
  // The merged configuration of the files RegistriesConfFiles names, plus
  // the short-name cache. A missing file is skipped; a malformed one is
  // Invalid with "FILE:LINE: reason". $CONTAINERS_REGISTRIES_CONF naming a
  // missing file is NotFound.
  static Result<RegistriesConf> LoadDefault();

  // Merges one file's text (a drop-in over what is loaded so far). name is
  // the file for messages. Invalid "NAME:LINE: reason" on a TOML error or a
  // refused setting (the line of its table when the setting has none).
  Status Merge(std::string_view text, const std::string& name);
  // Reads and merges a file; a missing one is skipped (false).
  Result<bool> MergeFile(const std::string& path);
  // Aliases of a short-name cache file (they win over every [aliases]).
  Status MergeAliasCache(std::string_view text, const std::string& name);

  // True once some file was read: without any, short names mean docker.io
  // as they do for docker.
  bool any_file() const { return !files_.empty(); }
  const std::vector<std::string>& files() const { return files_; }
  const std::vector<RegistryEntry>& registries() const { return registries_; }
  const std::vector<std::string>& search_registries() const { return search_; }
  ShortNameMode short_name_mode() const { return mode_.value_or(ShortNameMode::kPermissive); }

  // The [[registry]] whose prefix is the longest match of ref ("*.DOMAIN"
  // matches HOST ending in .DOMAIN, and counts its own length); null when
  // none matches.
  const RegistryEntry* Find(const Reference& ref) const;

  // Where to pull ref from, in order: the mirrors its pull-from-mirror (or
  // mirror-by-digest-only) allows, then the primary location. Denied naming
  // the file and prefix when the entry is blocked. Without an entry: ref
  // itself.
  Result<std::vector<PullSource>> PullSources(const Reference& ref) const;

  // The full names to try for a name a user typed, in order. A qualified
  // name (first component with '.' or ':', or "localhost") is itself. A short
  // name: its alias (tag and digest carried over); else one candidate per
  // unqualified-search registry -- with more than one under
  // short-name-mode = enforcing, Invalid listing them (there is no prompt);
  // none is Invalid naming the file. Without any configuration file: the
  // docker.io name, as docker resolves it.
  Result<std::vector<Reference>> Resolve(std::string_view name) const;

 private:
  std::vector<RegistryEntry> registries_;  // sorted by prefix, unique
  std::vector<std::string> search_;
  std::string search_origin_;
  std::optional<ShortNameMode> mode_;
  std::map<std::string, std::string> aliases_;        // short name -> full, no tag
  std::map<std::string, std::string> alias_origin_;   // short name -> file
  std::vector<std::string> files_;
};

// The registries.conf files LoadDefault reads, in merge order (present or
// not), and the short-name cache file.
struct RegistriesConfPaths {
  std::vector<std::string> files;
  std::vector<std::string> dirs;  // each one's *.conf in name order, after files
  std::string alias_cache;
  bool required = false;  // files[0] came from $CONTAINERS_REGISTRIES_CONF
};
RegistriesConfPaths RegistriesConfFiles();

// True when name (without "docker://") has no registry host: "nginx",
// "team/app:1", but not "quay.io/x", "localhost/x", "host:5000/x".
bool IsShortName(std::string_view name);

}  // namespace cfs::registry
