#include "go_fmt.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace cfs::tmpl {

namespace {

// |f| = d1.d2d3... × 10^exp, with the fewest digits that read back as |f|.
struct Decimal {
  std::string digits;
  int exp = 0;
};

Decimal Shortest(double f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(f), std::chars_format::scientific);
  std::string s(buf, r.ptr);
  size_t e = s.find('e');
  Decimal d;
  for (size_t i = 0; i < e; i++)
    if (s[i] != '.') d.digits += s[i];
  d.exp = std::atoi(s.c_str() + e + 1);
  return d;
}

std::string ExpForm(const Decimal& d, bool short_negative_exp) {
  std::string out(1, d.digits[0]);
  if (d.digits.size() > 1) out += "." + d.digits.substr(1);
  int e = d.exp;
  out += e < 0 ? "e-" : "e+";
  int a = std::abs(e);
  if (a < 10 && !(short_negative_exp && e < 0)) out += '0';
  return out + std::to_string(a);
}

std::string FixedForm(const Decimal& d) {
  const std::string& g = d.digits;
  if (d.exp < 0) return "0." + std::string(-d.exp - 1, '0') + g;
  size_t int_len = static_cast<size_t>(d.exp) + 1;
  if (g.size() <= int_len) return g + std::string(int_len - g.size(), '0');
  return g.substr(0, int_len) + "." + g.substr(int_len);
}

// Appends the UTF-8 encoding of rune r.
void AppendRune(std::string* out, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
  if (r < 0x80) {
    *out += static_cast<char>(r);
  } else if (r < 0x800) {
    *out += static_cast<char>(0xC0 | (r >> 6));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    *out += static_cast<char>(0xE0 | (r >> 12));
    *out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (r >> 18));
    *out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

// Decodes one rune of s at *i (advancing it); -1 for an invalid byte.
int32_t NextRune(std::string_view s, size_t* i) {
  unsigned char c = s[*i];
  int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || *i + n > s.size()) {
    (*i)++;
    return -1;
  }
  uint32_t r = n == 1 ? c : c & (0x7F >> n);
  for (int k = 1; k < n; k++) {
    unsigned char cc = s[*i + k];
    if ((cc & 0xC0) != 0x80) {
      (*i)++;
      return -1;
    }
    r = (r << 6) | (cc & 0x3F);
  }
  *i += n;
  return static_cast<int32_t>(r);
}

struct Spec {
  bool minus = false, plus = false, sharp = false, space = false, zero = false;
  int width = -1, prec = -1;
  char verb = 'v';
};

std::string Hex(uint64_t v, bool upper, int base = 16) {
  if (v == 0) return "0";
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string s;
  for (; v; v /= base) s.insert(s.begin(), digits[v % base]);
  return s;
}

std::string BadVerb(const Spec& sp, const Value& v) {
  if (v.is_nil()) return std::string("%!") + sp.verb + "(<nil>)";
  return std::string("%!") + sp.verb + "(" + v.TypeName() + "=" + FormatValue(v) + ")";
}

std::string Sign(bool neg, const Spec& sp) {
  return neg ? "-" : sp.plus ? "+" : sp.space ? " " : "";
}

std::string FormatInt(const Spec& sp, int64_t i) {
  bool neg = i < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(i) : static_cast<uint64_t>(i);
  switch (sp.verb) {
    case 'v':
    case 'd':
      return Sign(neg, sp) + std::to_string(u);
    case 'x':
      return Sign(neg, sp) + (sp.sharp ? "0x" : "") + Hex(u, false);
    case 'X':
      return Sign(neg, sp) + (sp.sharp ? "0X" : "") + Hex(u, true);
    case 'o':
      return Sign(neg, sp) + (sp.sharp ? "0" : "") + Hex(u, false, 8);
    case 'b':
      return Sign(neg, sp) + Hex(u, false, 2);
    case 'c': {
      std::string s;
      AppendRune(&s, static_cast<uint32_t>(i));
      return s;
    }
    case 'q': {
      std::string s;
      AppendRune(&s, static_cast<uint32_t>(i));
      return "'" + (s == "'" ? "\\'" : s == "\\" ? "\\\\" : s) + "'";
    }
    default:
      return BadVerb(sp, Value(i));
  }
}

std::string FormatDouble(const Spec& sp, double f) {
  char conv = sp.verb;
  if (conv == 'v') conv = 'g';
  if (conv != 'e' && conv != 'E' && conv != 'f' && conv != 'F' && conv != 'g' && conv != 'G')
    return BadVerb(sp, Value(f));
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f < 0 ? "-Inf" : "+Inf";
  if ((conv == 'g' || conv == 'G') && sp.prec < 0) {
    std::string s = FormatFloat(f);
    if (conv == 'G')
      for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return (f >= 0 && sp.plus ? "+" : f >= 0 && sp.space ? " " : "") + s;
  }
  std::string fmt = "%";
  if (sp.plus) fmt += '+';
  if (sp.space) fmt += ' ';
  if (sp.sharp) fmt += '#';
  fmt += ".*";
  fmt += conv;
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt.c_str(), sp.prec < 0 ? 6 : sp.prec, f);
  return buf;
}

std::string FormatString(const Spec& sp, const std::string& s) {
  switch (sp.verb) {
    case 'v':
    case 's': {
      if (sp.prec < 0) return s;
      size_t i = 0;
      for (int n = 0; n < sp.prec && i < s.size(); n++) NextRune(s, &i);
      return s.substr(0, i);
    }
    case 'q':
      return sp.sharp && s.find('`') == std::string::npos ? "`" + s + "`" : QuoteGo(s);
    case 'x':
    case 'X': {
      std::string out;
      for (unsigned char c : s) {
        std::string h = Hex(c, sp.verb == 'X');
        out += (h.size() < 2 ? "0" : "") + h;
      }
      return out;
    }
    default:
      return BadVerb(sp, Value(s));
  }
}

std::string FormatOne(const Spec& sp, const Value& v);

std::string FormatComposite(const Spec& sp, const Value& v) {
  std::string out;
  if (v.kind() == Value::Kind::kList) {
    out = "[";
    for (size_t i = 0; i < v.list().size(); i++) out += (i ? " " : "") + FormatOne(sp, v.list()[i]);
    return out + "]";
  }
  out = "map[";
  bool first = true;
  for (const auto& [k, e] : v.map()) {
    out += (first ? "" : " ") + FormatOne(sp, Value(k)) + ":" + FormatOne(sp, e);
    first = false;
  }
  return out + "]";
}

std::string FormatOne(const Spec& sp, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNil:
      return sp.verb == 'v' ? "<nil>" : BadVerb(sp, v);
    case Value::Kind::kBool:
      return sp.verb == 'v' || sp.verb == 't' ? (v.boolean() ? "true" : "false") : BadVerb(sp, v);
    case Value::Kind::kInt:
      return FormatInt(sp, v.integer());
    case Value::Kind::kFloat:
      return FormatDouble(sp, v.floating());
    case Value::Kind::kString:
      return FormatString(sp, v.str());
    case Value::Kind::kList:
    case Value::Kind::kMap:
      return FormatComposite(sp, v);
  }
  return "";
}

// Pads s to sp.width: spaces on the left (right with '-'), or zeros after
// the sign with '0'.
std::string Pad(const Spec& sp, std::string s, bool numeric) {
  size_t runes = 0;
  for (size_t i = 0; i < s.size(); runes++) NextRune(s, &i);
  if (sp.width < 0 || runes >= static_cast<size_t>(sp.width)) return s;
  size_t n = sp.width - runes;
  if (sp.minus) return s + std::string(n, ' ');
  if (!sp.zero) return std::string(n, ' ') + s;
  size_t at = numeric && !s.empty() && (s[0] == '-' || s[0] == '+' || s[0] == ' ') ? 1 : 0;
  return s.insert(at, std::string(n, '0'));
}

// Reads the flags, width, precision and verb after a '%' at *i.
Spec ParseSpec(std::string_view f, size_t* i) {
  Spec sp;
  for (; *i < f.size(); (*i)++) {
    char c = f[*i];
    if (c == '-')
      sp.minus = true;
    else if (c == '+')
      sp.plus = true;
    else if (c == '#')
      sp.sharp = true;
    else if (c == ' ')
      sp.space = true;
    else if (c == '0')
      sp.zero = !sp.minus;
    else
      break;
  }
  auto number = [&] {
    int n = -1;
    for (; *i < f.size() && f[*i] >= '0' && f[*i] <= '9'; (*i)++)
      n = (n < 0 ? 0 : n * 10) + (f[*i] - '0');
    return n;
  };
  sp.width = number();
  if (*i < f.size() && f[*i] == '.') {
    (*i)++;
    sp.prec = std::max(0, number());
  }
  sp.verb = *i < f.size() ? f[(*i)++] : '\0';
  return sp;
}

}  // namespace

std::string FormatFloat(double f, bool json_style) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f < 0 ? "-Inf" : "+Inf";
  Decimal d = Shortest(f);
  std::string sign = std::signbit(f) ? "-" : "";
  if (f == 0) return sign + "0";
  bool exp_form = json_style ? (d.exp < -6 || d.exp >= 21) : (d.exp < -4 || d.exp >= 6);
  return sign + (exp_form ? ExpForm(d, json_style) : FixedForm(d));
}

std::string FormatValue(const Value& v) { return FormatOne(Spec{}, v); }

std::string Sprint(const std::vector<Value>& args) {
  std::string out;
  bool prev_string = false;
  for (size_t i = 0; i < args.size(); i++) {
    bool is_string = args[i].kind() == Value::Kind::kString;
    if (i > 0 && !is_string && !prev_string) out += ' ';
    out += FormatValue(args[i]);
    prev_string = is_string;
  }
  return out;
}

std::string Sprintln(const std::vector<Value>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); i++) out += (i ? " " : "") + FormatValue(args[i]);
  return out + "\n";
}

std::string Sprintf(std::string_view f, const std::vector<Value>& args) {
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < f.size();) {
    if (f[i] != '%') {
      out += f[i++];
      continue;
    }
    i++;
    Spec sp = ParseSpec(f, &i);
    if (sp.verb == '%') {
      out += '%';
    } else if (sp.verb == '\0') {
      out += "%!(NOVERB)";
    } else if (next >= args.size()) {
      out += std::string("%!") + sp.verb + "(MISSING)";
    } else {
      const Value& v = args[next++];
      bool numeric = v.kind() == Value::Kind::kInt || v.kind() == Value::Kind::kFloat;
      out += Pad(sp, FormatOne(sp, v), numeric);
    }
  }
  if (next < args.size()) {
    out += "%!(EXTRA ";
    for (size_t i = next; i < args.size(); i++)
      out += std::string(i > next ? ", " : "") + args[i].TypeName() + "=" + FormatValue(args[i]);
    out += ")";
  }
  return out;
}

std::string QuoteGo(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    size_t start = i;
    int32_t r = NextRune(s, &i);
    if (r < 0) {
      std::string h = Hex(static_cast<unsigned char>(s[start]), false);
      out += "\\x" + std::string(2 - h.size(), '0') + h;
      continue;
    }
    switch (r) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
    }
    if (r < 0x20 || r == 0x7F) {
      std::string h = Hex(r, false);
      out += "\\x" + std::string(2 - h.size(), '0') + h;
    } else if ((r >= 0x80 && r < 0xA0) || r == 0xAD || r == 0xFEFF) {
      std::string h = Hex(r, false);
      out += "\\u" + std::string(4 - h.size(), '0') + h;
    } else {
      out.append(s.substr(start, i - start));
    }
  }
  return out + "\"";
}

}  // namespace cfs::tmpl
