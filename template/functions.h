// The functions a template may call: Go's builtins (builtins.cc) and the
// sprig functions cluster images use (sprig.cc). A name not here is a parse
// error.
//
//   Go:    and or not len index slice print printf println eq ne lt le gt ge
//          html js urlquery
//   sprig: b64enc b64dec quote squote default empty coalesce required ternary
//          upper lower title trim trimAll trimPrefix trimSuffix replace
//          contains hasPrefix hasSuffix split splitList join indent nindent
//          repeat toJson toString atoi int list dict hasKey first last until cat
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "template/template.h"
#include "template/value.h"

namespace cfs::tmpl {

// A builtin or sprig function (template/template.h's Func); "and" and "or"
// have no call: the executor evaluates them lazily (they stop at the
// deciding argument).
using Function = Func;

// The function named `name`, or null.
const Function* FindFunction(std::string_view name);
// The same, looking first at the functions the template was given.
const Function* FindFunction(const std::vector<Func>& added, std::string_view name);

// The tables FindFunction searches.
const std::vector<Function>& GoBuiltins();
const std::vector<Function>& SprigFunctions();

// Argument i as a Go-typed parameter; "wrong type for value; expected
// string; got int" otherwise.
Result<std::string> StringArg(const std::vector<Value>& args, size_t i);
Result<int64_t> IntArg(const std::vector<Value>& args, size_t i);
Result<bool> BoolArg(const std::vector<Value>& args, size_t i);

// sprig's strval: strings as they are, nil "<nil>", else fmt's %v.
std::string StrVal(const Value& v);

}  // namespace cfs::tmpl
