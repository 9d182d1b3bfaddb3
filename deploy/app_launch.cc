#include "deploy/app_launch.h"

#include <map>

#include "deploy/clusterfile.h"
#include "deploy/ssh_session.h"

namespace cfs::deploy {

namespace {

// root + file, as Go's filepath.Join cleans it; Invalid for a file that
// would leave root.
Result<std::string> AppPath(const std::string& root, const std::string& file) {
  std::string rel, part;
  auto flush = [&]() -> Status {
    if (part == "..") return Status::Invalid("file \"" + file + "\" leaves the app's directory");
    if (!part.empty() && part != ".") rel += (rel.empty() ? "" : "/") + part;
    part.clear();
    return Status::Ok();
  };
  for (char c : file) {
    if (c == '/') {
      RETURN_IF_ERROR(flush());
    } else {
      part += c;
    }
  }
  RETURN_IF_ERROR(flush());
  if (rel.empty()) return Status::Invalid("empty file name");
  return root + rel;
}

Result<std::string> EachFile(const SealerApp& app, const std::string& root, const std::string& verb) {
  std::string cmd;
  for (const auto& f : app.files) {
    ASSIGN_OR_RETURN(std::string p, AppPath(root, f));
    cmd += (cmd.empty() ? "" : " && ") + verb + " " + ShellQuote(p);
  }
  if (cmd.empty()) return Status::Invalid("a " + app.type + " app without files");
  return cmd;
}

Result<std::string> Command(const SealerApp& app, const std::string& root) {
  if (!app.cmds.empty()) {
    std::string cmd = "cd " + ShellQuote(root) + " &&";
    for (const auto& c : app.cmds) cmd += " " + c;
    return cmd;
  }
  if (app.type == "kube") return EachFile(app, root, "kubectl apply -f");
  if (app.type == "shell") return EachFile(app, root, "bash");
  if (app.type == "helm") return "helm install " + ShellQuote(app.name) + " " + ShellQuote(root);
  return Status::Invalid(app.type.empty() ? std::string("no type and no APPCMDS")
                                          : "unknown type " + QuoteForMessage(app.type) +
                                                " and no APPCMDS");
}

}  // namespace

std::map<std::string, std::map<std::string, std::string>> AppTemplateEnvs(
    const SealerImageExtension& ext) {
  std::map<std::string, std::map<std::string, std::string>> out;
  for (const auto& app : ext.applications) {
    std::map<std::string, std::string> env = ext.env;
    for (const auto& [k, v] : app.env) env[k] = v;
    if (!env.empty()) out[app.name] = std::move(env);
  }
  return out;
}

std::string EachInOwnShell(const std::vector<std::string>& cmds) {
  // Newlines around each command: a trailing comment in it cannot swallow
  // the closing parenthesis.
  std::string out;
  for (const auto& c : cmds)
    if (!c.empty()) out += (out.empty() ? "(\n" : " && (\n") + c + "\n)";
  return out;
}

Result<std::string> AppFilePath(const std::string& app, const std::string& file) {
  return AppPath(std::string(kSealerAppRoot) + app + "/", file);
}

Result<AppLaunch> PlanAppLaunch(const SealerImageExtension& ext, const std::string& name,
                                const AppOverride& over) {
  const std::string what = "app " + QuoteForMessage(name);
  const SealerApp* app = ext.App(name);
  if (!app) return Status::Invalid(what + " is not among the image's applications");
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return Status::Invalid(what + ": not a directory name");
  const std::string root = std::string(kSealerAppRoot) + name + "/";
  AppLaunch l;
  if (over.has_cmds) {
    l.command = EachInOwnShell(over.cmds);
  } else {
    auto cmd = Command(*app, root);
    if (!cmd.ok()) return cmd.status().Prefix(what);
    l.command = *cmd;
  }
  std::map<std::string, std::string> env = ext.env;  // the app's own win
  for (const auto& [k, v] : app->env) env[k] = v;
  for (const auto& [k, v] : over.env) env[k] = v;
  for (const auto& [k, v] : env) {
    if (!ParseEnvEntry(k + "=").ok())
      return Status::Invalid(what + ": env key " + QuoteForMessage(k) + " is not a shell variable name");
    l.env.emplace_back(k, v);
  }
  return l;
}

}  // namespace cfs::deploy
