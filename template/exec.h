// The executor: runs a parsed Tree on data, writing its text.
#pragma once

#include <string>

#include "ast.h"
#include "base/status.h"
#include "template/value.h"

namespace cfs::tmpl {

// Runs tree.main with "." and "$" = data. Thread-safe (the tree is only read).
[[nodiscard]] Result<std::string> ExecuteTree(const Tree& tree, const Value& data);

}  // namespace cfs::tmpl
