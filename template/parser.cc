#include "parser.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "functions.h"
#include "lexer.h"

namespace cfs::tmpl {

namespace {

using TK = Token::Kind;

bool IsKeyword(const std::string& s) {
  static const char* kWords[] = {"if",     "else",     "end",   "range", "with",
                                 "define", "template", "block", "break", "continue"};
  return std::any_of(std::begin(kWords), std::end(kWords), [&](const char* w) { return s == w; });
}

// How a token reads in a message.
std::string Describe(const Token& t) {
  switch (t.kind) {
    case TK::kEOF:
      return "EOF";
    case TK::kRightDelim:
      return "\"}}\"";
    case TK::kLeftDelim:
      return "\"{{\"";
    case TK::kText:
      return "text";
    case TK::kField:
      return "\"." + t.text + "\"";
    default:
      return "\"" + t.text + "\"";
  }
}

// A whitespace-only list: a define that is only a placeholder.
bool IsEmptyList(const NodeList& l) {
  return std::all_of(l.begin(), l.end(), [](const Node& n) {
    return n.kind == Node::Kind::kText && n.text.find_first_not_of(" \t\r\n") == std::string::npos;
  });
}

// What ends a list: {{end}}, {{else}} (its next tokens not read yet), EOF.
struct Stop {
  enum class Kind { kEnd, kElse, kEOF } kind = Kind::kEOF;
  size_t pos = 0;
};

class Parser {
 public:
  Parser(Tree* t, std::vector<Token> toks) : t_(*t), toks_(std::move(toks)) {}

  Status Run() {
    Stop stop;
    RETURN_IF_ERROR(ParseList(&t_.main, &stop, true));
    if (stop.kind == Stop::Kind::kEnd) return Error(stop.pos, "unexpected {{end}}");
    if (stop.kind == Stop::Kind::kElse) return Error(stop.pos, "unexpected {{else}}");
    return Status::Ok();
  }

 private:
  const Token& Peek(size_t k = 0) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  const Token& Next() { return toks_[std::min(i_++, toks_.size() - 1)]; }
  Status Error(size_t pos, const std::string& msg) const {
    return Status::Invalid(t_.Where(pos) + ": " + msg);
  }
  Status Expect(TK kind, const char* context) {
    const Token& t = Next();
    if (t.kind == kind) return Status::Ok();
    if (t.kind == TK::kEOF) return Error(t.pos, std::string("unclosed action in ") + context);
    return Error(t.pos, "unexpected " + Describe(t) + " in " + context);
  }

  // Items up to {{end}}, {{else}} or EOF (told in *stop).
  Status ParseList(NodeList* out, Stop* stop, bool top) {
    while (true) {
      const Token& t = Next();
      if (t.kind == TK::kEOF) {
        stop->kind = Stop::Kind::kEOF;
        return Status::Ok();
      }
      if (t.kind == TK::kText) {
        Node n;
        n.pos = t.pos;
        n.text = t.text;
        out->push_back(std::move(n));
        continue;
      }
      // kLeftDelim: the lexer emits nothing else between actions.
      const Token& k = Peek();
      if (k.kind == TK::kIdentifier && (k.text == "end" || k.text == "else")) {
        Next();
        *stop = {k.text == "end" ? Stop::Kind::kEnd : Stop::Kind::kElse, k.pos};
        if (stop->kind == Stop::Kind::kEnd) return Expect(TK::kRightDelim, "{{end}}");
        return Status::Ok();
      }
      RETURN_IF_ERROR(ParseAction(t.pos, out, top));
    }
  }

  // One action after its "{{" (at `open`), other than end and else.
  Status ParseAction(size_t open, NodeList* out, bool top) {
    const Token& k = Peek();
    const std::string word = k.kind == TK::kIdentifier ? k.text : "";
    if (word == "if") return ParseControl(Node::Kind::kIf, out);
    if (word == "range") return ParseControl(Node::Kind::kRange, out);
    if (word == "with") return ParseControl(Node::Kind::kWith, out);
    if (word == "template" || word == "block") return ParseTemplate(out);
    if (word == "define") {
      if (!top) return Error(k.pos, "{{define}} is allowed only at the top level");
      return ParseDefine();
    }
    if (word == "break" || word == "continue") {
      Next();
      if (range_depth_ == 0) return Error(k.pos, "{{" + word + "}} outside {{range}}");
      RETURN_IF_ERROR(Expect(TK::kRightDelim, ("{{" + word + "}}").c_str()));
      Node n;
      n.kind = word == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
      n.pos = k.pos;
      out->push_back(std::move(n));
      return Status::Ok();
    }
    Node n;
    n.kind = Node::Kind::kAction;
    n.pos = open;
    ASSIGN_OR_RETURN(n.pipe, ParsePipeline("command", true, false, TK::kRightDelim));
    Next();  // "}}"
    out->push_back(std::move(n));
    return Status::Ok();
  }

  // if / range / with, at the keyword: pipeline, body, [else ...], end.
  Status ParseControl(Node::Kind kind, NodeList* out) {
    const Token& kw = Next();
    const std::string word = kw.text;
    if (++nesting_ > kMaxNesting) return Error(kw.pos, "actions nested too deeply");
    Node n;
    n.kind = kind;
    n.pos = kw.pos;
    const size_t mark = vars_.size();
    ASSIGN_OR_RETURN(
        n.pipe, ParsePipeline(word.c_str(), true, kind == Node::Kind::kRange, TK::kRightDelim));
    Next();  // "}}"
    Stop stop;
    if (kind == Node::Kind::kRange) range_depth_++;
    Status s = ParseList(&n.body, &stop, false);
    if (kind == Node::Kind::kRange) range_depth_--;
    RETURN_IF_ERROR(s);
    if (stop.kind == Stop::Kind::kElse) {
      const Token& next = Peek();
      bool chain = next.kind == TK::kIdentifier && next.text == word && kind != Node::Kind::kRange;
      if (chain) {
        // {{else if x}} is {{else}}{{if x}}...{{end}}: its {{end}} ends both.
        RETURN_IF_ERROR(ParseControl(kind, &n.else_body));
        stop.kind = Stop::Kind::kEnd;
      } else {
        RETURN_IF_ERROR(Expect(TK::kRightDelim, "{{else}}"));
        RETURN_IF_ERROR(ParseList(&n.else_body, &stop, false));
        if (stop.kind == Stop::Kind::kElse)
          return Error(stop.pos, "expected {{end}}; found {{else}}");
      }
    }
    if (stop.kind != Stop::Kind::kEnd)
      return Error(n.pos, "unexpected EOF: {{" + word + "}} has no {{end}}");
    vars_.resize(mark);
    nesting_--;
    out->push_back(std::move(n));
    return Status::Ok();
  }

  // {{template "name" [pipeline]}} or {{block "name" pipeline}}...{{end}}.
  Status ParseTemplate(NodeList* out) {
    const Token& kw = Next();
    const bool block = kw.text == "block";
    const Token& name = Next();
    if (name.kind != TK::kString)
      return Error(name.pos, "unexpected " + Describe(name) + " in " + kw.text + " clause");
    Node n;
    n.kind = Node::Kind::kTemplate;
    n.pos = kw.pos;
    n.text = name.text;
    if (Peek().kind != TK::kRightDelim || block) {
      ASSIGN_OR_RETURN(n.pipe, ParsePipeline(kw.text.c_str(), false, false, TK::kRightDelim));
    }
    Next();  // "}}"
    if (block) RETURN_IF_ERROR(ParseBody(n.text, kw.pos, "block"));
    out->push_back(std::move(n));
    return Status::Ok();
  }

  // {{define "name"}}...{{end}}, at "define".
  Status ParseDefine() {
    const Token& kw = Next();
    const Token& name = Next();
    if (name.kind != TK::kString)
      return Error(name.pos, "unexpected " + Describe(name) + " in define clause");
    RETURN_IF_ERROR(Expect(TK::kRightDelim, "define clause"));
    return ParseBody(name.text, kw.pos, "define");
  }

  // The body of a define or block, up to its {{end}}, with only $ in scope.
  Status ParseBody(const std::string& name, size_t pos, const std::string& word) {
    std::vector<std::string> saved = std::move(vars_);
    vars_ = {"$"};
    const int saved_depth = range_depth_;
    range_depth_ = 0;
    NodeList body;
    Stop stop;
    Status s = ParseList(&body, &stop, false);
    vars_ = std::move(saved);
    range_depth_ = saved_depth;
    RETURN_IF_ERROR(s);
    if (stop.kind == Stop::Kind::kElse) return Error(stop.pos, "unexpected {{else}}");
    if (stop.kind == Stop::Kind::kEOF)
      return Error(pos, "unexpected EOF: {{" + word + "}} has no {{end}}");
    auto it = t_.defines.find(name);
    if (it != t_.defines.end() && !IsEmptyList(it->second) && !IsEmptyList(body))
      return Error(pos, "template: multiple definition of template \"" + name + "\"");
    if (it == t_.defines.end() || !IsEmptyList(body)) t_.defines[name] = std::move(body);
    return Status::Ok();
  }

  // [decl :=|=] command [| command]..., up to `end` (not consumed).
  Result<std::shared_ptr<const Pipeline>> ParsePipeline(const char* context, bool decl, bool range,
                                                        TK end) {
    auto p = std::make_shared<Pipeline>();
    p->pos = Peek().pos;
    if (decl) RETURN_IF_ERROR(ParseDecl(p.get(), context, range));
    bool after_pipe = false;
    while (true) {
      const Token& t = Peek();
      if (t.kind == end) {
        if (after_pipe) return Error(t.pos, "missing value for command");
        if (p->cmds.empty()) return Error(t.pos, std::string("missing value for ") + context);
        break;
      }
      Command c;
      RETURN_IF_ERROR(ParseCommand(&c, end));
      p->cmds.push_back(std::move(c));
      after_pipe = Peek().kind == TK::kPipe;
      if (after_pipe) Next();
    }
    for (size_t i = 1; i < p->cmds.size(); i++) {
      Term::Kind k = p->cmds[i].args[0].kind;
      if (k == Term::Kind::kBool || k == Term::Kind::kDot || k == Term::Kind::kNil ||
          k == Term::Kind::kInt || k == Term::Kind::kFloat || k == Term::Kind::kString)
        return Error(p->cmds[i].pos,
                     "non executable command in pipeline stage " + std::to_string(i + 1));
    }
    return std::shared_ptr<const Pipeline>(std::move(p));
  }

  // "$x :=", "$x =", or in range "$i, $v :=".
  Status ParseDecl(Pipeline* p, const char* context, bool range) {
    if (Peek().kind != TK::kVariable) return Status::Ok();
    size_t n = 0;
    if (Peek(1).kind == TK::kDeclare || Peek(1).kind == TK::kAssign) {
      n = 1;
    } else if (Peek(1).kind == TK::kComma && Peek(2).kind == TK::kVariable &&
               (Peek(3).kind == TK::kDeclare || Peek(3).kind == TK::kAssign)) {
      if (!range) return Error(Peek(1).pos, std::string("too many declarations in ") + context);
      n = 2;
    } else {
      return Status::Ok();
    }
    for (size_t k = 0; k < n; k++) p->decl.push_back(Peek(2 * k).text);
    const Token& op = Peek(2 * n - 1);
    p->assign = op.kind == TK::kAssign;
    for (size_t k = 0; k < n; k++) {
      const Token& v = Peek(2 * k);
      if (p->assign && std::find(vars_.begin(), vars_.end(), v.text) == vars_.end())
        return Error(v.pos, "undefined variable \"" + v.text + "\"");
    }
    i_ += 2 * n;
    if (!p->assign)
      for (const auto& v : p->decl) vars_.push_back(v);
    return Status::Ok();
  }

  Status ParseCommand(Command* c, TK end) {
    c->pos = Peek().pos;
    while (true) {
      const Token& t = Peek();
      if (t.kind == end || t.kind == TK::kPipe) break;
      if (t.kind == TK::kRightDelim) return Error(t.pos, "unclosed left paren");
      if (t.kind == TK::kRightParen) return Error(t.pos, "unexpected right paren");
      if (t.kind == TK::kEOF) return Error(t.pos, "unclosed action");
      ASSIGN_OR_RETURN(Term term, ParseOperand());
      c->end = term.end;
      c->args.push_back(std::move(term));
    }
    if (c->args.empty()) return Error(Peek().pos, "missing value for command");
    return Status::Ok();
  }

  Result<Term> ParseOperand() {
    const Token& t = Next();
    Term term;
    term.pos = t.pos;
    term.end = t.end;
    bool chainable = true;
    switch (t.kind) {
      case TK::kField:
        term.kind = Term::Kind::kField;
        term.fields.push_back(t.text);
        break;
      case TK::kVariable:
        if (std::find(vars_.begin(), vars_.end(), t.text) == vars_.end())
          return Error(t.pos, "undefined variable \"" + t.text + "\"");
        term.kind = Term::Kind::kVariable;
        term.name = t.text;
        break;
      case TK::kLeftParen: {
        term.kind = Term::Kind::kPipe;
        if (++nesting_ > kMaxNesting) return Error(t.pos, "parentheses nested too deeply");
        ASSIGN_OR_RETURN(term.pipe,
                         ParsePipeline("parenthesized pipeline", false, false, TK::kRightParen));
        nesting_--;
        term.end = Next().end;  // ")"
        break;
      }
      default:
        chainable = false;
        RETURN_IF_ERROR(ParseLiteral(t, &term));
    }
    while (Peek().kind == TK::kField && !Peek().space_before) {
      if (!chainable) return Error(Peek().pos, "unexpected . after term " + Describe(t));
      term.fields.push_back(Peek().text);
      term.end = Next().end;
    }
    return term;
  }

  // Everything an operand can be but a field, variable or ( pipeline ).
  Status ParseLiteral(const Token& t, Term* term) {
    switch (t.kind) {
      case TK::kDot:
        term->kind = Term::Kind::kDot;
        return Status::Ok();
      case TK::kString:
        term->kind = Term::Kind::kString;
        term->name = t.text;
        return Status::Ok();
      case TK::kChar:
        term->kind = Term::Kind::kInt;
        term->i = std::stoll(t.text);
        return Status::Ok();
      case TK::kNumber:
        return ParseNumber(t, term);
      case TK::kIdentifier:
        break;
      case TK::kRightParen:
        return Error(t.pos, "unexpected right paren");
      default:
        return Error(t.pos, "unexpected " + Describe(t) + " in operand");
    }
    if (t.text == "true" || t.text == "false") {
      term->kind = Term::Kind::kBool;
      term->b = t.text == "true";
    } else if (t.text == "nil") {
      term->kind = Term::Kind::kNil;
    } else if (IsKeyword(t.text)) {
      return Error(t.pos, "unexpected " + Describe(t) + " in operand");
    } else if (FindFunction(t_.funcs, t.text) == nullptr) {
      return Error(t.pos, "function \"" + t.text + "\" not defined");
    } else {
      term->kind = Term::Kind::kFunction;
      term->name = t.text;
    }
    return Status::Ok();
  }

  Status ParseNumber(const Token& t, Term* term) {
    std::string s;
    for (char c : t.text)
      if (c != '_') s += c;
    const bool hex = s.find("0x") != std::string::npos || s.find("0X") != std::string::npos;
    const bool is_float =
        s.find('.') != std::string::npos || (!hex && s.find_first_of("eE") != std::string::npos);
    const Status bad = Error(t.pos, "bad number syntax: \"" + t.text + "\"");
    char* end = nullptr;
    errno = 0;
    if (is_float) {
      if (hex) return bad;
      term->kind = Term::Kind::kFloat;
      term->f = std::strtod(s.c_str(), &end);
      return *end == '\0' && errno == 0 ? Status::Ok() : bad;
    }
    size_t sign_len = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    int base = 10;
    std::string body = s.substr(sign_len);
    if (body.size() > 1 && body[0] == '0') {
      char p = static_cast<char>(std::tolower(static_cast<unsigned char>(body[1])));
      base = p == 'x' ? 16 : p == 'b' ? 2 : 8;
      body = body.substr(p == 'x' || p == 'b' || p == 'o' ? 2 : 1);
    }
    if (body.empty()) return bad;
    unsigned long long v = std::strtoull(body.c_str(), &end, base);
    if (*end != '\0' || errno != 0 || v > 9223372036854775808ull ||
        (v == 9223372036854775808ull && s[0] != '-'))
      return Error(t.pos, "bad number syntax: \"" + t.text + "\" (out of range or not a number)");
    term->kind = Term::Kind::kInt;
    term->i = s[0] == '-' ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
    return Status::Ok();
  }

  Tree& t_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  std::vector<std::string> vars_ = {"$"};
  int range_depth_ = 0;
  // Control blocks and parentheses open now: bounded, as the parser
  // recurses into them.
  static constexpr int kMaxNesting = 100;
  int nesting_ = 0;
};

}  // namespace

Status ParseTree(Tree* tree) {
  ASSIGN_OR_RETURN(std::vector<Token> toks, Lex(*tree));
  return Parser(tree, std::move(toks)).Run();
}

}  // namespace cfs::tmpl
