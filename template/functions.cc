#include "functions.h"

#include "go_fmt.h"

namespace cfs::tmpl {

namespace {

Status WrongType(const char* want, const Value& got) {
  return Status::Invalid(std::string("wrong type for value; expected ") + want + "; got " +
                         got.TypeName());
}

}  // namespace

const Function* FindFunction(std::string_view name) {
  for (const auto* table : {&GoBuiltins(), &SprigFunctions()})
    for (const Function& f : *table)
      if (name == f.name) return &f;
  return nullptr;
}

const Function* FindFunction(const std::vector<Func>& added, std::string_view name) {
  for (const Func& f : added)
    if (name == f.name) return &f;
  return FindFunction(name);
}

Result<std::string> StringArg(const std::vector<Value>& args, size_t i) {
  if (args[i].kind() != Value::Kind::kString) return WrongType("string", args[i]);
  return args[i].str();
}

Result<int64_t> IntArg(const std::vector<Value>& args, size_t i) {
  if (args[i].kind() != Value::Kind::kInt) return WrongType("int", args[i]);
  return args[i].integer();
}

Result<bool> BoolArg(const std::vector<Value>& args, size_t i) {
  if (args[i].kind() != Value::Kind::kBool) return WrongType("bool", args[i]);
  return args[i].boolean();
}

std::string StrVal(const Value& v) {
  return v.kind() == Value::Kind::kString ? v.str() : FormatValue(v);
}

}  // namespace cfs::tmpl
