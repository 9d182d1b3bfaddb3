#include "template/value.h"

namespace cfs::tmpl {

Value Value::FromEnv(const std::map<std::string, std::string>& env) {
  Map m;
  for (const auto& [k, v] : env) m.emplace(k, Value(v));
  return Value(std::move(m));
}

bool Value::Truth() const {
  switch (kind()) {
    case Kind::kNil:
      return false;
    case Kind::kBool:
      return boolean();
    case Kind::kInt:
      return integer() != 0;
    case Kind::kFloat:
      return floating() != 0;
    case Kind::kString:
      return !str().empty();
    case Kind::kList:
      return !list().empty();
    case Kind::kMap:
      return !map().empty();
  }
  return false;
}

const char* Value::TypeName() const {
  switch (kind()) {
    case Kind::kNil:
      return "<nil>";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float64";
    case Kind::kString:
      return "string";
    case Kind::kList:
      return "[]interface {}";
    case Kind::kMap:
      return "map[string]interface {}";
  }
  return "?";
}

bool Value::operator==(const Value& o) const {
  if (kind() != o.kind()) return false;
  switch (kind()) {
    case Kind::kNil:
      return true;
    case Kind::kBool:
      return boolean() == o.boolean();
    case Kind::kInt:
      return integer() == o.integer();
    case Kind::kFloat:
      return floating() == o.floating();
    case Kind::kString:
      return str() == o.str();
    case Kind::kList:
      return list() == o.list();
    case Kind::kMap:
      return map() == o.map();
  }
  return false;
}

}  // namespace cfs::tmpl
