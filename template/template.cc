#include "template/template.h"

#include <algorithm>

#include "ast.h"
#include "exec.h"
#include "parser.h"

namespace cfs::tmpl {

std::string Tree::Where(size_t pos) const {
  auto it = std::upper_bound(line_starts.begin(), line_starts.end(), pos);
  size_t line = it - line_starts.begin();  // 1-based: line_starts[0] == 0
  size_t col = pos - line_starts[line - 1] + 1;
  return name + ":" + std::to_string(line) + ":" + std::to_string(col);
}

namespace {

// The error on one line: control bytes (a newline in the template text or
// in a value quoted by the message) shown as \n or \xNN.
Status OneLine(const Status& s) {
  std::string m;
  for (char c : s.message()) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n') {
      m += "\\n";
    } else if (u < 0x20 || u == 0x7F) {
      const char* hex = "0123456789abcdef";
      m += std::string("\\x") + hex[u >> 4] + hex[u & 15];
    } else {
      m += c;
    }
  }
  return Status::Invalid(m);
}

}  // namespace

Result<Template> Template::Parse(std::string_view text, std::string name) {
  return Parse(text, std::move(name), {});
}

Result<Template> Template::Parse(std::string_view text, std::string name,
                                 std::vector<Func> funcs) {
  auto tree = std::make_shared<Tree>();
  tree->name = std::move(name);
  tree->funcs = std::move(funcs);
  tree->text = std::string(text);
  tree->line_starts.push_back(0);
  for (size_t i = 0; i < text.size(); i++)
    if (text[i] == '\n') tree->line_starts.push_back(i + 1);
  Status s = ParseTree(tree.get());
  if (!s.ok()) return OneLine(s);
  return Template(std::move(tree));
}

Result<std::string> Template::Execute(const Value& data) const {
  auto out = ExecuteTree(*tree_, data);
  if (!out.ok()) return OneLine(out.status());
  return out;
}

const std::string& Template::name() const { return tree_->name; }

Result<std::string> Render(std::string_view text, const std::string& name, const Value& data) {
  ASSIGN_OR_RETURN(Template t, Template::Parse(text, name));
  return t.Execute(data);
}

}  // namespace cfs::tmpl
