#include "deploy/launch_plan.h"

#include <algorithm>
#include <map>

#include "deploy/config_docs.h"

namespace cfs::deploy {

namespace {

// The apps an image registers: its extension's, or (an image of an earlier
// cimg, without one) its LAUNCH list.
std::vector<std::string> RegisteredApps(const ClusterImage& img) {
  if (!img.has_extension) return img.launch;
  std::vector<std::string> out;
  for (const auto& a : img.extension.applications) out.push_back(a.name);
  return out;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// The launch list and the field it came from ("" when the image's).
std::vector<std::string> LaunchList(const ClusterImage& img, const Clusterfile& cf,
                                    std::string* field) {
  if (cf.has_app_names) {
    *field = "Clusterfile: spec.appNames";
    return cf.app_names;
  }
  if (cf.application && cf.application->has_launch_apps) {
    *field = "Clusterfile: Application " + cf.application->name + ": spec.launchApps";
    return cf.application->launch_apps;
  }
  field->clear();
  return img.launch;
}

// The file filter of one Application file (sealer's overWriteProcessor /
// mergeProcessor), after `before` (the file's earlier filter, if any).
FileFilter FileWriter(const std::string& path, const AppFile& f, FileFilter before) {
  return [path, f, before](const std::optional<std::string>& in) -> Result<std::string> {
    std::optional<std::string> cur = in;
    if (before) { ASSIGN_OR_RETURN(cur, before(in)); }
    if (f.strategy == "overwrite") return f.data;
    if (!cur)
      return Status::Invalid(path + ": strategy merge: the image has no such file to merge into");
    auto merged = MergeYamlDocuments(*cur, f.data);
    if (!merged.ok()) return merged.status().Prefix(path + ": strategy merge");
    return merged;
  };
}

// What config `c` of launched app `name` adds to *plan; `over` gets its
// launch and env.
Status ApplyConfig(const ClusterImage& img, const Clusterfile& cf, const AppConfig& c,
                   AppOverride* over, LaunchPlan* plan) {
  const std::string what = "Clusterfile: Application " + cf.application->name +
                           ": config of app " + QuoteForMessage(c.name);
  // sealer prepends the Cluster's spec.env to a config's env.
  std::vector<std::string> env = cf.env;
  env.insert(env.end(), c.env.begin(), c.env.end());
  if (!c.env.empty() || !cf.env.empty()) {
    for (const auto& kv : env) {
      ASSIGN_OR_RETURN(auto p, ParseEnvEntry(kv));
      over->env[p.first] = p.second;
    }
  }
  // (spec.env is in every step's environment anyway.)
  if (!img.has_extension && !c.env.empty())
    return Status::Invalid(what + ": env needs an image with sealer.image.extension (this one "
                                  "was built by an earlier cimg: rebuild it)");
  over->has_cmds = c.has_launch;
  over->cmds = c.launch_cmds;
  for (const auto& f : c.files) {
    auto path = AppFilePath(c.name, f.path);
    if (!path.ok()) return path.status().Prefix(what + ": file");
    FileFilter before;
    if (auto it = plan->files.find(*path); it != plan->files.end()) before = it->second;
    plan->files[*path] = FileWriter(*path, f, before);
  }
  return Status::Ok();
}

// The configs of the launch list's apps (others noted and ignored), into
// *overs (app -> override) and plan->files.
Status ApplyConfigs(const ClusterImage& img, const Clusterfile& cf,
                    const std::vector<std::string>& list, std::map<std::string, AppOverride>* overs,
                    LaunchPlan* plan) {
  if (!cf.application) return Status::Ok();
  for (const auto& c : cf.application->configs) {
    if (!Contains(list, c.name)) {
      plan->notes.push_back("Application " + cf.application->name + ": the config of app " +
                            c.name + " is ignored: the app is not in the launch list (as sealer)");
      continue;
    }
    // A later config of the same app replaces an earlier one's launch and
    // env; files add up.
    RETURN_IF_ERROR(ApplyConfig(img, cf, c, &(*overs)[c.name], plan));
  }
  return Status::Ok();
}

// The apps' *.tmpl envs: every app with one (AppTemplateEnvs), configured
// apps with their config's env over it.
void TemplateEnvs(const ClusterImage& img, const std::map<std::string, AppOverride>& overs,
                  LaunchPlan* plan) {
  if (!img.has_extension) return;
  plan->template_env = AppTemplateEnvs(img.extension);
  for (const auto& [name, over] : overs) {
    if (over.env.empty()) continue;
    const SealerApp* app = img.extension.App(name);
    std::map<std::string, std::string> env = img.extension.env;
    if (app)
      for (const auto& [k, v] : app->env) env[k] = v;
    for (const auto& [k, v] : over.env) env[k] = v;
    plan->template_env[name] = std::move(env);
  }
}

}  // namespace

Result<LaunchPlan> PlanLaunch(const ClusterImage& img, const Clusterfile& cf) {
  LaunchPlan plan;
  std::string field;
  const std::vector<std::string> list = LaunchList(img, cf, &field);
  const std::vector<std::string> known = RegisteredApps(img);
  for (const auto& name : list)  // (the image's own list was checked by its build)
    if (!field.empty() && !name.empty() && !Contains(known, name))
      return Status::Invalid(field + ": app " + QuoteForMessage(name) +
                             " is not among the image's applications (" + JoinNames(known) + ")");
  std::map<std::string, AppOverride> overs;
  RETURN_IF_ERROR(ApplyConfigs(img, cf, list, &overs, &plan));
  TemplateEnvs(img, overs, &plan);
  std::vector<std::string> cmds = cf.cmd;
  if (cmds.empty() && cf.application) cmds = cf.application->cmds;
  if (!cmds.empty()) {
    plan.cmds = std::move(cmds);
    plan.notes.push_back("the Clusterfile's commands replace the image's CMDs, CMDS and app "
                         "launches (as sealer)");
    return plan;
  }
  plan.cmds = img.cmds;
  plan.cmds.insert(plan.cmds.end(), img.cmds_launch.begin(), img.cmds_launch.end());
  if (img.commands_replace_apps) {
    if (!field.empty())
      plan.notes.push_back(field.substr(std::string("Clusterfile: ").size()) +
                           ": no app is launched: the image's own commands replace app "
                           "launches (as sealer)");
    return plan;
  }
  for (const auto& name : list) {
    if (name.empty()) continue;
    PlannedApp a;
    a.name = name;
    auto o = overs.find(name);
    const AppOverride none;
    const AppOverride& over = o == overs.end() ? none : o->second;
    a.configured = o != overs.end() && (over.has_cmds || !over.env.empty());
    if (!img.has_extension || !img.extension.App(name)) {
      a.legacy = !over.has_cmds;
      a.launch.command = EachInOwnShell(over.cmds);
    } else {
      auto l = PlanAppLaunch(img.extension, name, over);
      if (!l.ok()) return l.status().Prefix("image " + cf.image);
      a.launch = std::move(*l);
    }
    plan.apps.push_back(std::move(a));
  }
  return plan;
}

}  // namespace cfs::deploy
