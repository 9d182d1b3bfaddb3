// The parser: tokens (lexer.h) into a Tree (ast.h), checking what Go's
// parser checks: matching {{end}}s, variables declared before use,
// functions that exist, define at the top level, break/continue inside
// range.
#pragma once

#include "ast.h"
#include "base/status.h"

namespace cfs::tmpl {

// Parses tree->text into tree->main and tree->defines. REQUIRES: tree's
// name, text and line_starts set.
[[nodiscard]] Status ParseTree(Tree* tree);

}  // namespace cfs::tmpl
