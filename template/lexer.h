// The lexer: a template text as tokens, text and the insides of actions.
// Comments vanish here, and {{- / -}} trim the text beside them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ast.h"
#include "base/status.h"

namespace cfs::tmpl {

struct Token {
  enum class Kind {
    kText,
    kLeftDelim,
    kRightDelim,
    kIdentifier,
    kField,
    kVariable,
    kDot,
    kString,
    kChar,
    kNumber,
    kPipe,
    kLeftParen,
    kRightParen,
    kDeclare,
    kAssign,
    kComma,
    kEOF,
  };
  Kind kind = Kind::kEOF;
  std::string text;  // kText: the text; kString: the value (unquoted); kField: the name
                     // without '.'; kVariable: "$x"; kChar: the rune's value in decimal;
                     // kNumber, kIdentifier: as written
  size_t pos = 0;
  size_t end = 0;
  bool space_before = false;  // white space right before it (inside an action)
};

// Lexes tree.text (tree.name and line_starts name errors). The last token
// is kEOF.
[[nodiscard]] Result<std::vector<Token>> Lex(const Tree& tree);

}  // namespace cfs::tmpl
