#include "registry/registries_conf.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <toml++/toml.h>

#include "base/io.h"

namespace cfs::registry {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Home() {
  std::string h = Env("HOME");
  return h.empty() ? "/root" : h;
}

// "FILE:LINE: why" for a node of a parsed file.
Status At(const std::string& file, const toml::node& n, const std::string& why) {
  return Status::Invalid(file + ":" + std::to_string(n.source().begin.line) + ": " + why);
}

// prefix and location values: no URL scheme, no trailing '/'.
Result<std::string> Location(const std::string& file, const toml::node& n, const std::string& key) {
  auto s = n.value<std::string>();
  if (!s) return At(file, n, key + " is not a string");
  std::string v = *s;
  while (!v.empty() && v.back() == '/') v.pop_back();
  if (v.starts_with("http://") || v.starts_with("https://"))
    return At(file, n, key + " \"" + *s + "\": URL schemes are not allowed (write HOST[:PORT][/PATH])");
  return v;
}

// Reads table[key] when present into *out. Invalid when of another type.
Status Bool(const std::string& file, const toml::table& t, const char* key, bool* out) {
  const toml::node* n = t.get(key);
  if (!n) return Status::Ok();
  auto b = n->value<bool>();
  if (!b) return At(file, *n, std::string(key) + " must be true or false");
  *out = *b;
  return Status::Ok();
}

Result<std::string> String(const std::string& file, const toml::table& t, const char* key) {
  const toml::node* n = t.get(key);
  if (!n) return std::string();
  auto s = n->value<std::string>();
  if (!s) return At(file, *n, std::string(key) + " is not a string");
  return *s;
}

Result<RegistryEndpoint> ParseMirror(const std::string& file, const toml::node& n,
                                     const RegistryEntry& reg) {
  const toml::table* t = n.as_table();
  if (!t) return At(file, n, "[[registry.mirror]] is not a table");
  RegistryEndpoint m;
  if (const toml::node* l = t->get("location")) {
    ASSIGN_OR_RETURN(m.location, Location(file, *l, "mirror location"));
  }
  if (m.location.empty()) return At(file, n, "mirror of \"" + reg.prefix + "\" without a location");
  RETURN_IF_ERROR(Bool(file, *t, "insecure", &m.insecure));
  ASSIGN_OR_RETURN(std::string use, String(file, *t, "pull-from-mirror"));
  if (use.empty() || use == "all") {
    m.use = MirrorUse::kAll;
  } else if (use == "digest-only") {
    m.use = MirrorUse::kDigestOnly;
  } else if (use == "tag-only") {
    m.use = MirrorUse::kTagOnly;
  } else {
    return At(file, n, "pull-from-mirror \"" + use + "\" of mirror " + m.location +
                           " (all, digest-only or tag-only)");
  }
  if (!use.empty() && reg.mirror_by_digest_only)
    return At(file, n, "mirror " + m.location + " sets pull-from-mirror while \"" + reg.prefix +
                           "\" sets mirror-by-digest-only (one or the other)");
  return m;
}

Status CheckPrefix(const std::string& file, const toml::node& n, const RegistryEntry& r) {
  if (r.prefix.empty()) return At(file, n, "[[registry]] without prefix nor location");
  if (r.prefix.starts_with("*.")) {
    if (r.prefix.find_first_of("/@:") != std::string::npos)
      return At(file, n, "wildcard prefix \"" + r.prefix + "\" must be *.DOMAIN (no path, port, tag)");
    return Status::Ok();
  }
  if (r.prefix.find('*') != std::string::npos)
    return At(file, n, "prefix \"" + r.prefix + "\": a wildcard is allowed only as a leading \"*.\"");
  if (r.primary.location.empty())
    return At(file, n, "[[registry]] \"" + r.prefix + "\" without a location (only a *.DOMAIN prefix may omit it)");
  return Status::Ok();
}

Result<RegistryEntry> ParseRegistry(const std::string& file, const toml::node& n) {
  const toml::table* t = n.as_table();
  if (!t) return At(file, n, "[[registry]] is not a table");
  RegistryEntry r;
  r.file = file;
  if (const toml::node* l = t->get("location")) {
    ASSIGN_OR_RETURN(r.primary.location, Location(file, *l, "location"));
  }
  if (const toml::node* p = t->get("prefix")) {
    ASSIGN_OR_RETURN(r.prefix, Location(file, *p, "prefix"));
  }
  if (r.prefix.empty()) r.prefix = r.primary.location;
  RETURN_IF_ERROR(CheckPrefix(file, n, r));
  RETURN_IF_ERROR(Bool(file, *t, "insecure", &r.primary.insecure));
  RETURN_IF_ERROR(Bool(file, *t, "blocked", &r.blocked));
  RETURN_IF_ERROR(Bool(file, *t, "mirror-by-digest-only", &r.mirror_by_digest_only));
  if (const toml::node* p = t->get("pull-from-mirror"))
    return At(file, *p, "pull-from-mirror belongs in a [[registry.mirror]], not in \"" + r.prefix + "\"");
  if (const toml::node* ms = t->get("mirror")) {
    const toml::array* a = ms->as_array();
    if (!a) return At(file, *ms, "mirror of \"" + r.prefix + "\" is not an array of tables");
    for (const toml::node& m : *a) {
      ASSIGN_OR_RETURN(RegistryEndpoint e, ParseMirror(file, m, r));
      r.mirrors.push_back(std::move(e));
    }
  }
  return r;
}

// A host[:port] as unqualified-search-registries takes it.
bool ValidSearchRegistry(const std::string& s) {
  auto r = Reference::Parse(s + "/x");
  return r.ok() && r->registry == (s == "index.docker.io" ? "docker.io" : s);
}

// name: a short name without tag or digest. value: "" (removes the alias) or
// a qualified name without tag or digest.
Status CheckAlias(const std::string& file, const toml::node& n, const std::string& name,
                  const std::string& value) {
  if (!IsShortName(name) || name.find_first_of(":@") != std::string::npos ||
      !Reference::Parse(name).ok())
    return At(file, n, "alias \"" + name + "\": not a short name (no registry, tag or digest)");
  if (value.empty()) return Status::Ok();
  auto ref = Reference::Parse(value);
  const auto last_slash = value.rfind('/');
  const bool tagged = value.find(':', last_slash == std::string::npos ? 0 : last_slash) != std::string::npos;
  if (IsShortName(value) || !ref.ok() || tagged || value.find('@') != std::string::npos)
    return At(file, n, "alias \"" + name + "\" = \"" + value +
                           "\": the value must be REGISTRY/REPO without tag or digest");
  return Status::Ok();
}

Result<std::map<std::string, std::string>> ParseAliases(const std::string& file, const toml::table& doc) {
  std::map<std::string, std::string> out;
  const toml::node* n = doc.get("aliases");
  if (!n) return out;
  const toml::table* t = n->as_table();
  if (!t) return At(file, *n, "aliases is not a table");
  for (const auto& [k, v] : *t) {
    auto s = v.value<std::string>();
    if (!s) return At(file, v, "alias \"" + std::string(k.str()) + "\" is not a string");
    RETURN_IF_ERROR(CheckAlias(file, v, std::string(k.str()), *s));
    out[std::string(k.str())] = *s;
  }
  return out;
}

Result<toml::table> ParseToml(std::string_view text, const std::string& name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return Status::Invalid(name + ":" + std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
}

// Length of the part of ref that prefix matches (then followed by the end,
// '/', ':' or '@'), or npos. "*.DOMAIN" matches within the host only.
size_t MatchingPrefix(const std::string& ref, const std::string& prefix) {
  auto boundary = [&](size_t at) {
    return at == ref.size() || ref[at] == '/' || ref[at] == ':' || ref[at] == '@';
  };
  if (prefix.starts_with("*.")) {
    std::string_view dom = std::string_view(prefix).substr(1);  // ".DOMAIN"
    size_t at = ref.find(dom);
    if (at == std::string::npos || ref.substr(0, at).find('/') != std::string::npos) return std::string::npos;
    at += dom.size();
    return boundary(at) ? at : std::string::npos;
  }
  if (!ref.starts_with(prefix) || !boundary(prefix.size())) return std::string::npos;
  return prefix.size();
}

// name split at its tag or digest: ("team/app", ":1.0") or ("app", "@sha256:…").
std::pair<std::string, std::string> SplitSuffix(std::string_view name) {
  size_t cut = name.find('@');
  std::string_view base = name.substr(0, cut);
  size_t slash = base.rfind('/');
  size_t colon = base.find(':', slash == std::string_view::npos ? 0 : slash);
  if (colon != std::string_view::npos) cut = colon;
  if (cut == std::string_view::npos) return {std::string(name), ""};
  return {std::string(name.substr(0, cut)), std::string(name.substr(cut))};
}

}  // namespace

bool IsShortName(std::string_view name) {
  if (name.starts_with("docker://")) name.remove_prefix(9);
  size_t slash = name.find('/');
  if (slash == std::string_view::npos) return true;
  std::string_view first = name.substr(0, slash);
  return first.find_first_of(".:") == std::string_view::npos && first != "localhost";
}

std::string PullSource::Describe() const {
  std::string where = remote.registry;
  return mirror ? "mirror " + where : where;
}

Status RegistriesConf::Merge(std::string_view text, const std::string& name) {
  ASSIGN_OR_RETURN(toml::table doc, ParseToml(text, name));
  if (const toml::node* v1 = doc.get("registries"))
    return At(name, *v1, "the version 1 format ([registries.search] ...) is not supported: use "
                         "unqualified-search-registries and [[registry]] tables");
  std::vector<RegistryEntry> regs;
  if (const toml::node* rs = doc.get("registry")) {
    const toml::array* a = rs->as_array();
    if (!a) return At(name, *rs, "registry must be an array of tables ([[registry]])");
    for (const toml::node& n : *a) {
      ASSIGN_OR_RETURN(RegistryEntry r, ParseRegistry(name, n));
      regs.push_back(std::move(r));
    }
  }
  std::optional<std::vector<std::string>> search;
  if (const toml::node* s = doc.get("unqualified-search-registries")) {
    const toml::array* a = s->as_array();
    if (!a) return At(name, *s, "unqualified-search-registries is not an array");
    search.emplace();
    for (const toml::node& e : *a) {
      auto v = e.value<std::string>();
      std::string h = v ? *v : "";
      while (!h.empty() && h.back() == '/') h.pop_back();
      if (!v || !ValidSearchRegistry(h))
        return At(name, e, "unqualified-search-registries: not a HOST[:PORT]");
      search->push_back(h);
    }
  }
  ASSIGN_OR_RETURN(std::string mode, String(name, doc, "short-name-mode"));
  std::optional<ShortNameMode> m;
  if (mode == "enforcing") m = ShortNameMode::kEnforcing;
  else if (mode == "permissive") m = ShortNameMode::kPermissive;
  else if (mode == "disabled") m = ShortNameMode::kDisabled;
  else if (!mode.empty())
    return At(name, *doc.get("short-name-mode"),
              "short-name-mode \"" + mode + "\" (enforcing, permissive or disabled)");
  ASSIGN_OR_RETURN(auto aliases, ParseAliases(name, doc));
  // Everything checked: merge. The first table of a prefix within one file
  // counts; a later file's table replaces it.
  std::map<std::string, RegistryEntry> by_prefix;
  for (auto& r : registries_) by_prefix[r.prefix] = std::move(r);
  std::set<std::string> seen;
  for (auto& r : regs)
    if (seen.insert(r.prefix).second) by_prefix[r.prefix] = std::move(r);
  registries_.clear();
  for (auto& [p, r] : by_prefix) registries_.push_back(std::move(r));
  if (search) search_ = std::move(*search), search_origin_ = name;
  if (m) mode_ = m;
  for (const auto& [k, v] : aliases) {
    if (v.empty()) {
      aliases_.erase(k);
      alias_origin_.erase(k);
    } else {
      aliases_[k] = v;
      alias_origin_[k] = name;
    }
  }
  files_.push_back(name);
  return Status::Ok();
}

Status RegistriesConf::MergeAliasCache(std::string_view text, const std::string& name) {
  ASSIGN_OR_RETURN(toml::table doc, ParseToml(text, name));
  ASSIGN_OR_RETURN(auto aliases, ParseAliases(name, doc));
  for (const auto& [k, v] : aliases) {
    if (v.empty()) continue;
    aliases_[k] = v;
    alias_origin_[k] = name;
  }
  return Status::Ok();
}

Result<bool> RegistriesConf::MergeFile(const std::string& path) {
  auto text = ReadFile(path, 4 << 20);
  if (!text.ok()) {
    if (text.status().err() == ENOENT || text.status().err() == ENOTDIR) return false;
    return text.status().Prefix(path);
  }
  RETURN_IF_ERROR(Merge(*text, path));
  return true;
}

RegistriesConfPaths RegistriesConfFiles() {
  RegistriesConfPaths p;
  const std::string home = Home();
  std::string cache = Env("XDG_CACHE_HOME");
  if (cache.empty()) cache = home + "/.cache";
  p.alias_cache = ::geteuid() == 0 ? "/var/cache/containers/short-name-aliases.conf"
                                   : cache + "/containers/short-name-aliases.conf";
  if (std::string env = Env("CONTAINERS_REGISTRIES_CONF"); !env.empty()) {
    p.files = {env};
    p.required = true;
    return p;
  }
  const std::string user = home + "/.config/containers/registries.conf";
  if (::access(user.c_str(), F_OK) == 0) {
    p.files = {user};
    p.dirs = {user + ".d"};
    return p;
  }
  p.files = {"/etc/containers/registries.conf"};
  p.dirs = {"/etc/containers/registries.conf.d", user + ".d"};
  return p;
}

Result<RegistriesConf> RegistriesConf::LoadDefault() {
  RegistriesConfPaths p = RegistriesConfFiles();
  RegistriesConf c;
  for (const auto& f : p.files) {
    ASSIGN_OR_RETURN(bool read, c.MergeFile(f));
    if (!read && p.required)
      return Status::NotFound(f + " ($CONTAINERS_REGISTRIES_CONF) does not exist");
  }
  for (const auto& d : p.dirs) {
    auto names = ListDir(d, ".conf");
    if (!names.ok()) continue;  // no such directory
    for (const auto& n : *names) RETURN_IF_ERROR(c.MergeFile(d + "/" + n).status());
  }
  auto cache = ReadFile(p.alias_cache, 4 << 20);
  if (cache.ok()) RETURN_IF_ERROR(c.MergeAliasCache(*cache, p.alias_cache));
  return c;
}

const RegistryEntry* RegistriesConf::Find(const Reference& ref) const {
  const std::string s = ref.ToString();
  const RegistryEntry* best = nullptr;
  for (const auto& r : registries_)
    if (MatchingPrefix(s, r.prefix) != std::string::npos &&
        (!best || r.prefix.size() > best->prefix.size()))
      best = &r;
  return best;
}

Result<std::vector<PullSource>> RegistriesConf::PullSources(const Reference& ref) const {
  const RegistryEntry* r = Find(ref);
  if (!r) return std::vector<PullSource>{{ref, false, false}};
  const std::string s = ref.ToString();
  if (r->blocked)
    return Status::Denied(s + ": blocked by " + r->file + " ([[registry]] prefix \"" + r->prefix + "\")");
  const bool digested = ref.digest.has_value();
  std::vector<const RegistryEndpoint*> eps;
  for (const auto& m : r->mirrors) {
    if (r->mirror_by_digest_only && !digested) continue;
    if (m.use == MirrorUse::kDigestOnly && !digested) continue;
    if (m.use == MirrorUse::kTagOnly && digested) continue;
    eps.push_back(&m);
  }
  eps.push_back(&r->primary);
  std::vector<PullSource> out;
  const size_t matched = MatchingPrefix(s, r->prefix);
  for (const RegistryEndpoint* e : eps) {
    PullSource src{ref, e->insecure, e != &r->primary};
    if (!e->location.empty()) {
      auto rw = Reference::Parse(e->location + s.substr(matched));
      if (!rw.ok())
        return Status::Invalid(r->file + ": [[registry]] \"" + r->prefix + "\": rewriting " + s +
                               " to " + e->location + ": " + rw.status().message());
      src.remote = *rw;
    }
    out.push_back(std::move(src));
  }
  return out;
}

Result<std::vector<Reference>> RegistriesConf::Resolve(std::string_view name) const {
  if (name.starts_with("docker://")) name.remove_prefix(9);
  if (!IsShortName(name) || !any_file()) {
    ASSIGN_OR_RETURN(Reference r, Reference::Parse(name));
    return std::vector<Reference>{r};
  }
  auto [base, suffix] = SplitSuffix(name);
  RETURN_IF_ERROR(Reference::Parse(name).status());
  if (auto a = aliases_.find(base); a != aliases_.end()) {
    auto r = Reference::Parse(a->second + suffix);
    if (!r.ok()) return r.status().Prefix(alias_origin_.at(base) + ": alias \"" + base + "\"");
    return std::vector<Reference>{*r};
  }
  if (search_.empty())
    return Status::Invalid("short name \"" + std::string(name) +
                           "\" has no alias and no unqualified-search-registries are set in " +
                           (search_origin_.empty() ? files_.back() : search_origin_) +
                           ": use the full name (REGISTRY/REPO)");
  std::vector<Reference> out;
  std::string list;
  for (const auto& reg : search_) {
    ASSIGN_OR_RETURN(Reference r, Reference::Parse(reg + "/" + std::string(name)));
    list += (list.empty() ? "" : ", ") + r.ToString();
    out.push_back(std::move(r));
  }
  if (out.size() > 1 && short_name_mode() == ShortNameMode::kEnforcing)
    return Status::Invalid("short name \"" + std::string(name) + "\" is ambiguous under short-name-mode = "
                           "enforcing (" + search_origin_ + ") and cimg does not prompt: use one of " +
                           list + " (or add an [aliases] entry)");
  return out;
}

}  // namespace cfs::registry
