#include "builder/kubefile.h"
#include "base/strings.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace cfs::builder {

namespace {

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool ValidName(const std::string& n) {
  if (n.empty() || !(std::isalpha(static_cast<unsigned char>(n[0])) || n[0] == '_')) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// A JSON array of strings, when s is one.
bool JsonArray(const std::string& s, std::vector<std::string>* out) {
  if (s.empty() || s[0] != '[') return false;
  try {
    auto j = nlohmann::json::parse(s);
    if (!j.is_array()) return false;
    out->clear();
    for (const auto& v : j) {
      if (!v.is_string()) return false;
      out->push_back(v.get<std::string>());
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

bool ValidAppName(const std::string& n) {
  if (n.empty() || n.size() > 255 || n[0] == '.' || n[0] == '-') return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

Result<std::vector<std::string>> SplitWords(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < s.size() &&
                 (s[i + 1] == '"' || s[i + 1] == '\\')) {
        cur += s[++i];
      } else if (c == '$' && quote == '\'') {
        cur += "\\$";  // single quotes are literal: Expand must leave it alone
      } else {
        cur += c;
      }
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) out.push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '\\' && i + 1 < s.size()) {
      if (s[i + 1] == '$') cur += '\\';  // "\$" stays for Expand to turn into '$'
      cur += s[++i];
    } else {
      cur += c;
    }
  }
  if (quote) return Status::Invalid(std::string("unterminated ") + quote + " quote");
  if (in_word) out.push_back(cur);
  return out;
}

std::string Expand(const std::string& s,
                   const std::vector<std::pair<std::string, std::string>>& vars) {
  auto lookup = [&](const std::string& n, bool* found) -> std::string {
    // The last definition wins.
    for (auto it = vars.rbegin(); it != vars.rend(); ++it)
      if (it->first == n) {
        *found = true;
        return it->second;
      }
    *found = false;
    return "";
  };
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && s[i + 1] == '$') {
      out += '$';
      i++;
      continue;
    }
    if (c != '$' || i + 1 >= s.size()) {
      out += c;
      continue;
    }
    if (s[i + 1] == '{') {
      auto close = s.find('}', i + 2);
      if (close == std::string::npos) {
        out += c;
        continue;
      }
      std::string body = s.substr(i + 2, close - i - 2);
      std::string name = body, def;
      bool has_def = false;
      auto dash = body.find(":-");
      if (dash != std::string::npos) {
        name = body.substr(0, dash);
        def = body.substr(dash + 2);
        has_def = true;
      }
      bool found;
      std::string v = lookup(name, &found);
      out += (!found || v.empty()) && has_def ? def : v;
      i = close;
      continue;
    }
    size_t j = i + 1;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) j++;
    if (j == i + 1 || std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
      out += c;
      continue;
    }
    bool found;
    out += lookup(s.substr(i + 1, j - i - 1), &found);
    i = j - 1;
  }
  return out;
}

namespace {

// The lines of text ('\n'-separated; no empty last line for a final '\n').
std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) {
      if (start < text.size()) lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// The instruction text starting at lines[*i] (trimmed, not empty, not a
// comment): a trailing backslash joins the next line (comment lines inside
// are skipped, as docker does). Leaves *i on its last line.
std::string JoinContinuations(const std::vector<std::string>& lines, const std::string& first,
                              size_t* i) {
  std::string joined = first;
  while (!joined.empty() && joined.back() == '\\') {
    joined.pop_back();
    bool more = false;
    while (++*i < lines.size()) {
      std::string next = Trim(lines[*i]);
      if (!next.empty() && next.back() == '\r') next.pop_back();
      if (!next.empty() && next[0] == '#') continue;
      joined += " " + next;
      more = true;
      break;
    }
    if (!more) break;
  }
  return joined;
}

// Words separated by runs of space, tab, \v, \f or \r (sealer's
// tokenWhitespace), quotes not special.
std::vector<std::string> BlankSeparated(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Parses in->args of one instruction; errors are "FILE:LINE: reason"
// (the caller adds "FILE:LINE: ").
class ArgParser {
 public:
  // The last CMD, CMDS and LAUNCH so far (0: none), for sealer's rules
  // between them.
  int cmd_line = 0, cmds_line = 0, launch_line = 0;

  Status Parse(Instruction* in) {
    const std::string& k = in->keyword;
    // sealer: CMDS and LAUNCH end the Kubefile.
    if (int last = std::max(cmds_line, launch_line); last && k != "CMDS" && k != "LAUNCH")
      return Status::Invalid(std::string(last == cmds_line ? "CMDS" : "LAUNCH") +
                             " must be the last instruction (it is on line " +
                             std::to_string(last) + ")");
    if (k == "FROM") return From(in);
    if (k == "ARG") return Arg(in);
    if (k == "ENV" || k == "LABEL") return KeyValues(in);
    if (k == "COPY" || k == "ADD") return Copy(in);
    if (k == "RUN" || k == "CMDS" || k == "LAUNCH") return List(in);
    if (k == "APP" || k == "CNI" || k == "CSI") return App(in);
    if (k == "APPCMDS") return AppCmds(in);
    if (k == "APPENV") return AppEnv(in);
    if (k == "CMD") {
      if (in->raw.empty()) return Status::Invalid("CMD needs a command");
      cmd_line = in->line;
      std::vector<std::string> w;
      in->json_form = JsonArray(in->raw, &w);
    }
    in->args = {in->raw};  // CMD, MAINTAINER, KUBEVERSION
    return Status::Ok();
  }

 private:
  // "A and B cannot be used together (OTHER is on line N)".
  static Status Together(const std::string& pair, const std::string& other, int line) {
    return Status::Invalid(pair + " cannot be used together (" + other + " is on line " +
                           std::to_string(line) + ")");
  }

  // FROM [--platform=P] image: sealer takes --platform only.
  static Status From(Instruction* in) {
    auto w = SplitWords(in->raw);
    if (!w.ok()) return Status::Invalid("FROM: " + w.status().message());
    std::vector<std::string> rest;
    for (const auto& a : *w) {
      if (!a.starts_with("--")) {
        rest.push_back(a);
        continue;
      }
      if (!a.starts_with("--platform=") || a.size() == 11)
        return Status::Invalid("FROM: option " + a + " is not supported (only --platform=os/arch)");
      in->platform = a.substr(11);
    }
    if (rest.size() != 1) return Status::Invalid("FROM takes one image name (or scratch)");
    in->args = rest;
    return Status::Ok();
  }

  static Status Arg(Instruction* in) {
    const std::string& a = in->raw;
    auto eq = a.find('=');
    std::string name = Trim(eq == std::string::npos ? a : a.substr(0, eq));
    if (!ValidName(name))
      return Status::Invalid("ARG: bad name \"" + name + "\" (want ARG name[=default])");
    in->args.push_back(name);
    if (eq == std::string::npos) return Status::Ok();
    auto v = SplitWords(a.substr(eq + 1));
    if (!v.ok()) return Status::Invalid("ARG: " + v.status().message());
    if (v->size() > 1) return Status::Invalid("ARG: one name[=default] per line");
    in->args.push_back(v->empty() ? "" : (*v)[0]);
    in->arg_has_default = true;
    return Status::Ok();
  }

  static Status KeyValues(Instruction* in) {
    const std::string& k = in->keyword;
    auto w = SplitWords(in->raw);
    if (!w.ok()) return Status::Invalid(k + ": " + w.status().message());
    if (w->empty()) return Status::Invalid(k + " needs key=value");
    if ((*w)[0].find('=') == std::string::npos) {
      // Legacy form: ENV key value...
      if (w->size() < 2) return Status::Invalid(k + ": want key=value (or " + k + " key value)");
      std::string key = (*w)[0];
      auto rest = in->raw.substr(in->raw.find(key) + key.size());
      in->args = {key, Trim(rest)};
    } else {
      for (const auto& kv : *w) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
          return Status::Invalid(k + ": \"" + kv + "\" is not key=value");
        in->args.push_back(kv.substr(0, eq));
        in->args.push_back(kv.substr(eq + 1));
      }
    }
    if (k == "ENV")
      for (size_t a = 0; a < in->args.size(); a += 2)
        if (!ValidName(in->args[a])) return Status::Invalid("ENV: bad name \"" + in->args[a] + "\"");
    return Status::Ok();
  }

  // COPY, ADD.
  static Status Copy(Instruction* in) {
    const std::string& k = in->keyword;
    std::vector<std::string> w;
    if (JsonArray(in->raw, &w)) {
      in->json_form = true;
    } else {
      auto s = SplitWords(in->raw);
      if (!s.ok()) return Status::Invalid(k + ": " + s.status().message());
      w = *s;
    }
    // Flags docker knows are not part of sealer's COPY.
    for (const auto& a : w)
      if (a.rfind("--", 0) == 0) return Status::Invalid(k + ": options (" + a + ") are not supported");
    if (w.size() < 2) return Status::Invalid(k + " needs a source and a destination");
    in->args = w;
    return Status::Ok();
  }

  // The words of an instruction that takes a JSON list or plain words
  // (sealer's parseMaybeJSONToList).
  static Status JsonOrWords(Instruction* in, std::vector<std::string>* out) {
    if (JsonArray(in->raw, out)) {
      in->json_form = true;
      return Status::Ok();
    }
    if (!in->raw.empty() && in->raw[0] == '[')
      return Status::Invalid(in->keyword + ": not a JSON list of strings");
    auto w = SplitWords(in->raw);
    if (!w.ok()) return Status::Invalid(in->keyword + ": " + w.status().message());
    *out = *w;
    return Status::Ok();
  }

  static Status AppName(const Instruction& in, const std::string& name) {
    if (ValidAppName(name)) return Status::Ok();
    return Status::Invalid(in.keyword + ": bad app name \"" + name +
                           "\" (letters, digits, '.', '_', '-'; it names application/apps/NAME)");
  }

  // APP, CNI, CSI: name src...; sources local://PATH or http(s)://URL.
  static Status App(Instruction* in) {
    const std::string& k = in->keyword;
    std::vector<std::string> w;
    RETURN_IF_ERROR(JsonOrWords(in, &w));
    if (w.size() < 2) return Status::Invalid(k + " needs a name and at least one source (" + k + " name local://path)");
    RETURN_IF_ERROR(AppName(*in, w[0]));
    for (size_t i = 1; i < w.size(); i++) {
      const std::string& src = w[i];
      if (src.starts_with("http://") || src.starts_with("https://")) continue;
      if (!src.starts_with("local://"))
        return Status::Invalid(k + ": source \"" + src + "\" must start with local://, http:// or https://");
      if (src.size() == 8) return Status::Invalid(k + ": empty local:// path");
    }
    in->args = w;
    return Status::Ok();
  }

  // APPCMDS name ["cmd", ...]: the list must be JSON (sealer unmarshals it).
  static Status AppCmds(Instruction* in) {
    const std::string& raw = in->raw;
    size_t sp = 0;
    while (sp < raw.size() && !std::isspace(static_cast<unsigned char>(raw[sp]))) sp++;
    std::string name = raw.substr(0, sp);
    RETURN_IF_ERROR(AppName(*in, name));
    std::vector<std::string> cmds;
    if (!JsonArray(Trim(raw.substr(sp)), &cmds))
      return Status::Invalid("APPCMDS takes an app name and a JSON list of strings, e.g. APPCMDS " +
                             name + " [\"kubectl apply -f app.yaml\"]");
    if (cmds.empty()) return Status::Invalid("APPCMDS: empty list");
    in->json_form = true;
    in->args = {name};
    in->args.insert(in->args.end(), cmds.begin(), cmds.end());
    return Status::Ok();
  }

  // APPENV name K=V...: entries without '=' are skipped, as sealer does;
  // keys must be shell names (deploy exports them).
  static Status AppEnv(Instruction* in) {
    std::vector<std::string> w;
    RETURN_IF_ERROR(JsonOrWords(in, &w));
    if (w.empty()) return Status::Invalid("APPENV needs an app name");
    RETURN_IF_ERROR(AppName(*in, w[0]));
    in->args = {w[0]};
    for (size_t i = 1; i < w.size(); i++) {
      auto eq = w[i].find('=');
      if (eq == std::string::npos) continue;
      std::string key = w[i].substr(0, eq);
      if (!ValidName(key)) return Status::Invalid("APPENV: bad name \"" + key + "\"");
      in->args.push_back(key);
      in->args.push_back(w[i].substr(eq + 1));
    }
    return Status::Ok();
  }

  // RUN, CMDS, LAUNCH.
  Status List(Instruction* in) {
    const std::string& k = in->keyword;
    std::vector<std::string> w;
    if (k == "LAUNCH") {
      RETURN_IF_ERROR(JsonOrWords(in, &w));  // sealer: LAUNCH app1 app2 also works
      if (w.empty()) return Status::Invalid("LAUNCH: empty list");
      for (const auto& a : w) RETURN_IF_ERROR(AppName(*in, a));
      in->args = w;
    } else if (JsonArray(in->raw, &w)) {
      in->json_form = true;
      if (w.empty()) return Status::Invalid(k + ": empty list");
      in->args = w;
    } else if (k == "RUN") {
      in->args = {in->raw};
      return Status::Ok();
    } else if (!in->raw.empty() && in->raw[0] == '[') {
      return Status::Invalid(k + ": not a JSON list of strings");
    } else {
      // sealer (parseMaybeJSONToList): every word is a command of its own,
      // words split at blanks with no quoting.
      in->args = BlankSeparated(in->raw);
    }
    if (k == "RUN") return Status::Ok();
    int& mine = k == "CMDS" ? cmds_line : launch_line;
    if (mine) return Status::Invalid("only one " + k + " may be given (line " + std::to_string(mine) + " has one)");
    mine = in->line;
    // sealer's rule: an image either runs commands (CMDS) or launches apps
    // (LAUNCH), never both; nor CMD with LAUNCH.
    if (cmds_line && launch_line)
      return Together("CMDS and LAUNCH", k == "CMDS" ? "LAUNCH" : "CMDS",
                      k == "CMDS" ? launch_line : cmds_line);
    if (k == "LAUNCH" && cmd_line) return Together("CMD and LAUNCH", "CMD", cmd_line);
    return Status::Ok();
  }
};

// The checks every instruction gets before its arguments are parsed.
Status CheckPlace(const Kubefile& kf, const Instruction& in, const std::string& word) {
  const std::string& k = in.keyword;
  static const char* kKnown[] = {"FROM",   "ARG",    "ENV",     "LABEL",  "MAINTAINER",
                                 "COPY",   "ADD",    "RUN",     "CMD",    "CMDS",
                                 "LAUNCH", "APP",    "APPCMDS", "APPENV", "CNI",
                                 "CSI",    "KUBEVERSION"};
  bool known = false;
  for (const char* n : kKnown) known |= k == n;
  if (!known) return Status::Invalid("unknown instruction \"" + word + "\"");
  if (kf.instructions.empty() && k != "FROM")
    return Status::Invalid("FROM must be the first instruction (found " + k + ")");
  if (!kf.instructions.empty() && k == "FROM")
    return Status::Invalid("FROM may appear only once, as the first instruction");
  if (in.raw.empty() && k != "CMD") return Status::Invalid(k + " needs an argument");
  return Status::Ok();
}

}  // namespace

Result<Kubefile> ParseKubefile(const std::string& text, const std::string& path) {
  Kubefile kf;
  kf.path = path;
  auto at = [&](int line) { return path + ":" + std::to_string(line); };
  // A NUL would silently cut the instruction where C strings meet it.
  if (auto nul = text.find('\0'); nul != std::string::npos)
    return Status::Invalid(
        at(static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n')) + 1) +
        ": NUL byte");
  const std::vector<std::string> lines = SplitLines(text);
  ArgParser args;
  for (size_t i = 0; i < lines.size(); i++) {
    std::string line = lines[i];
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::string t = Trim(line);
    if (t.empty() || t[0] == '#') continue;
    Instruction in;
    in.line = static_cast<int>(i) + 1;
    std::string joined = JoinContinuations(lines, t, &i);
    size_t sp = 0;
    while (sp < joined.size() && !std::isspace(static_cast<unsigned char>(joined[sp]))) sp++;
    in.keyword = Upper(joined.substr(0, sp));
    in.raw = Trim(joined.substr(sp));
    RETURN_IF_ERROR(CheckPlace(kf, in, joined.substr(0, sp)).Prefix(at(in.line)));
    RETURN_IF_ERROR(args.Parse(&in).Prefix(at(in.line)));
    kf.instructions.push_back(std::move(in));
  }
  if (kf.instructions.empty()) return Status::Invalid(path + ": no instructions (want FROM first)");
  return kf;
}

}  // namespace cfs::builder
