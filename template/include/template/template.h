// A Go text/template engine (https://pkg.go.dev/text/template) with the
// sprig functions cluster images use. Templates of cluster images (sealer's
// *.tmpl files) render with it.
//
// Supported: text and actions, comments, {{- and -}} trimming, pipelines,
// fields .a.b, variables ($, $x := / $x =, scoped to the enclosing control
// block), if/else if/else, range (lists, maps in key order, ints; $i, $v;
// else; break, continue), with/else with/else, define, template, block,
// string/raw/char/number/bool/nil literals, parenthesized pipelines, Go's
// builtins and the sprig subset listed in template/functions.h.
//
// Differences from Go, on purpose: a field of a map that has no such key is
// an error (Go's option missingkey=error), never "<no value>"; an unknown
// function is a parse error, so is a template using one; template calls
// and control blocks together nest at most 1000 deep when executed (Go:
// 100000 template calls), control blocks and parentheses at most 100 deep in
// the text (so recursion never runs out of stack).
//
// Every error is InvalidArgument with a one-line message
// "NAME:LINE:COL: reason", NAME the name given to Parse, LINE:COL (1-based,
// COL in bytes) where the fault is: the token, or for execution errors the
// operand or function at fault ("executing "TEMPLATE" at <.X>: ...").
// Control bytes in the message show as \n or \xNN.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "template/value.h"

namespace cfs::tmpl {

struct Tree;  // parsed templates (template/ast.h)

// A function a template may call (Go's FuncMap entry). `call` gets the
// evaluated arguments; an error's message is the reason alone (the executor
// adds where). A null `call` is allowed only for the builtins "and" and
// "or", which the executor evaluates lazily.
struct Func {
  std::string name;
  int min_args = 0;
  int max_args = -1;  // -1: no limit
  std::function<Result<Value>(const std::vector<Value>&)> call;
};

class Template {
 public:
  // Parses `text`; `name` names errors (e.g. the file's path).
  [[nodiscard]] static Result<Template> Parse(std::string_view text, std::string name);
  // The same, with `funcs` added to the functions the text may call (Go's
  // Template.Funcs before Parse): they take precedence over the builtins and
  // sprig's of the same name.
  [[nodiscard]] static Result<Template> Parse(std::string_view text, std::string name,
                                              std::vector<Func> funcs);

  // Runs the template on `data` ("." and "$"). Thread-safe: one Template
  // may execute on several threads at once.
  [[nodiscard]] Result<std::string> Execute(const Value& data) const;

  const std::string& name() const;

 private:
  explicit Template(std::shared_ptr<const Tree> tree) : tree_(std::move(tree)) {}
  std::shared_ptr<const Tree> tree_;
};

// Parse then Execute.
[[nodiscard]] Result<std::string> Render(std::string_view text, const std::string& name,
                                         const Value& data);

}  // namespace cfs::tmpl
