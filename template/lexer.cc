#include "lexer.h"

#include <cstdio>

namespace cfs::tmpl {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
int HexValue(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string* out, uint32_t r) {
  if (r < 0x80) {
    *out += static_cast<char>(r);
  } else if (r < 0x800) {
    *out += static_cast<char>(0xC0 | (r >> 6));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  } else if (r < 0x10000) {
    *out += static_cast<char>(0xE0 | (r >> 12));
    *out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (r >> 18));
    *out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (r & 0x3F));
  }
}

class Lexer {
 public:
  explicit Lexer(const Tree& t) : t_(t), s_(t.text) {}

  Result<std::vector<Token>> Run() {
    while (pos_ <= s_.size()) {
      size_t open = s_.find("{{", pos_);
      bool left_trim = open != std::string_view::npos && open + 3 < s_.size() &&
                       s_[open + 2] == '-' && IsSpace(s_[open + 3]);
      EmitText(open, left_trim);
      if (open == std::string_view::npos) break;
      pos_ = open + (left_trim ? 4 : 2);
      if (s_.substr(pos_, 2) == "/*") {
        RETURN_IF_ERROR(Comment(open));
        continue;
      }
      Emit(Token::Kind::kLeftDelim, "", open, false);
      RETURN_IF_ERROR(Action(open));
    }
    Emit(Token::Kind::kEOF, "", s_.size(), false);
    return std::move(out_);
  }

 private:
  Status Error(size_t pos, const std::string& msg) const {
    return Status::Invalid(t_.Where(pos) + ": " + msg);
  }

  void Emit(Token::Kind k, std::string text, size_t pos, bool space) {
    out_.push_back(Token{k, std::move(text), pos, pos_, space});
  }

  // The text from pos_ up to `open` (npos: the end), trimmed as the
  // markers around it say.
  void EmitText(size_t open, bool left_trim) {
    size_t b = pos_, e = open == std::string_view::npos ? s_.size() : open;
    if (trim_next_)
      while (b < e && IsSpace(s_[b])) b++;
    trim_next_ = false;
    if (left_trim)
      while (e > b && IsSpace(s_[e - 1])) e--;
    if (e > b) out_.push_back(Token{Token::Kind::kText, std::string(s_.substr(b, e - b)), b, e});
  }

  // {{/* ... */}}: at pos_ "/*"; `open` is the "{{".
  Status Comment(size_t open) {
    size_t close = s_.find("*/", pos_ + 2);
    if (close == std::string_view::npos) return Error(open, "unclosed comment");
    pos_ = close + 2;
    if (s_.substr(pos_, 2) == "}}") {
      pos_ += 2;
      return Status::Ok();
    }
    if (pos_ + 4 <= s_.size() && IsSpace(s_[pos_]) && s_.substr(pos_ + 1, 3) == "-}}") {
      pos_ += 4;
      trim_next_ = true;
      return Status::Ok();
    }
    return Error(open, "comment ends before closing delimiter");
  }

  // The inside of an action, up to and with its "}}".
  Status Action(size_t open) {
    while (true) {
      bool space = false;
      while (pos_ < s_.size() && IsSpace(s_[pos_])) {
        pos_++;
        space = true;
      }
      if (pos_ >= s_.size()) return Error(open, "unclosed action");
      if (space && s_.substr(pos_, 3) == "-}}") {
        pos_ += 3;
        trim_next_ = true;
        Emit(Token::Kind::kRightDelim, "", pos_ - 3, true);
        return Status::Ok();
      }
      if (s_.substr(pos_, 2) == "}}") {
        pos_ += 2;
        Emit(Token::Kind::kRightDelim, "", pos_ - 2, space);
        return Status::Ok();
      }
      RETURN_IF_ERROR(One(space));
    }
  }

  // One token inside an action, at pos_.
  Status One(bool space) {
    const size_t start = pos_;
    const char c = s_[pos_];
    const char n = pos_ + 1 < s_.size() ? s_[pos_ + 1] : '\0';
    auto simple = [&](Token::Kind k, size_t len) {
      pos_ += len;
      Emit(k, std::string(s_.substr(start, len)), start, space);
      return Status::Ok();
    };
    if (c == '|') return simple(Token::Kind::kPipe, 1);
    if (c == '(') return simple(Token::Kind::kLeftParen, 1);
    if (c == ')') return simple(Token::Kind::kRightParen, 1);
    if (c == ',') return simple(Token::Kind::kComma, 1);
    if (c == '=') return simple(Token::Kind::kAssign, 1);
    if (c == ':') {
      if (n != '=') return Error(start, "expected :=");
      return simple(Token::Kind::kDeclare, 2);
    }
    if (c == '"') return QuotedString(space);
    if (c == '`') return RawString(space);
    if (c == '\'') return Char(space);
    if (c == '$') return Word(Token::Kind::kVariable, 1, space);
    if (c == '.' && IsDigit(n)) return Number(space);
    if (c == '.' && IsAlnum(n)) return Word(Token::Kind::kField, 1, space);
    if (c == '.') return simple(Token::Kind::kDot, 1);
    if (c == '+' || c == '-' || IsDigit(c)) return Number(space);
    if (IsAlnum(c)) return Word(Token::Kind::kIdentifier, 0, space);
    char buf[64];
    std::snprintf(buf, sizeof buf, "unrecognized character in action: U+%04X", c & 0xFF);
    return Error(start, buf);
  }

  // An identifier, $variable or .field: `skip` leading bytes then [A-Za-z0-9_]*.
  Status Word(Token::Kind k, size_t skip, bool space) {
    const size_t start = pos_;
    pos_ += skip;
    while (pos_ < s_.size() && IsAlnum(s_[pos_])) pos_++;
    std::string text(s_.substr(start, pos_ - start));
    Emit(k, k == Token::Kind::kField ? text.substr(1) : text, start, space);
    return Status::Ok();
  }

  Status Number(bool space) {
    const size_t start = pos_;
    if (s_[pos_] == '+' || s_[pos_] == '-') pos_++;
    std::string_view digits = "0123456789_";
    if (s_.substr(pos_, 2) == "0x" || s_.substr(pos_, 2) == "0X") {
      pos_ += 2;
      digits = "0123456789abcdefABCDEF_";
    } else if (s_.substr(pos_, 2) == "0o" || s_.substr(pos_, 2) == "0O" ||
               s_.substr(pos_, 2) == "0b" || s_.substr(pos_, 2) == "0B") {
      pos_ += 2;
    }
    auto run = [&] {
      while (pos_ < s_.size() && digits.find(s_[pos_]) != std::string_view::npos) pos_++;
    };
    run();
    if (pos_ < s_.size() && s_[pos_] == '.') {
      pos_++;
      run();
    }
    if (digits.size() == 11 && pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      pos_++;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) pos_++;
      run();
    }
    if (pos_ < s_.size() && (IsAlnum(s_[pos_]) || s_[pos_] == '.'))
      return Error(
          start, "bad number syntax: \"" + std::string(s_.substr(start, pos_ + 1 - start)) + "\"");
    Emit(Token::Kind::kNumber, std::string(s_.substr(start, pos_ - start)), start, space);
    return Status::Ok();
  }

  Status RawString(bool space) {
    const size_t start = pos_;
    size_t close = s_.find('`', pos_ + 1);
    if (close == std::string_view::npos) return Error(start, "unterminated raw quoted string");
    pos_ = close + 1;
    Emit(Token::Kind::kString, std::string(s_.substr(start + 1, close - start - 1)), start, space);
    return Status::Ok();
  }

  Status QuotedString(bool space) {
    const size_t start = pos_++;
    std::string value;
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n') return Error(start, "unterminated quoted string");
      char c = s_[pos_];
      if (c == '"') break;
      if (c == '\\') {
        RETURN_IF_ERROR(Escape(&value, '"'));
      } else {
        value += c;
        pos_++;
      }
    }
    pos_++;
    Emit(Token::Kind::kString, std::move(value), start, space);
    return Status::Ok();
  }

  Status Char(bool space) {
    const size_t start = pos_++;
    std::string value;
    if (pos_ < s_.size() && s_[pos_] == '\\') {
      RETURN_IF_ERROR(Escape(&value, '\''));
    } else {
      while (pos_ < s_.size() && s_[pos_] != '\'' && s_[pos_] != '\n') value += s_[pos_++];
    }
    if (pos_ >= s_.size() || s_[pos_] != '\'' || value.empty())
      return Error(start, "unterminated character constant");
    pos_++;
    // The rune's value: decode the (one) UTF-8 sequence.
    uint32_t r = static_cast<unsigned char>(value[0]);
    if (r >= 0x80) {
      int len = (r >> 5) == 6 ? 2 : (r >> 4) == 14 ? 3 : 4;
      r &= 0x7F >> len;
      for (int k = 1; k < len && k < static_cast<int>(value.size()); k++)
        r = (r << 6) | (static_cast<unsigned char>(value[k]) & 0x3F);
    }
    Emit(Token::Kind::kChar, std::to_string(r), start, space);
    return Status::Ok();
  }

  // A backslash escape at pos_ (Go's: \a \b \f \n \r \t \v \\ \' \" \xHH
  // \NNN \uHHHH \UHHHHHHHH), its value appended to out.
  Status Escape(std::string* out, char quote) {
    const size_t at = pos_++;
    if (pos_ >= s_.size()) return Error(at, "unterminated quoted string");
    char c = s_[pos_++];
    switch (c) {
      case 'a':
        *out += '\a';
        return Status::Ok();
      case 'b':
        *out += '\b';
        return Status::Ok();
      case 'f':
        *out += '\f';
        return Status::Ok();
      case 'n':
        *out += '\n';
        return Status::Ok();
      case 'r':
        *out += '\r';
        return Status::Ok();
      case 't':
        *out += '\t';
        return Status::Ok();
      case 'v':
        *out += '\v';
        return Status::Ok();
      case '\\':
        *out += '\\';
        return Status::Ok();
    }
    if (c == quote) {
      *out += c;
      return Status::Ok();
    }
    int len = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : (c >= '0' && c <= '7') ? 2 : 0;
    if (len == 0) return Error(at, std::string("unknown escape sequence \\") + c);
    uint32_t v = c >= '0' && c <= '7' ? c - '0' : 0;
    int base = c >= '0' && c <= '7' ? 8 : 16;
    for (int k = 0; k < len; k++, pos_++) {
      int d = pos_ < s_.size() ? HexValue(s_[pos_]) : -1;
      if (d < 0 || d >= base) return Error(at, "bad escape sequence in string");
      v = v * base + d;
    }
    if (c == 'x' || base == 8) {
      if (v > 255) return Error(at, "octal escape value > 255");
      *out += static_cast<char>(v);
    } else {
      if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return Error(at, "escape sequence is invalid Unicode code point");
      AppendUtf8(out, v);
    }
    return Status::Ok();
  }

  const Tree& t_;
  std::string_view s_;
  size_t pos_ = 0;
  bool trim_next_ = false;
  std::vector<Token> out_;
};

}  // namespace

Result<std::vector<Token>> Lex(const Tree& tree) { return Lexer(tree).Run(); }

}  // namespace cfs::tmpl
