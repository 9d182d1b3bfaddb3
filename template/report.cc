#include "template/report.h"

#include <algorithm>
#include <cctype>

#include "functions.h"

namespace cfs::tmpl {

namespace {

using Args = std::vector<Value>;

// Go's encoding/json with SetEscapeHTML(false), as podman's json function
// encodes: sprig's toJson, with its \u003c, \u003e, \u0026 turned back.
std::string JsonNoHtmlEscape(const Value& v) {
  std::string s = FindFunction("toJson")->call({v}).value().str();
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    std::string_view esc(s.data() + i, std::min<size_t>(6, s.size() - i));
    if (esc == "\\u003c" || esc == "\\u003e" || esc == "\\u0026") {
      out += esc == "\\u003c" ? '<' : esc == "\\u003e" ? '>' : '&';
      i += 5;
    } else {
      out += s.substr(i, 2);  // an escape of its own: copied whole
      i++;
    }
  }
  return out;
}

Result<Value> Json(const Args& a) { return Value(JsonNoHtmlEscape(a[0])); }

Result<Value> Join(const Args& a) {
  ASSIGN_OR_RETURN(std::string sep, StringArg(a, 1));
  if (a[0].kind() != Value::Kind::kList)
    return Status::Invalid(std::string("wrong type for value; expected []string; got ") +
                           a[0].TypeName());
  std::string out;
  for (size_t i = 0; i < a[0].list().size(); i++) out += (i ? sep : "") + StrVal(a[0].list()[i]);
  return Value(out);
}

Result<Value> Split(const Args& a) {
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 0));
  ASSIGN_OR_RETURN(std::string sep, StringArg(a, 1));
  Value::List out;
  if (sep.empty()) {  // Go: after each UTF-8 sequence; bytes are enough here
    for (char c : s) out.push_back(std::string(1, c));
    return Value(std::move(out));
  }
  size_t start = 0;
  for (size_t at; (at = s.find(sep, start)) != std::string::npos; start = at + sep.size())
    out.push_back(s.substr(start, at - start));
  out.push_back(s.substr(start));
  return Value(std::move(out));
}

Result<Value> Truncate(const Args& a) {
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 0));
  ASSIGN_OR_RETURN(int64_t n, IntArg(a, 1));
  if (n < 0) return Status::Invalid("negative length");
  return Value(s.size() < static_cast<uint64_t>(n) ? s : s.substr(0, n));
}

Result<Value> Pad(const Args& a) {
  ASSIGN_OR_RETURN(std::string s, StringArg(a, 0));
  ASSIGN_OR_RETURN(int64_t pre, IntArg(a, 1));
  ASSIGN_OR_RETURN(int64_t post, IntArg(a, 2));
  if (pre < 0 || post < 0 || pre > 4096 || post > 4096) return Status::Invalid("bad padding");
  if (s.empty()) return Value(s);
  return Value(std::string(pre, ' ') + s + std::string(post, ' '));
}

// podman's NormalizeFormat: escapes written as two characters, the "table"
// keyword, spaces of a table as column breaks, a final newline.
std::string Normalize(std::string_view format, bool* table) {
  *table = format.substr(0, 6) == "table ";
  std::string f(*table ? format.substr(6) : format);
  std::string out;
  for (size_t i = 0; i < f.size(); i++) {
    if (f[i] == '\\' && i + 1 < f.size() && (f[i + 1] == 't' || f[i + 1] == 'n')) {
      out += f[++i] == 't' ? '\t' : '\n';
    } else {
      out += (*table && f[i] == ' ') ? '\t' : f[i];
    }
  }
  if (out.empty() || out.back() != '\n') out += '\n';
  return out;
}

bool IsTrimmed(std::string_view s, std::string_view word) {
  size_t b = s.find_first_not_of(" \t\n");
  size_t e = s.find_last_not_of(" \t\n");
  return b != std::string_view::npos && s.substr(b, e - b + 1) == word;
}

}  // namespace

std::vector<Func> PodmanFuncs() {
  return {{"json", 1, 1, Json},
          {"join", 2, 2, Join},
          {"split", 2, 2, Split},
          {"truncate", 2, 2, Truncate},
          {"pad", 3, 3, Pad}};
}

bool IsJsonFormat(std::string_view format) { return IsTrimmed(format, "json"); }

std::string HeaderOf(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); i++) {
    unsigned char c = field[i];
    // A word starts at an upper-case letter after a lower-case one, or
    // before a lower-case one in a run of capitals (IDMap -> ID MAP).
    bool upper = std::isupper(c);
    bool after_lower = i > 0 && std::islower(static_cast<unsigned char>(field[i - 1]));
    bool run_end = i > 0 && std::isupper(static_cast<unsigned char>(field[i - 1])) &&
                   i + 1 < field.size() && std::islower(static_cast<unsigned char>(field[i + 1]));
    if (upper && (after_lower || run_end)) out += ' ';
    out += static_cast<char>(std::toupper(c));
  }
  return out;
}

std::string AlignColumns(std::string_view text) {
  std::vector<std::vector<std::string_view>> lines;
  std::vector<size_t> width;
  for (size_t start = 0; start < text.size();) {
    size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? nl : nl - start);
    start = nl == std::string_view::npos ? text.size() : nl + 1;
    std::vector<std::string_view> cells;
    for (size_t tab; (tab = line.find('\t')) != std::string_view::npos; line.remove_prefix(tab + 1))
      cells.push_back(line.substr(0, tab));
    cells.push_back(line);  // the last cell: not padded
    for (size_t c = 0; c + 1 < cells.size(); c++) {
      if (width.size() <= c) width.push_back(12);
      width[c] = std::max(width[c], cells[c].size() + 2);
    }
    lines.push_back(std::move(cells));
  }
  std::string out;
  for (const auto& cells : lines) {
    for (size_t c = 0; c < cells.size(); c++) {
      out += cells[c];
      if (c + 1 < cells.size()) out += std::string(width[c] - cells[c].size(), ' ');
    }
    out += '\n';
  }
  return out;
}

Result<Report> Report::Parse(std::string_view format, std::string_view default_table,
                             const std::vector<std::string>& fields,
                             const std::map<std::string, std::string>& headers) {
  if (IsTrimmed(format, "table")) format = default_table;
  bool table = false;
  std::string text = Normalize(format, &table);
  ASSIGN_OR_RETURN(Template t, Template::Parse(text, "format", PodmanFuncs()));
  std::string header;
  if (table) {
    Value::Map h;
    for (const auto& f : fields) {
      auto it = headers.find(f);
      h[f] = it != headers.end() ? it->second : HeaderOf(f);
    }
    ASSIGN_OR_RETURN(header, t.Execute(Value(std::move(h))));
  }
  return Report(std::move(t), table, std::move(header));
}

Result<std::string> Report::Render(const std::vector<Value>& rows) const {
  std::string out = header_;
  for (const auto& r : rows) {
    ASSIGN_OR_RETURN(std::string line, tmpl_.Execute(r));
    out += line;
  }
  if (!table_) return out;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return AlignColumns(out);
}

}  // namespace cfs::tmpl
