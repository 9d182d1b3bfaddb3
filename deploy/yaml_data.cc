#include "deploy/yaml_data.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace cfs::deploy {

namespace {

enum class Kind { kString, kNull, kBool, kInt, kFloat };

bool OneOf(const std::string& s, std::initializer_list<const char*> list) {
  return std::any_of(list.begin(), list.end(), [&](const char* x) { return s == x; });
}

bool Digits(const std::string& s, size_t from, const char* allowed) {
  if (from >= s.size()) return false;
  for (size_t i = from; i < s.size(); i++)
    if (!std::strchr(allowed, s[i]) || s[i] == '\0') return false;
  return true;
}

bool IsFloat(const std::string& s) {
  if (OneOf(s, {".inf", ".Inf", ".INF", "+.inf", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"}))
    return true;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  size_t digits = 0, dot = 0;
  for (; i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                          s[i] == '_');
       i++) {
    if (s[i] == '.') dot++;
    if (std::isdigit(static_cast<unsigned char>(s[i]))) digits++;
  }
  if (digits == 0 || dot > 1) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) i++;
    if (i >= s.size()) return false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) i++;
    return i == s.size();
  }
  return i == s.size() && dot == 1;
}

// How yaml.v2 resolves a plain scalar (YAML 1.1 types).
Kind Resolve(const std::string& s) {
  if (OneOf(s, {"", "~", "null", "Null", "NULL"})) return Kind::kNull;
  if (OneOf(s, {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
                "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"}))
    return Kind::kBool;
  size_t sign = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (s.compare(sign, 2, "0x") == 0 && Digits(s, sign + 2, "0123456789abcdefABCDEF_"))
    return Kind::kInt;
  if (s.compare(sign, 2, "0b") == 0 && Digits(s, sign + 2, "01_")) return Kind::kInt;
  if (Digits(s, sign, "0123456789_")) return Kind::kInt;
  if (IsFloat(s)) return Kind::kFloat;
  return Kind::kString;
}

// A plain scalar's kind; a quoted or block scalar (tag "!") is a string.
Kind KindOf(const YAML::Node& n) {
  if (n.IsNull()) return Kind::kNull;
  return n.Tag() == "!" ? Kind::kString : Resolve(n.Scalar());
}

// One scalar as YAML text (yaml-cpp decides the quoting); `quote` forces
// double quotes.
std::string ScalarText(const std::string& s, bool quote) {
  YAML::Emitter e;
  if (quote) e << YAML::DoubleQuoted;
  e << s;
  return e.c_str();
}

std::string ScalarOf(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "null";
  return ScalarText(n.Scalar(), n.Tag() == "!" && Resolve(n.Scalar()) != Kind::kString);
}

bool Nested(const YAML::Node& n) { return (n.IsMap() || n.IsSequence()) && n.size() > 0; }

// Block YAML of n at column `pad`: maps `indent` deeper per level, list
// items under a key `seq_indent` deeper (yaml.v3 indents them, yaml.v2 not).
void EmitBlock(std::string& out, const YAML::Node& n, size_t pad, size_t indent,
               size_t seq_indent, bool first_inline) {
  auto start = [&](bool first) { if (!(first && first_inline)) out += std::string(pad, ' '); };
  if (n.IsMap()) {
    std::vector<std::string> keys;
    for (const auto& kv : n) keys.push_back(kv.first.Scalar());
    std::sort(keys.begin(), keys.end());
    for (size_t i = 0; i < keys.size(); i++) {
      start(i == 0);
      const YAML::Node& cn = n;
      const YAML::Node v = cn[keys[i]];
      out += ScalarText(keys[i], false) + ":";
      if (!Nested(v)) {
        out += " " + (v.IsMap() ? "{}" : v.IsSequence() ? "[]" : ScalarOf(v)) + "\n";
        continue;
      }
      out += "\n";
      EmitBlock(out, v, pad + (v.IsMap() ? indent : seq_indent), indent, seq_indent, false);
    }
    return;
  }
  for (size_t i = 0; i < n.size(); i++) {
    start(i == 0);
    const YAML::Node v = n[i];
    out += "- ";
    if (Nested(v)) {
      EmitBlock(out, v, pad + 2, indent, seq_indent, true);
    } else {
      out += (v.IsMap() ? "{}" : v.IsSequence() ? "[]" : ScalarOf(v)) + "\n";
    }
  }
}

Result<nlohmann::json> ScalarJson(const std::string& s, Kind k) {
  switch (k) {
    case Kind::kNull: return nlohmann::json(nullptr);
    case Kind::kBool:
      return nlohmann::json(OneOf(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on",
                                      "On", "ON"}));
    case Kind::kInt: {
      std::string clean;
      for (char c : s)
        if (c != '_') clean += c;
      bool bin = clean.find("0b") != std::string::npos;
      size_t at = bin ? clean.find("0b") + 2 : 0;
      errno = 0;
      long long v = std::strtoll(clean.c_str() + at, nullptr, bin ? 2 : 0);
      if (bin && clean[0] == '-') v = -v;
      if (errno == ERANGE) return nlohmann::json(std::strtod(clean.c_str(), nullptr));
      return nlohmann::json(v);
    }
    case Kind::kFloat:
      if (s.find("inf") != std::string::npos || s.find("nan") != std::string::npos ||
          s.find("Inf") != std::string::npos || s.find("NaN") != std::string::npos ||
          s.find("INF") != std::string::npos || s.find("NAN") != std::string::npos)
        return Status::Invalid("\"" + s + "\" has no JSON form");
      return nlohmann::json(std::strtod(s.c_str(), nullptr));
    case Kind::kString: return nlohmann::json(s);
  }
  return nlohmann::json(s);
}

Result<nlohmann::json> ToJson(const YAML::Node& n) {
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();  // std::map: keys sorted
    for (const auto& kv : n) {
      ASSIGN_OR_RETURN(o[kv.first.Scalar()], ToJson(kv.second));
    }
    return o;
  }
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& i : n) {
      ASSIGN_OR_RETURN(nlohmann::json v, ToJson(i));
      a.push_back(std::move(v));
    }
    return a;
  }
  if (!n.IsDefined() || n.IsNull()) return nlohmann::json(nullptr);
  return ScalarJson(n.Scalar(), KindOf(n));
}

// Go's isEmptyValue for a decoded YAML value.
bool IsEmpty(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return true;
  if (n.IsMap() || n.IsSequence()) return n.size() == 0;
  Kind k = KindOf(n);
  const std::string& s = n.Scalar();
  if (k == Kind::kString) return s.empty();
  if (k == Kind::kBool) return !OneOf(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
                                          "on", "On", "ON"});
  if (k == Kind::kInt || k == Kind::kFloat) return std::strtod(s.c_str(), nullptr) == 0;
  return false;
}

void Merge(YAML::Node dst, const YAML::Node& src, bool override) {
  for (const auto& kv : src) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& cdst = dst;
    YAML::Node have = cdst[key];
    if (kv.second.IsMap() && have.IsDefined() && have.IsMap()) {
      Merge(have, kv.second, override);
      continue;
    }
    if (override || !have.IsDefined() || IsEmpty(have)) dst[key] = YAML::Clone(kv.second);
  }
}

}  // namespace

Result<YAML::Node> LoadYaml(const std::string& text, const std::string& what) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(what + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

std::string EmitSortedYaml(const YAML::Node& n, int indent) {
  if (!Nested(n)) return (n.IsMap() ? "{}" : n.IsSequence() ? "[]" : ScalarOf(n)) + "\n";
  std::string out;
  EmitBlock(out, n, 0, indent, indent == 2 ? 0 : indent, false);
  return out;
}

Result<std::string> YamlToJson(const YAML::Node& n) {
  ASSIGN_OR_RETURN(nlohmann::json j, ToJson(n));
  return j.dump();
}

Result<std::string> ScalarString(const YAML::Node& n, const std::string& what) {
  if (!n.IsDefined() || n.IsNull()) return std::string();
  if (!n.IsScalar()) return Status::Invalid(what + " is not a string");
  return n.Scalar();
}

void DeepMergeOverride(YAML::Node dst, const YAML::Node& src) { Merge(dst, src, true); }

void DeepMergeFill(YAML::Node dst, const YAML::Node& src) { Merge(dst, src, false); }

}  // namespace cfs::deploy
