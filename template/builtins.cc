// Go's predefined template functions (text/template "Functions").
#include <cstdio>

#include "functions.h"
#include "go_fmt.h"

namespace cfs::tmpl {

namespace {

using K = Value::Kind;

bool Basic(const Value& v) {
  return v.kind() == K::kBool || v.kind() == K::kInt || v.kind() == K::kFloat ||
         v.kind() == K::kString;
}

// eq a b: equal basic values of one kind; nil equals only nil.
Result<bool> Equal(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) {
    if (a.is_nil() || b.is_nil()) return false;
    return Status::Invalid(std::string("incompatible types for comparison: ") + a.TypeName() +
                           " and " + b.TypeName());
  }
  if (a.kind() == K::kList || a.kind() == K::kMap)
    return Status::Invalid("non-comparable type " + FormatValue(a) + ": " + a.TypeName());
  return a == b;
}

// a < b for two ints, floats or strings.
Result<bool> Less(const Value& a, const Value& b) {
  if (!Basic(a) || !Basic(b) || a.kind() == K::kBool || b.kind() == K::kBool)
    return Status::Invalid("invalid type for comparison");
  if (a.kind() != b.kind()) return Status::Invalid("incompatible types for comparison");
  if (a.kind() == K::kInt) return a.integer() < b.integer();
  if (a.kind() == K::kFloat) return a.floating() < b.floating();
  return a.str() < b.str();
}

Result<Value> Eq(const std::vector<Value>& a) {
  if (a.size() < 2) return Status::Invalid("missing argument for comparison");
  for (size_t i = 1; i < a.size(); i++) {
    ASSIGN_OR_RETURN(bool eq, Equal(a[0], a[i]));
    if (eq) return Value(true);
  }
  return Value(false);
}
Result<Value> Ne(const std::vector<Value>& a) {
  ASSIGN_OR_RETURN(bool eq, Equal(a[0], a[1]));
  return Value(!eq);
}
Result<Value> Lt(const std::vector<Value>& a) {
  ASSIGN_OR_RETURN(bool lt, Less(a[0], a[1]));
  return Value(lt);
}
Result<Value> Le(const std::vector<Value>& a) {
  ASSIGN_OR_RETURN(bool gt, Less(a[1], a[0]));
  return Value(!gt);
}
Result<Value> Gt(const std::vector<Value>& a) {
  ASSIGN_OR_RETURN(bool gt, Less(a[1], a[0]));
  return Value(gt);
}
Result<Value> Ge(const std::vector<Value>& a) {
  ASSIGN_OR_RETURN(bool lt, Less(a[0], a[1]));
  return Value(!lt);
}

Result<Value> Not(const std::vector<Value>& a) { return Value(!a[0].Truth()); }

Result<Value> Len(const std::vector<Value>& a) {
  switch (a[0].kind()) {
    case K::kString:
      return Value(static_cast<int64_t>(a[0].str().size()));
    case K::kList:
      return Value(static_cast<int64_t>(a[0].list().size()));
    case K::kMap:
      return Value(static_cast<int64_t>(a[0].map().size()));
    case K::kNil:
      return Status::Invalid("len of nil pointer");
    default:
      return Status::Invalid(std::string("len of type ") + a[0].TypeName());
  }
}

Result<int64_t> IndexArg(const Value& v, size_t len, bool slice) {
  if (v.kind() != K::kInt)
    return Status::Invalid(std::string("cannot index slice/array with type ") + v.TypeName());
  int64_t i = v.integer();
  if (i < 0 || static_cast<uint64_t>(i) > len - (slice ? 0 : 1) || (!slice && len == 0))
    return Status::Invalid("index out of range: " + std::to_string(i));
  return i;
}

Result<Value> Index(const std::vector<Value>& a) {
  Value item = a[0];
  for (size_t k = 1; k < a.size(); k++) {
    const Value& idx = a[k];
    switch (item.kind()) {
      case K::kNil:
        return Status::Invalid("index of untyped nil");
      case K::kList: {
        ASSIGN_OR_RETURN(int64_t i, IndexArg(idx, item.list().size(), false));
        item = Value(item.list()[i]);
        break;
      }
      case K::kString: {
        ASSIGN_OR_RETURN(int64_t i, IndexArg(idx, item.str().size(), false));
        item = Value(static_cast<int64_t>(static_cast<unsigned char>(item.str()[i])));
        break;
      }
      case K::kMap: {
        if (idx.kind() != K::kString)
          return Status::Invalid(std::string("value has type ") + idx.TypeName() +
                                 "; should be string");
        auto it = item.map().find(idx.str());
        item = it == item.map().end() ? Value() : Value(it->second);
        break;
      }
      default:
        return Status::Invalid(std::string("can't index item of type ") + item.TypeName());
    }
  }
  return item;
}

Result<Value> Slice(const std::vector<Value>& a) {
  const Value& item = a[0];
  if (item.is_nil()) return Status::Invalid("slice of untyped nil");
  if (item.kind() != K::kString && item.kind() != K::kList)
    return Status::Invalid(std::string("can't slice item of type ") + item.TypeName());
  if (a.size() == 4 && item.kind() == K::kString)
    return Status::Invalid("cannot 3-index slice a string");
  size_t len = item.kind() == K::kString ? item.str().size() : item.list().size();
  int64_t idx[3] = {0, static_cast<int64_t>(len), static_cast<int64_t>(len)};
  for (size_t k = 1; k < a.size(); k++) {
    ASSIGN_OR_RETURN(idx[k - 1], IndexArg(a[k], len, true));
  }
  if (idx[0] > idx[1])
    return Status::Invalid("invalid slice index: " + std::to_string(idx[0]) + " > " +
                           std::to_string(idx[1]));
  if (a.size() == 4 && idx[1] > idx[2])
    return Status::Invalid("invalid slice index: " + std::to_string(idx[1]) + " > " +
                           std::to_string(idx[2]));
  if (item.kind() == K::kString) return Value(item.str().substr(idx[0], idx[1] - idx[0]));
  return Value(Value::List(item.list().begin() + idx[0], item.list().begin() + idx[1]));
}

Result<Value> Print(const std::vector<Value>& a) { return Value(Sprint(a)); }
Result<Value> Println(const std::vector<Value>& a) { return Value(Sprintln(a)); }
Result<Value> Printf(const std::vector<Value>& a) {
  ASSIGN_OR_RETURN(std::string f, StringArg(a, 0));
  return Value(Sprintf(f, std::vector<Value>(a.begin() + 1, a.end())));
}

// The one string html, js and urlquery escape: a string alone, else Sprint.
std::string EscaperInput(const std::vector<Value>& a) {
  if (a.size() == 1 && a[0].kind() == K::kString) return a[0].str();
  return Sprint(a);
}

Result<Value> Html(const std::vector<Value>& a) {
  std::string out;
  for (char c : EscaperInput(a)) {
    switch (c) {
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";
        break;
      default:
        out += c;
    }
  }
  return Value(out);
}

Result<Value> Js(const std::vector<Value>& a) {
  std::string out;
  for (char ch : EscaperInput(a)) {
    unsigned char c = static_cast<unsigned char>(ch);
    char buf[8];
    switch (c) {
      case '\\':
        out += "\\\\";
        continue;
      case '\'':
        out += "\\'";
        continue;
      case '"':
        out += "\\\"";
        continue;
      case '<':
      case '>':
      case '&':
      case '=':
        std::snprintf(buf, sizeof buf, "\\u%04X", c);
        out += buf;
        continue;
    }
    if (c < 0x20 || c == 0x7F) {
      std::snprintf(buf, sizeof buf, "\\u%04X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return Value(out);
}

Result<Value> UrlQuery(const std::vector<Value>& a) {
  std::string out;
  for (char ch : EscaperInput(a)) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += ch;
    } else if (c == ' ') {
      out += '+';
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return Value(out);
}

}  // namespace

const std::vector<Function>& GoBuiltins() {
  static const std::vector<Function> kTable = {
      {"and", 1, -1, nullptr}, {"or", 1, -1, nullptr},    {"not", 1, 1, Not},
      {"len", 1, 1, Len},      {"index", 1, -1, Index},   {"slice", 1, 4, Slice},
      {"print", 0, -1, Print}, {"printf", 1, -1, Printf}, {"println", 0, -1, Println},
      {"eq", 1, -1, Eq},       {"ne", 2, 2, Ne},          {"lt", 2, 2, Lt},
      {"le", 2, 2, Le},        {"gt", 2, 2, Gt},          {"ge", 2, 2, Ge},
      {"html", 0, -1, Html},   {"js", 0, -1, Js},         {"urlquery", 0, -1, UrlQuery},
  };
  return kTable;
}

}  // namespace cfs::tmpl
