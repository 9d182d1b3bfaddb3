#include "exec.h"

#include <utility>
#include <vector>

#include "functions.h"
#include "go_fmt.h"

namespace cfs::tmpl {

namespace {

using K = Value::Kind;

// How a value prints in the output: strings as they are, nil as Go's
// "<no value>", the rest as %v.
std::string Printed(const Value& v) {
  if (v.is_nil()) return "<no value>";
  if (v.kind() == K::kString) return v.str();
  return FormatValue(v);
}

class Exec {
 public:
  explicit Exec(const Tree& t) : t_(t) {}

  Result<std::string> Run(const Value& data) {
    vars_.emplace_back("$", data);
    current_ = t_.name;
    Flow flow = Flow::kNormal;
    RETURN_IF_ERROR(Walk(data, t_.main, &flow));
    return std::move(out_);
  }

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  static constexpr int kMaxDepth = 1000;

  // "NAME:LINE:COL: executing "TEMPLATE" at <text>: msg".
  Status Error(size_t pos, size_t end, const std::string& msg) const {
    std::string at = t_.text.substr(pos, end > pos ? end - pos : 0);
    if (at.size() > 40) at = at.substr(0, 37) + "...";
    return Status::Invalid(t_.Where(pos) + ": executing \"" + current_ + "\"" +
                           (at.empty() ? "" : " at <" + at + ">") + ": " + msg);
  }
  Status Error(const Term& t, const std::string& msg) const { return Error(t.pos, t.end, msg); }

  Status Walk(const Value& dot, const NodeList& list, Flow* flow) {
    for (const Node& n : list) {
      RETURN_IF_ERROR(WalkNode(dot, n, flow));
      if (*flow != Flow::kNormal) return Status::Ok();
    }
    return Status::Ok();
  }

  Status WalkNode(const Value& dot, const Node& n, Flow* flow) {
    switch (n.kind) {
      case Node::Kind::kText:
        out_ += n.text;
        return Status::Ok();
      case Node::Kind::kAction: {
        ASSIGN_OR_RETURN(Value v, EvalPipeline(dot, *n.pipe, true));
        if (n.pipe->decl.empty()) out_ += Printed(v);
        return Status::Ok();
      }
      case Node::Kind::kIf:
      case Node::Kind::kWith:
      case Node::Kind::kRange:
      case Node::Kind::kTemplate:
        return WalkNested(dot, n, flow);
      case Node::Kind::kBreak:
        *flow = Flow::kBreak;
        return Status::Ok();
      case Node::Kind::kContinue:
        *flow = Flow::kContinue;
        return Status::Ok();
    }
    return Status::Ok();
  }

  // A control block or template call, counted: the executor recurses into
  // them, so their depth (template calls and blocks together) is bounded.
  Status WalkNested(const Value& dot, const Node& n, Flow* flow) {
    if (depth_ >= kMaxDepth)
      return Error(n.pos, n.pos,
                   "exceeded maximum template depth (" + std::to_string(kMaxDepth) + ")");
    depth_++;
    Status s = n.kind == Node::Kind::kRange      ? WalkRange(dot, n, flow)
               : n.kind == Node::Kind::kTemplate ? WalkTemplate(dot, n)
                                                 : WalkIfWith(dot, n, flow);
    depth_--;
    return s;
  }

  // Variables the pipeline declares live until the end of the block.
  Status WalkIfWith(const Value& dot, const Node& n, Flow* flow) {
    const size_t mark = vars_.size();
    ASSIGN_OR_RETURN(Value v, EvalPipeline(dot, *n.pipe, true));
    Status s = v.Truth() ? Walk(n.kind == Node::Kind::kWith ? v : dot, n.body, flow)
                         : Walk(dot, n.else_body, flow);
    vars_.resize(mark);
    return s;
  }

  Status WalkRange(const Value& dot, const Node& n, Flow* flow) {
    const size_t mark = vars_.size();
    ASSIGN_OR_RETURN(Value v, EvalPipeline(dot, *n.pipe, true));
    const size_t body_mark = vars_.size();
    auto step = [&](const Value& key, const Value& elem, bool* stop) -> Status {
      SetRangeVars(*n.pipe, body_mark, key, elem);
      Flow f = Flow::kNormal;
      RETURN_IF_ERROR(Walk(elem, n.body, &f));
      vars_.resize(body_mark);
      *stop = f == Flow::kBreak;
      return Status::Ok();
    };
    size_t count = 0;
    bool stop = false;
    Status s;
    if (v.kind() == K::kList) {
      for (; s.ok() && !stop && count < v.list().size(); count++)
        s = step(Value(static_cast<int64_t>(count)), v.list()[count], &stop);
    } else if (v.kind() == K::kMap) {
      for (auto it = v.map().begin(); s.ok() && !stop && it != v.map().end(); ++it, count++)
        s = step(Value(it->first), it->second, &stop);
    } else if (v.kind() == K::kInt) {
      if (n.pipe->decl.size() > 1)
        return Error(n.pipe->pos, n.pipe->pos,
                     "can't use an int to iterate over more than one variable");
      for (int64_t i = 0; s.ok() && !stop && i < v.integer(); i++, count++)
        s = step(Value(i), Value(i), &stop);
    } else if (!v.is_nil()) {
      return Error(n.pipe->pos, n.pipe->cmds.back().end, "range can't iterate over " + Printed(v));
    }
    if (s.ok() && count == 0) s = Walk(dot, n.else_body, flow);
    vars_.resize(mark);
    return s;
  }

  // $v, or $k, $v, for one iteration of a range.
  void SetRangeVars(const Pipeline& p, size_t body_mark, const Value& key, const Value& elem) {
    if (p.decl.empty()) return;
    std::vector<Value> vals =
        p.decl.size() == 1 ? std::vector<Value>{elem} : std::vector<Value>{key, elem};
    if (!p.assign) {
      // EvalPipeline pushed decl.size() variables just below body_mark.
      for (size_t i = 0; i < vals.size(); i++) vars_[body_mark - vals.size() + i].second = vals[i];
      return;
    }
    for (size_t i = 0; i < vals.size(); i++) SetVar(p.decl[i], vals[i]);
  }

  Status WalkTemplate(const Value& dot, const Node& n) {
    // A defined template, else (as in Go) the main one by its name.
    auto it = t_.defines.find(n.text);
    const NodeList* body = it != t_.defines.end() ? &it->second
                           : n.text == t_.name    ? &t_.main
                                                  : nullptr;
    if (!body) return Error(n.pos, n.pos, "template \"" + n.text + "\" not defined");
    Value arg;
    if (n.pipe) {
      ASSIGN_OR_RETURN(arg, EvalPipeline(dot, *n.pipe, false));
    }
    std::vector<std::pair<std::string, Value>> saved_vars = std::move(vars_);
    std::string saved_name = std::move(current_);
    vars_ = {{"$", arg}};
    current_ = n.text;
    Flow flow = Flow::kNormal;
    Status s = Walk(arg, *body, &flow);
    vars_ = std::move(saved_vars);
    current_ = std::move(saved_name);
    return s;
  }

  // The pipeline's value; with `declare`, its variables set or pushed.
  Result<Value> EvalPipeline(const Value& dot, const Pipeline& p, bool declare) {
    Value v;
    for (size_t i = 0; i < p.cmds.size(); i++) {
      ASSIGN_OR_RETURN(v, EvalCommand(dot, p.cmds[i], i > 0 ? &v : nullptr));
    }
    if (!declare) return v;
    for (const std::string& name : p.decl) {
      if (p.assign)
        SetVar(name, v);
      else
        vars_.emplace_back(name, v);
    }
    return v;
  }

  void SetVar(const std::string& name, const Value& v) {
    for (size_t i = vars_.size(); i-- > 0;)
      if (vars_[i].first == name) {
        vars_[i].second = v;
        return;
      }
  }

  Result<Value> Var(const Term& t) const {
    for (size_t i = vars_.size(); i-- > 0;)
      if (vars_[i].first == t.name) return vars_[i].second;
    return Error(t, "undefined variable: " + t.name);
  }

  // One command; `final` is the value piped in (null for the first).
  Result<Value> EvalCommand(const Value& dot, const Command& c, const Value* final) {
    const Term& first = c.args[0];
    if (first.kind == Term::Kind::kFunction) return Call(dot, c, final);
    if (first.kind == Term::Kind::kNil) return Error(first, "nil is not a command");
    if (c.args.size() > 1 || final) {
      if (first.kind == Term::Kind::kField)
        return Error(first, first.fields.back() + " is not a method but has arguments");
      return Error(first, "can't give argument to non-function " +
                              t_.text.substr(first.pos, first.end - first.pos));
    }
    return EvalTerm(dot, first);
  }

  // An operand's value (an argument, or a command alone).
  Result<Value> EvalTerm(const Value& dot, const Term& t) {
    Value base;
    switch (t.kind) {
      case Term::Kind::kDot:
        return dot;
      case Term::Kind::kField:
        base = dot;
        break;
      case Term::Kind::kVariable: {
        ASSIGN_OR_RETURN(base, Var(t));
        break;
      }
      case Term::Kind::kPipe: {
        ASSIGN_OR_RETURN(base, EvalPipeline(dot, *t.pipe, false));
        break;
      }
      case Term::Kind::kFunction: {
        Command c;
        c.pos = t.pos;
        c.end = t.end;
        c.args = {t};
        return Call(dot, c, nullptr);
      }
      case Term::Kind::kString:
        return Value(t.name);
      case Term::Kind::kInt:
        return Value(t.i);
      case Term::Kind::kFloat:
        return Value(t.f);
      case Term::Kind::kBool:
        return Value(t.b);
      case Term::Kind::kNil:
        return Value();
    }
    return Fields(base, t);
  }

  // base.f1.f2... for t's fields; a map without the key is an error.
  Result<Value> Fields(Value v, const Term& t) const {
    for (const std::string& f : t.fields) {
      if (v.kind() == K::kMap) {
        auto it = v.map().find(f);
        if (it == v.map().end()) return Error(t, "map has no entry for key \"" + f + "\"");
        Value next = it->second;
        v = std::move(next);
      } else if (v.is_nil()) {
        return Error(t, "nil data; no entry for key \"" + f + "\"");
      } else {
        return Error(t, "can't evaluate field " + f + " in type " + v.TypeName());
      }
    }
    return v;
  }

  Result<Value> Call(const Value& dot, const Command& c, const Value* final) {
    const Term& fn = c.args[0];
    const Function& f = *FindFunction(t_.funcs, fn.name);
    const int n = static_cast<int>(c.args.size() - 1 + (final ? 1 : 0));
    if (n < f.min_args || (f.max_args >= 0 && n > f.max_args)) {
      std::string want = f.max_args < 0 ? "at least " + std::to_string(f.min_args)
                         : f.min_args == f.max_args
                             ? std::to_string(f.min_args)
                             : std::to_string(f.min_args) + " to " + std::to_string(f.max_args);
      return Error(fn, "wrong number of args for " + fn.name + ": want " + want + " got " +
                           std::to_string(n));
    }
    if (!f.call) return AndOr(dot, c, final, fn.name == "and");
    std::vector<Value> args;
    for (size_t i = 1; i < c.args.size(); i++) {
      ASSIGN_OR_RETURN(Value v, EvalTerm(dot, c.args[i]));
      args.push_back(std::move(v));
    }
    if (final) args.push_back(*final);
    auto r = f.call(args);
    if (!r.ok()) return Error(fn, "error calling " + fn.name + ": " + r.status().message());
    return r;
  }

  // and: the first false argument, or the last; or: the first true one,
  // or the last. Arguments after the deciding one are not evaluated.
  Result<Value> AndOr(const Value& dot, const Command& c, const Value* final, bool is_and) {
    Value v;
    for (size_t i = 1; i < c.args.size(); i++) {
      ASSIGN_OR_RETURN(v, EvalTerm(dot, c.args[i]));
      if (v.Truth() != is_and) return v;
    }
    return final ? *final : v;
  }

  const Tree& t_;
  std::vector<std::pair<std::string, Value>> vars_;  // innermost last
  std::string current_;                              // the template running, for messages
  int depth_ = 0;                                    // nested blocks and template calls
  std::string out_;
};

}  // namespace

Result<std::string> ExecuteTree(const Tree& tree, const Value& data) {
  return Exec(tree).Run(data);
}

}  // namespace cfs::tmpl
