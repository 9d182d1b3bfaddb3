#include "tools/image_list.h"

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "base/time.h"

namespace cimg {

using cfs::Result;
using cfs::Status;
using cfs::tmpl::Value;

std::string HumanSize(uint64_t b) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    u++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", v, units[u]);
  return buf;
}

std::string Ago(int64_t t, int64_t now) {
  if (t <= 0) return "N/A";
  int64_t d = now - t;
  if (d < 60) return "Less than a minute ago";
  auto n = [](int64_t v, const char* unit) {
    return std::to_string(v) + " " + unit + (v == 1 ? "" : "s") + " ago";
  };
  if (d < 3600) return n(d / 60, "minute");
  if (d < 86400) return n(d / 3600, "hour");
  if (d < 86400 * 60) return n(d / 86400, "day");
  return n(d / (86400 * 30), "month");
}

namespace {

std::string TimeFormat(int64_t t, const char* fmt) {
  return t <= 0 ? "" : cfs::FormatUtc(t, fmt);
}

}  // namespace

std::string Iso(int64_t t) { return TimeFormat(t, "%Y-%m-%dT%H:%M:%SZ"); }

void SplitName(const std::string& n, std::string* repo, std::string* tag) {
  if (auto at = n.find('@'); at != std::string::npos) {  // REPO@sha256:… (pulled by digest)
    *repo = n.substr(0, at);
    *tag = "<none>";
    return;
  }
  auto slash = n.rfind('/');
  auto colon = n.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    *repo = n.substr(0, colon);
    *tag = n.substr(colon + 1);
  } else {
    *repo = n;
    *tag = "<none>";
  }
}

bool GlobMatch(std::string_view p, std::string_view s) {
  // Iterative with backtracking to the last '*'.
  size_t pi = 0, si = 0, star_p = std::string_view::npos, star_s = 0;
  auto one = [&](size_t& i, char c, bool* ok) -> bool {  // one pattern item at p[i] vs c
    if (p[i] == '?') {
      i++;
      return c != '/';
    }
    if (p[i] == '\\' && i + 1 < p.size()) {
      i += 2;
      return p[i - 1] == c;
    }
    if (p[i] != '[') return p[i++] == c;
    size_t j = i + 1;
    bool negate = j < p.size() && (p[j] == '!' || p[j] == '^');
    if (negate) j++;
    bool match = false;
    for (bool first = true; j < p.size() && (first || p[j] != ']'); first = false) {
      char lo = p[j] == '\\' && j + 1 < p.size() ? p[++j] : p[j];
      char hi = lo;
      j++;
      if (j + 1 < p.size() && p[j] == '-' && p[j + 1] != ']') {
        hi = p[j + 1] == '\\' && j + 2 < p.size() ? p[j + 2] : p[j + 1];
        j += p[j + 1] == '\\' ? 3 : 2;
      }
      match |= lo <= c && c <= hi;
    }
    if (j >= p.size()) {  // no closing ']': a malformed pattern matches nothing
      *ok = false;
      return false;
    }
    i = j + 1;
    return match != negate && c != '/';
  };
  bool well_formed = true;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star_p = ++pi;
      star_s = si;
      continue;
    }
    size_t i = pi;
    if (pi < p.size() && one(i, s[si], &well_formed)) {
      pi = i;
      si++;
      continue;
    }
    if (!well_formed || star_p == std::string_view::npos || s[star_s] == '/') return false;
    pi = star_p;
    si = ++star_s;
  }
  while (pi < p.size() && p[pi] == '*') pi++;
  return pi == p.size();
}

namespace {

// The forms of a stored name a reference pattern may match.
std::vector<std::string> NameForms(const std::string& name) {
  std::vector<std::string> forms;
  auto add = [&](const std::string& n) {
    std::string repo, tag;
    SplitName(n, &repo, &tag);
    forms.push_back(n);
    forms.push_back(repo);
  };
  add(name);
  for (const char* prefix : {"docker.io/library/", "docker.io/"})
    if (name.rfind(prefix, 0) == 0) add(name.substr(std::string(prefix).size()));
  return forms;
}

Result<int64_t> CreatedOf(const std::string& image, const ImageFilter::Resolve& resolve,
                          const std::string& key) {
  auto s = resolve(image);
  if (!s.ok()) return Status::Invalid("filter " + key + "=" + image + ": " + s.status().message());
  return s->created;
}

}  // namespace

Result<ImageFilter> ImageFilter::Parse(const std::vector<std::string>& specs, const Resolve& resolve) {
  ImageFilter f;
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    std::string key = spec.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : spec.substr(eq + 1);
    if (key.size() > 1 && key.back() == '!' && key != "label!") key.pop_back();
    if (eq == std::string::npos || value.empty())
      return Status::Invalid("filter \"" + spec + "\": expected KEY=VALUE");
    if (key == "reference") {
      f.references_.push_back(value);
    } else if (key == "id") {
      f.ids_.push_back(value.rfind("sha256:", 0) == 0 ? value.substr(7) : value);
    } else if (key == "before" || key == "since") {
      ASSIGN_OR_RETURN(int64_t t, CreatedOf(value, resolve, key));
      (key == "before" ? f.before_ : f.since_).push_back(t);
    } else if (key == "dangling") {
      if (value != "true" && value != "false")
        return Status::Invalid("filter dangling=" + value + ": expected true or false");
      f.dangling_.push_back(value == "true");
    } else if (key == "label" || key == "label!") {
      Label l;
      auto leq = value.find('=');
      l.key = value.substr(0, leq);
      l.has_value = leq != std::string::npos;
      if (l.has_value) l.value = value.substr(leq + 1);
      l.negated = key == "label!";
      f.labels_.push_back(l);
    } else {
      return Status::Invalid("unsupported image filter \"" + key +
                             "\" (supported: before, dangling, id, label, label!, reference, since)");
    }
  }
  return f;
}

bool ImageFilter::Match(const cfs::ImageSummary& s,
                        const std::map<std::string, std::string>& labels) const {
  auto any = [](const auto& alternatives, auto pred) {
    if (alternatives.empty()) return true;
    for (const auto& a : alternatives)
      if (pred(a)) return true;
    return false;
  };
  bool ok = references_.empty() || !ShownNames(s).empty();
  ok = ok && any(ids_, [&](const std::string& p) { return s.image_id.Hex().rfind(p, 0) == 0; });
  ok = ok && any(before_, [&](int64_t t) { return s.created < t; });
  ok = ok && any(since_, [&](int64_t t) { return s.created > t; });
  ok = ok && any(dangling_, [&](bool d) { return d == s.names.empty(); });
  for (const auto& l : labels_) {
    auto it = labels.find(l.key);
    bool has = it != labels.end() && (!l.has_value || it->second == l.value);
    ok = ok && has != l.negated;
  }
  return ok;
}

std::vector<std::string> ImageFilter::ShownNames(const cfs::ImageSummary& s) const {
  if (references_.empty()) return s.names;
  std::vector<std::string> out;
  for (const auto& n : s.names) {
    bool match = false;
    for (const auto& pat : references_)
      for (const auto& form : NameForms(n)) match = match || GlobMatch(pat, form);
    if (match) out.push_back(n);
  }
  return out;
}

static std::string JoinPlatforms(const std::vector<std::string>& p) {
  std::string s;
  for (const auto& x : p) s += (s.empty() ? "" : ",") + x;
  return s;
}

std::vector<Value> ImageRows(const std::vector<cfs::ImageSummary>& list,
                             const std::map<std::string, std::map<std::string, std::string>>& labels_by_id,
                             const ImageRowOptions& o) {
  std::vector<Value> rows;
  for (const auto& s : list) {
    const std::string id = s.image_id.ToString();
    Value::Map base{
        {"ID", o.no_trunc ? id : s.image_id.Hex().substr(0, 12)},
        {"Id", id},
        {"Digest", s.manifest_digest.ToString()},
        {"Names", Value::List(s.names.begin(), s.names.end())},
        {"Created", Ago(s.created, o.now)},
        {"CreatedSince", Ago(s.created, o.now)},
        {"CreatedAt", TimeFormat(s.created, "%Y-%m-%d %H:%M:%S +0000 UTC")},
        {"CreatedTime", s.created},
        {"Size", HumanSize(s.size)},
        {"VirtualSize", static_cast<int64_t>(s.size)},
        {"Dangling", s.names.empty()},
        {"Platforms", JoinPlatforms(s.platforms)},
    };
    if (auto it = labels_by_id.find(id); it != labels_by_id.end()) {
      Value::Map l;
      for (const auto& [k, v] : it->second) l[k] = v;
      base["Labels"] = Value(std::move(l));
    }
    std::vector<std::string> names = s.names;
    if (names.empty()) names.push_back("<none>");
    for (const auto& n : names) {
      std::string repo = "<none>", tag = "<none>";
      if (n != "<none>") SplitName(n, &repo, &tag);
      Value::Map row = base;
      row["Repository"] = repo;
      row["Tag"] = tag;
      rows.push_back(Value(std::move(row)));
    }
  }
  return rows;
}

const std::vector<std::string>& ImageFields() {
  static const std::vector<std::string> kFields = {
      "ID",      "Id",        "Repository",  "Tag",  "Digest",      "Names",    "Created",
      "CreatedSince", "CreatedAt", "CreatedTime", "Size", "VirtualSize", "Dangling", "Labels", "Platforms"};
  return kFields;
}

const std::map<std::string, std::string>& ImageHeaders() {
  static const std::map<std::string, std::string> kHeaders = {
      {"ID", "IMAGE ID"}, {"Id", "IMAGE ID"}, {"CreatedSince", "CREATED"}, {"VirtualSize", "SIZE"}};
  return kHeaders;
}

std::vector<std::string> UniqueIds(const std::vector<cfs::ImageSummary>& list, bool no_trunc) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& s : list) {
    std::string id = no_trunc ? s.image_id.ToString() : s.image_id.Hex().substr(0, 12);
    if (seen.insert(id).second) out.push_back(id);
  }
  return out;
}

Value FromJson(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      Value::Map m;
      for (auto it = j.begin(); it != j.end(); ++it) m[it.key()] = FromJson(it.value());
      return Value(std::move(m));
    }
    case nlohmann::json::value_t::array: {
      Value::List l;
      for (const auto& e : j) l.push_back(FromJson(e));
      return Value(std::move(l));
    }
    case nlohmann::json::value_t::string:
      return Value(j.get<std::string>());
    case nlohmann::json::value_t::boolean:
      return Value(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
      return Value(j.get<double>());
    default:
      return Value();
  }
}


}  // namespace cimg
