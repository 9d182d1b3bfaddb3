#include "sbom/dpkg_status.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <utility>

#include "base/strings.h"

namespace cfs::sbom {

namespace {

// One paragraph: field names lowercased -> value (continuations kept as
// "\n"-joined lines), and the line it starts on.
struct Paragraph {
  std::map<std::string, std::string> fields;
  size_t line = 0;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool IsBlank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

Status LineError(const std::string& file, size_t line, const std::string& why) {
  return Status::Invalid(file + ":" + std::to_string(line) + ": " + why);
}

// Splits text into paragraphs, checking the line syntax.
Result<std::vector<Paragraph>> SplitParagraphs(std::string_view text, const std::string& file) {
  std::vector<Paragraph> out;
  Paragraph cur;
  std::string last;  // the field continuation lines extend
  size_t n = 0;
  auto flush = [&] {
    if (!cur.fields.empty()) out.push_back(std::move(cur));
    cur = Paragraph();
    last.clear();
  };
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    n++;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) {
      flush();
      continue;
    }
    if (line[0] == '#') continue;
    if (line[0] == ' ' || line[0] == '\t') {
      if (last.empty()) return LineError(file, n, "continuation line outside a field");
      cur.fields[last] += "\n" + std::string(TrimView(line));
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return LineError(file, n,
                       "not a field (\"Name: value\"): " + std::string(line.substr(0, 60)));
    std::string name = Lower(line.substr(0, colon));
    if (cur.fields.empty()) cur.line = n;
    if (cur.fields.count(name))
      return LineError(file, n, "field \"" + std::string(line.substr(0, colon)) + "\" given twice");
    cur.fields[name] = std::string(TrimView(line.substr(colon + 1)));
    last = name;
  }
  flush();
  return out;
}

std::string Field(const Paragraph& p, const char* name) {
  auto it = p.fields.find(name);
  return it == p.fields.end() ? std::string() : it->second;
}

// "install ok installed" or "hold ok installed".
bool Installed(const std::string& status) {
  std::string s;
  for (char c : status) s += c == '\t' || c == '\n' ? ' ' : c;
  return s == "install ok installed" || s == "hold ok installed";
}

// "name" or "name (version)".
void ParseSource(const std::string& v, DebPackage* p) {
  size_t open = v.find('(');
  p->source = Trim(v.substr(0, open));
  if (open != std::string::npos) {
    size_t close = v.find(')', open);
    p->source_version =
        Trim(v.substr(open + 1, close == std::string::npos ? close : close - open - 1));
  }
  if (p->source == p->name) p->source.clear();
  if (p->source_version == p->version) p->source_version.clear();
}

}  // namespace

Result<std::vector<DebPackage>> ParseDpkgStatus(std::string_view text, const std::string& file,
                                                bool require_status) {
  ASSIGN_OR_RETURN(auto paragraphs, SplitParagraphs(text, file));
  std::vector<DebPackage> out;
  for (const Paragraph& p : paragraphs) {
    DebPackage d;
    d.name = Field(p, "package");
    if (d.name.empty()) return LineError(file, p.line, "paragraph without a Package field");
    if (require_status && !Installed(Field(p, "status"))) continue;
    d.version = Field(p, "version");
    if (d.version.empty())
      return LineError(file, p.line, "package " + d.name + " has no Version field");
    d.architecture = Field(p, "architecture");
    ParseSource(Field(p, "source"), &d);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace cfs::sbom
