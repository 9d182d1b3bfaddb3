#include "deploy/application_doc.h"

#include "deploy/clusterfile_docs.h"

namespace cfs::deploy {

namespace {

Result<AppFile> ParseAppFile(const YamlFields& f, const YAML::Node& n, const std::string& where) {
  RETURN_IF_ERROR(f.Keys(n, where, {"path", "strategy", "data"}));
  AppFile file;
  if (n["path"]) { ASSIGN_OR_RETURN(file.path, f.Str(n["path"], where + ".path")); }
  if (n["data"]) { ASSIGN_OR_RETURN(file.data, f.Str(n["data"], where + ".data")); }
  if (n["strategy"]) { ASSIGN_OR_RETURN(file.strategy, f.Str(n["strategy"], where + ".strategy")); }
  if (file.path.empty()) return f.Err(n, where + ".path is required");
  if (file.data.empty()) return f.Err(n, where + ".data is required");
  if (file.strategy != "overwrite" && file.strategy != "merge")
    return f.Err(n["strategy"] ? n["strategy"] : n,
                 where + ".strategy: \"" + file.strategy + "\" is not overwrite or merge");
  return file;
}

Result<AppConfig> ParseAppConfig(const YamlFields& f, const YAML::Node& n, const std::string& where) {
  RETURN_IF_ERROR(f.Keys(n, where, {"name", "env", "files", "launch"}));
  AppConfig c;
  if (n["name"]) { ASSIGN_OR_RETURN(c.name, f.Str(n["name"], where + ".name")); }
  if (c.name.empty()) return f.Err(n, where + ".name is required");
  if (n["env"]) { ASSIGN_OR_RETURN(c.env, f.EnvList(n["env"], where + ".env")); }
  if (const YAML::Node l = n["launch"]; l && !l.IsNull()) {
    RETURN_IF_ERROR(f.Keys(l, where + ".launch", {"cmds"}));
    if (!l["cmds"] || !l["cmds"].IsSequence())
      return f.Err(l, where + ".launch: cmds is required (sealer launches with cmds only)");
    c.has_launch = true;
    ASSIGN_OR_RETURN(c.launch_cmds, f.StrList(l["cmds"], where + ".launch.cmds"));
  }
  if (const YAML::Node files = n["files"]; files && !files.IsNull()) {
    if (!files.IsSequence()) return f.Err(files, where + ".files must be a list");
    for (size_t i = 0; i < files.size(); i++) {
      ASSIGN_OR_RETURN(AppFile file, ParseAppFile(f, files[i], where + ".files[" + std::to_string(i) + "]"));
      c.files.push_back(std::move(file));
    }
  }
  return c;
}

}  // namespace

Result<ApplicationDoc> ParseApplicationDoc(const YamlFields& f, const YAML::Node& doc) {
  RETURN_IF_ERROR(f.Keys(doc, "Application", {"apiVersion", "kind", "metadata", "spec", "status"}));
  ApplicationDoc a;
  const YAML::Node md = doc["metadata"];
  if (!md || !md["name"]) return f.Err(md ? md : doc, "Application: metadata.name is required");
  RETURN_IF_ERROR(f.Keys(md, "metadata", {"name", "labels", "annotations"}));
  ASSIGN_OR_RETURN(a.name, f.Str(md["name"], "metadata.name"));
  const YAML::Node spec = doc["spec"];
  if (!spec || spec.IsNull()) return a;
  RETURN_IF_ERROR(f.Keys(spec, "Application spec", {"cmds", "launchApps", "configs"}));
  if (spec["cmds"]) { ASSIGN_OR_RETURN(a.cmds, f.StrList(spec["cmds"], "spec.cmds")); }
  if (spec["launchApps"]) {
    a.has_launch_apps = true;
    ASSIGN_OR_RETURN(a.launch_apps, f.StrList(spec["launchApps"], "spec.launchApps"));
  }
  if (const YAML::Node cs = spec["configs"]; cs && !cs.IsNull()) {
    if (!cs.IsSequence()) return f.Err(cs, "spec.configs must be a list");
    for (size_t i = 0; i < cs.size(); i++) {
      ASSIGN_OR_RETURN(AppConfig c, ParseAppConfig(f, cs[i], "spec.configs[" + std::to_string(i) + "]"));
      a.configs.push_back(std::move(c));
    }
  }
  return a;
}

}  // namespace cfs::deploy
