// The parts of Go's fmt and strconv that templates print with: values as
// %v prints them, Sprint/Sprintln/Sprintf, float and quote formatting.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "template/value.h"

namespace cfs::tmpl {

// strconv.FormatFloat(f, 'g', -1, 64): shortest digits that read back as f;
// exponent form ("1e+06") when the exponent is < -4 or >= 6 (fmt's %v), or
// with `json_style` as encoding/json writes numbers: exponent form only
// below 1e-6 or from 1e21, and "1e-07" written "1e-7".
std::string FormatFloat(double f, bool json_style = false);

// fmt.Sprint("%v", v): strings as they are, lists "[a b]", maps
// "map[k:v]" (sorted keys), nil "<nil>".
std::string FormatValue(const Value& v);

// fmt.Sprint: a space between operands when neither is a string.
std::string Sprint(const std::vector<Value>& args);
// fmt.Sprintln: spaces between all operands, then a newline.
std::string Sprintln(const std::vector<Value>& args);
// fmt.Sprintf with verbs v s d q x X o b c f F e E g G t % and flags
// "-+# 0", width and precision (not '*'); a verb that does not fit its
// operand prints "%!d(string=x)", missing operands "%!d(MISSING)", extra
// ones "%!(EXTRA int=1)", as Go does.
std::string Sprintf(std::string_view format, const std::vector<Value>& args);

// strconv.Quote: "..." with Go escapes (\n, \t, \", \\, \x00, \u00ad).
std::string QuoteGo(std::string_view s);

}  // namespace cfs::tmpl
