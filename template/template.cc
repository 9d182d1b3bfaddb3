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

Result<Template> Template::Parse(std::string_view text, std::string name) {
  auto tree = std::make_shared<Tree>();
  tree->name = std::move(name);
  tree->text = std::string(text);
  tree->line_starts.push_back(0);
  for (size_t i = 0; i < text.size(); i++)
    if (text[i] == '\n') tree->line_starts.push_back(i + 1);
  RETURN_IF_ERROR(ParseTree(tree.get()));
  return Template(std::move(tree));
}

Result<std::string> Template::Execute(const Value& data) const {
  return ExecuteTree(*tree_, data);
}

const std::string& Template::name() const { return tree_->name; }

Result<std::string> Render(std::string_view text, const std::string& name, const Value& data) {
  ASSIGN_OR_RETURN(Template t, Template::Parse(text, name));
  return t.Execute(data);
}

}  // namespace cfs::tmpl
