// Value: the data a template reads, the data model of Go's text/template as
// clusterfs uses it (the values of a map[string]interface{} decoded from
// JSON or YAML): nil, bool, int64, double, string, list, and map with string
// keys. A map iterates in sorted key order, as Go's range over a map does.
//
// Values are immutable once built; copies share their lists and maps, so
// copying is cheap. Thread-safe for concurrent reads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace cfs::tmpl {

class Value {
 public:
  enum class Kind { kNil, kBool, kInt, kFloat, kString, kList, kMap };
  using List = std::vector<Value>;
  using Map = std::map<std::string, Value>;

  Value() = default;                                                 // nil
  Value(std::nullptr_t) {}                                           // NOLINT: implicit by design
  Value(bool b) : v_(b) {}                                           // NOLINT
  Value(int i) : v_(int64_t{i}) {}                                   // NOLINT
  Value(int64_t i) : v_(i) {}                                        // NOLINT
  Value(double d) : v_(d) {}                                         // NOLINT
  Value(std::string s) : v_(std::move(s)) {}                         // NOLINT
  Value(const char* s) : v_(std::string(s)) {}                       // NOLINT
  Value(List l) : v_(std::make_shared<const List>(std::move(l))) {}  // NOLINT
  Value(Map m) : v_(std::make_shared<const Map>(std::move(m))) {}    // NOLINT

  // A cluster env as template data: a map of strings.
  static Value FromEnv(const std::map<std::string, std::string>& env);

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_nil() const { return kind() == Kind::kNil; }
  // REQUIRES: the matching kind().
  bool boolean() const { return std::get<bool>(v_); }
  int64_t integer() const { return std::get<int64_t>(v_); }
  double floating() const { return std::get<double>(v_); }
  const std::string& str() const { return std::get<std::string>(v_); }
  const List& list() const { return *std::get<std::shared_ptr<const List>>(v_); }
  const Map& map() const { return *std::get<std::shared_ptr<const Map>>(v_); }

  // Go's truth: false, 0, 0.0, nil, and empty strings, lists and maps are
  // false; everything else is true.
  bool Truth() const;
  // Go's name of the type, for messages: "string", "int", "float64",
  // "bool", "[]interface {}", "map[string]interface {}", "<nil>".
  const char* TypeName() const;
  // Structural equality (lists and maps by content); no type conversion.
  bool operator==(const Value& o) const;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<const List>,
               std::shared_ptr<const Map>>
      v_;
};

}  // namespace cfs::tmpl
