// The sprig functions (https://masterminds.github.io/sprig/) that cluster
// images use, with sprig's semantics; argument order as in sprig (the
// string worked on last, so it can be piped).
#include <cstdio>
#include <cstdlib>

#include "base/coding.h"
#include "functions.h"
#include "go_fmt.h"

namespace cfs::tmpl {

namespace {

using K = Value::Kind;
using Args = std::vector<Value>;

// A function of strings: f(args as strings...) -> string.
template <size_t N, typename F>
Result<Value> OnStrings(const Args& a, F f) {
  std::string s[N];
  for (size_t i = 0; i < N; i++) {
    ASSIGN_OR_RETURN(s[i], StringArg(a, i));
  }
  return Value(f(s));
}

Result<Value> B64Enc(const Args& a) {
  return OnStrings<1>(a, [](std::string* s) { return Base64Encode(s[0]); });
}
Result<Value> B64Dec(const Args& a) {
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 0));
  auto d = Base64Decode(s);
  if (!d.ok()) return Status::Invalid("b64dec: input is not base64");
  return Value(*d);
}

Result<Value> Quote(const Args& a) {
  std::string out;
  for (const Value& v : a)
    if (!v.is_nil()) out += (out.empty() ? "" : " ") + QuoteGo(StrVal(v));
  return Value(out);
}
Result<Value> SQuote(const Args& a) {
  std::string out;
  for (const Value& v : a)
    if (!v.is_nil()) out += (out.empty() ? "'" : " '") + StrVal(v) + "'";
  return Value(out);
}

Result<Value> Default(const Args& a) {
  if (a.size() < 2 || !a[1].Truth()) return a[0];
  return a[1];
}
Result<Value> Empty(const Args& a) { return Value(!a[0].Truth()); }
Result<Value> Coalesce(const Args& a) {
  for (const Value& v : a)
    if (v.Truth()) return v;
  return Value();
}
Result<Value> Required(const Args& a) {
  ASSIGN_OR_RETURN(std::string msg, StringArg(a, 0));
  if (a[1].is_nil() || (a[1].kind() == K::kString && a[1].str().empty()))
    return Status::Invalid(msg);
  return a[1];
}
Result<Value> Ternary(const Args& a) {
  ASSIGN_OR_RETURN(bool cond, BoolArg(a, 2));
  return cond ? a[0] : a[1];
}

std::string MapBytes(std::string s, int (*f)(int)) {
  for (char& c : s) c = static_cast<char>(f(static_cast<unsigned char>(c)));
  return s;
}
Result<Value> Upper(const Args& a) {
  return OnStrings<1>(a, [](std::string* s) { return MapBytes(s[0], ::toupper); });
}
Result<Value> Lower(const Args& a) {
  return OnStrings<1>(a, [](std::string* s) { return MapBytes(s[0], ::tolower); });
}
// strings.Title: the first letter of every word upper case (ASCII).
Result<Value> Title(const Args& a) {
  return OnStrings<1>(a, [](std::string* s) {
    std::string out = s[0];
    bool start = true;
    for (char& c : out) {
      unsigned char u = static_cast<unsigned char>(c);
      if (start) c = static_cast<char>(std::toupper(u));
      start = !(std::isalnum(u) || c == '_' || u >= 0x80 || c == '\'');
    }
    return out;
  });
}

bool IsWhite(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
std::string TrimSet(const std::string& s, const std::string& set, bool white) {
  auto in = [&](char c) { return white ? IsWhite(c) : set.find(c) != std::string::npos; };
  size_t b = 0, e = s.size();
  while (b < e && in(s[b])) b++;
  while (e > b && in(s[e - 1])) e--;
  return s.substr(b, e - b);
}
Result<Value> Trim(const Args& a) {
  return OnStrings<1>(a, [](std::string* s) { return TrimSet(s[0], "", true); });
}
Result<Value> TrimAll(const Args& a) {
  return OnStrings<2>(a, [](std::string* s) { return TrimSet(s[1], s[0], false); });
}
Result<Value> TrimPrefix(const Args& a) {
  return OnStrings<2>(
      a, [](std::string* s) { return s[1].rfind(s[0], 0) == 0 ? s[1].substr(s[0].size()) : s[1]; });
}
Result<Value> TrimSuffix(const Args& a) {
  return OnStrings<2>(a, [](std::string* s) {
    bool has = s[1].size() >= s[0].size() &&
               s[1].compare(s[1].size() - s[0].size(), s[0].size(), s[0]) == 0;
    return has ? s[1].substr(0, s[1].size() - s[0].size()) : s[1];
  });
}

// strings.Split: sep "" splits after each UTF-8 sequence.
std::vector<std::string> SplitString(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  if (sep.empty()) {
    for (size_t i = 0; i < s.size();) {
      unsigned char c = s[i];
      size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
      out.push_back(s.substr(i, n));
      i += n;
    }
    return out;
  }
  size_t pos = 0;
  for (size_t at; (at = s.find(sep, pos)) != std::string::npos; pos = at + sep.size())
    out.push_back(s.substr(pos, at - pos));
  out.push_back(s.substr(pos));
  return out;
}

Result<Value> Replace(const Args& a) {
  return OnStrings<3>(a, [](std::string* s) {
    if (s[0].empty()) {  // Go inserts `new` around every rune
      std::string out = s[1];
      for (const auto& part : SplitString(s[2], "")) out += part + s[1];
      return s[2].empty() ? s[1] : out;
    }
    std::string out;
    auto parts = SplitString(s[2], s[0]);
    for (size_t i = 0; i < parts.size(); i++) out += (i ? s[1] : "") + parts[i];
    return out;
  });
}

Result<Value> Contains(const Args& a) {
  ASSIGN_OR_RETURN(std::string sub, StringArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  return Value(s.find(sub) != std::string::npos);
}
Result<Value> HasPrefix(const Args& a) {
  ASSIGN_OR_RETURN(std::string p, StringArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  return Value(s.rfind(p, 0) == 0);
}
Result<Value> HasSuffix(const Args& a) {
  ASSIGN_OR_RETURN(std::string p, StringArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  return Value(s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0);
}

Result<Value> Split(const Args& a) {
  ASSIGN_OR_RETURN(std::string sep, StringArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  Value::Map m;
  auto parts = SplitString(s, sep);
  for (size_t i = 0; i < parts.size(); i++) m.emplace("_" + std::to_string(i), Value(parts[i]));
  return Value(std::move(m));
}
Result<Value> SplitList(const Args& a) {
  ASSIGN_OR_RETURN(std::string sep, StringArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  Value::List l;
  for (auto& p : SplitString(s, sep)) l.emplace_back(std::move(p));
  return Value(std::move(l));
}

// join sep v: v's elements (nil ones left out) as strings; a lone value
// is a list of itself.
Result<Value> Join(const Args& a) {
  ASSIGN_OR_RETURN(std::string sep, StringArg(a, 0));
  if (a[1].is_nil()) return Value("");
  if (a[1].kind() != K::kList) return Value(StrVal(a[1]));
  std::string out;
  bool first = true;
  for (const Value& v : a[1].list()) {
    if (v.is_nil()) continue;
    out += (first ? "" : sep) + StrVal(v);
    first = false;
  }
  return Value(out);
}

std::string IndentString(int64_t n, const std::string& s) {
  std::string pad(n > 0 ? n : 0, ' ');
  std::string out = pad;
  for (char c : s) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}
Result<Value> Indent(const Args& a) {
  ASSIGN_OR_RETURN(int64_t n, IntArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  return Value(IndentString(n, s));
}
Result<Value> NIndent(const Args& a) {
  ASSIGN_OR_RETURN(int64_t n, IntArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  return Value("\n" + IndentString(n, s));
}
Result<Value> Repeat(const Args& a) {
  ASSIGN_OR_RETURN(int64_t n, IntArg(a, 0));
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 1));
  if (n < 0) return Status::Invalid("strings: negative Repeat count");
  if (n * s.size() > (64u << 20)) return Status::Invalid("repeat: result over 64 MiB");
  std::string out;
  for (int64_t i = 0; i < n; i++) out += s;
  return Value(out);
}

// encoding/json's string: <, >, & and U+2028/9 escaped as \u00xx.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = s[i];
    char buf[8];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) & 0xFE) == 0xA8) {
      out += (s[i + 2] & 1) ? "\\u2029" : "\\u2028";
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Json(const Value& v) {
  switch (v.kind()) {
    case K::kNil:
      return "null";
    case K::kBool:
      return v.boolean() ? "true" : "false";
    case K::kInt:
      return std::to_string(v.integer());
    case K::kFloat:
      return FormatFloat(v.floating(), true);
    case K::kString:
      return JsonString(v.str());
    case K::kList: {
      std::string out = "[";
      for (size_t i = 0; i < v.list().size(); i++) out += (i ? "," : "") + Json(v.list()[i]);
      return out + "]";
    }
    case K::kMap: {
      std::string out = "{";
      for (const auto& [k, e] : v.map())
        out += (out.size() > 1 ? "," : "") + JsonString(k) + ":" + Json(e);
      return out + "}";
    }
  }
  return "null";
}
Result<Value> ToJson(const Args& a) { return Value(Json(a[0])); }
Result<Value> ToString(const Args& a) { return Value(StrVal(a[0])); }

// strconv.ParseInt(s, base, 64); nullopt-like false when s is not one.
bool ParseInt(const std::string& s, int base, int64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, base);
  if (errno != 0 || *end != '\0' || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  *out = v;
  return true;
}
Result<Value> Atoi(const Args& a) {
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 0));
  int64_t v = 0;
  return Value(ParseInt(s, 10, &v) ? v : 0);
}
// cast.ToInt: numbers truncated, bools 1/0, strings parsed (0x.., 0..),
// anything else 0.
Result<Value> Int(const Args& a) {
  const Value& v = a[0];
  int64_t out = 0;
  switch (v.kind()) {
    case K::kInt:
      return v;
    case K::kFloat:
      return Value(static_cast<int64_t>(v.floating()));
    case K::kBool:
      return Value(int64_t{v.boolean() ? 1 : 0});
    case K::kString: {
      std::string s = v.str();
      if (size_t dot = s.find('.');
          dot != std::string::npos && s.find_first_not_of('0', dot + 1) == std::string::npos)
        s.erase(dot);
      return Value(ParseInt(s, 0, &out) ? out : 0);
    }
    default:
      return Value(int64_t{0});
  }
}

Result<Value> List(const Args& a) { return Value(Value::List(a.begin(), a.end())); }
Result<Value> Dict(const Args& a) {
  Value::Map m;
  for (size_t i = 0; i < a.size(); i += 2)
    m[StrVal(a[i])] = i + 1 < a.size() ? a[i + 1] : Value("");
  return Value(std::move(m));
}
Result<Value> HasKey(const Args& a) {
  if (a[0].kind() != K::kMap)
    return Status::Invalid(std::string("hasKey: not a map but ") + a[0].TypeName());
  ASSIGN_OR_RETURN(std::string k, StringArg(a, 1));
  return Value(a[0].map().count(k) > 0);
}
Result<Value> First(const Args& a) {
  if (a[0].kind() != K::kList)
    return Status::Invalid(std::string("cannot find first on type ") + a[0].TypeName());
  return a[0].list().empty() ? Value() : a[0].list().front();
}
Result<Value> Last(const Args& a) {
  if (a[0].kind() != K::kList)
    return Status::Invalid(std::string("cannot find last on type ") + a[0].TypeName());
  return a[0].list().empty() ? Value() : a[0].list().back();
}
Result<Value> Until(const Args& a) {
  ASSIGN_OR_RETURN(int64_t n, IntArg(a, 0));
  if (n > 1000000 || n < -1000000) return Status::Invalid("until: count out of range");
  Value::List l;
  for (int64_t i = 0; i != n; i += n > 0 ? 1 : -1) l.emplace_back(i);
  return Value(std::move(l));
}
Result<Value> Cat(const Args& a) {
  std::string out;
  for (const Value& v : a)
    if (!v.is_nil()) out += (out.empty() ? "" : " ") + FormatValue(v);
  return Value(out);
}

}  // namespace

const std::vector<Function>& SprigFunctions() {
  static const std::vector<Function> kTable = {
      {"b64enc", 1, 1, B64Enc},
      {"b64dec", 1, 1, B64Dec},
      {"quote", 0, -1, Quote},
      {"squote", 0, -1, SQuote},
      {"default", 1, -1, Default},
      {"empty", 1, 1, Empty},
      {"coalesce", 0, -1, Coalesce},
      {"required", 2, 2, Required},
      {"ternary", 3, 3, Ternary},
      {"upper", 1, 1, Upper},
      {"lower", 1, 1, Lower},
      {"title", 1, 1, Title},
      {"trim", 1, 1, Trim},
      {"trimAll", 2, 2, TrimAll},
      {"trimPrefix", 2, 2, TrimPrefix},
      {"trimSuffix", 2, 2, TrimSuffix},
      {"replace", 3, 3, Replace},
      {"contains", 2, 2, Contains},
      {"hasPrefix", 2, 2, HasPrefix},
      {"hasSuffix", 2, 2, HasSuffix},
      {"split", 2, 2, Split},
      {"splitList", 2, 2, SplitList},
      {"join", 2, 2, Join},
      {"indent", 2, 2, Indent},
      {"nindent", 2, 2, NIndent},
      {"repeat", 2, 2, Repeat},
      {"toJson", 1, 1, ToJson},
      {"toString", 1, 1, ToString},
      {"atoi", 1, 1, Atoi},
      {"int", 1, 1, Int},
      {"list", 0, -1, List},
      {"dict", 0, -1, Dict},
      {"hasKey", 2, 2, HasKey},
      {"first", 1, 1, First},
      {"last", 1, 1, Last},
      {"until", 1, 1, Until},
      {"cat", 0, -1, Cat},
  };
  return kTable;
}

}  // namespace cfs::tmpl
