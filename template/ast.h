// The parse tree of a template text: its main list of nodes and the
// templates it defines. Positions are byte offsets into the text; Tree::Where
// turns one into "NAME:LINE:COL".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "template/template.h"

namespace cfs::tmpl {

struct Pipeline;

// One operand of a command.
struct Term {
  enum class Kind { kDot, kField, kVariable, kFunction, kString, kInt, kFloat, kBool, kNil, kPipe };
  Kind kind = Kind::kNil;
  size_t pos = 0, end = 0;          // its text: [pos, end)
  std::string name;                 // kVariable "$x", kFunction's name, kString's value
  std::vector<std::string> fields;  // .a.b applied to the base (kField: to dot)
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::shared_ptr<const Pipeline> pipe;  // kPipe: ( pipeline )
};

// A command: a function and its arguments, or one operand.
struct Command {
  size_t pos = 0, end = 0;
  std::vector<Term> args;
};

// [decl := | decl =] command | command ...; each command's value is the
// last argument of the next.
struct Pipeline {
  size_t pos = 0;
  std::vector<std::string> decl;  // "$x", or "$i", "$v" (range only)
  bool assign = false;            // "=" rather than ":="
  std::vector<Command> cmds;
};

struct Node {
  enum class Kind { kText, kAction, kIf, kRange, kWith, kTemplate, kBreak, kContinue };
  Kind kind = Kind::kText;
  size_t pos = 0;
  std::string text;                      // kText: the text; kTemplate: the name called
  std::shared_ptr<const Pipeline> pipe;  // kAction, kIf, kRange, kWith; kTemplate (or null)
  std::vector<Node> body;                // kIf, kRange, kWith
  std::vector<Node> else_body;           // idem; "else if" is an kIf alone in it
};
using NodeList = std::vector<Node>;

struct Tree {
  std::string name;  // names errors
  std::string text;
  std::vector<size_t> line_starts;  // offset of each line's first byte
  NodeList main;
  std::map<std::string, NodeList> defines;  // {{define}} and {{block}}
  std::vector<Func> funcs;                  // given to Parse, besides the builtins

  // "NAME:LINE:COL" of byte offset `pos` (1-based).
  std::string Where(size_t pos) const;
};

}  // namespace cfs::tmpl
