#include "builder/app.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>

namespace cfs::builder {

namespace {

bool IsDir(const std::string& p, bool follow) {
  struct stat st;
  return (follow ? ::stat(p.c_str(), &st) : ::lstat(p.c_str(), &st)) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// The names in dir, sorted (Go's filepath.Walk order).
Result<std::vector<std::string>> SortedNames(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return Status::IOError("APP: " + dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

// Every non-directory below dir (symlinks not followed), as paths relative
// to it with a leading '/', in walk order.
Status WalkFiles(const std::string& dir, const std::string& rel, std::vector<std::string>* out) {
  ASSIGN_OR_RETURN(auto names, SortedNames(dir + rel));
  for (const auto& n : names) {
    std::string r = rel + "/" + n;
    if (IsDir(dir + r, false)) {
      RETURN_IF_ERROR(WalkFiles(dir, r, out));
    } else {
      out->push_back(r);
    }
  }
  return Status::Ok();
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// sealer's isHelm.
Result<bool> IsHelm(const std::vector<CopySource>& sources) {
  int seen = 0;  // 1: Chart.yaml, 2: values.yaml, 4: templates (by name suffix)
  auto note = [&](const std::string& n) {
    if (n.ends_with("Chart.yaml")) seen |= 1;
    else if (n.ends_with("values.yaml")) seen |= 2;
    else if (n.ends_with("templates")) seen |= 4;
  };
  for (const auto& s : sources) {
    if (!Exists(s.path)) return Status::IOError("APP: " + s.display, errno);
    if (!IsDir(s.path, true)) {
      note(s.path);
      continue;
    }
    const std::string& d = s.path;
    if (Exists(d + "/Chart.yaml") && Exists(d + "/values.yaml") && Exists(d + "/templates"))
      return true;
    ASSIGN_OR_RETURN(auto names, SortedNames(d));
    for (const auto& n : names)
      if (!IsDir(d + "/" + n, false)) note(n);
  }
  return seen == 7;
}

// The files of each source: a directory's walked, a file's base name.
Result<std::vector<std::vector<std::string>>> FilesOf(const std::vector<CopySource>& sources) {
  std::vector<std::vector<std::string>> out;
  for (const auto& s : sources) {
    std::vector<std::string> files;
    if (IsDir(s.path, true)) {
      RETURN_IF_ERROR(WalkFiles(s.path, "", &files));
    } else {
      // its name in the app's dir (a download's file is named after its URL)
      files.push_back(s.name.empty() ? s.path.substr(s.path.rfind('/') + 1) : s.name);
    }
    out.push_back(std::move(files));
  }
  return out;
}

}  // namespace

Result<SealerApp> DetectApp(const std::string& name, const std::vector<CopySource>& sources) {
  SealerApp app;
  app.name = name;
  ASSIGN_OR_RETURN(bool helm, IsHelm(sources));
  if (helm) {
    app.type = "helm";
    app.files = {name};
    return app;
  }
  ASSIGN_OR_RETURN(auto files, FilesOf(sources));
  bool shell = false, kube = false;
  for (const auto& list : files)
    for (const auto& f : list) {
      std::string n = Lower(f);
      auto dot = n.rfind('.');
      std::string ext = dot == std::string::npos || n.find('/', dot) != std::string::npos ? "" : n.substr(dot);
      if (ext == ".sh") {
        shell = true;
      } else if (ext == ".yaml" || ext == ".yml") {
        kube = true;
      } else {
        return app;  // an unknown file: no type
      }
    }
  if (shell == kube) return app;  // a mix, or nothing
  app.type = shell ? "shell" : "kube";
  for (const auto& list : files) {
    app.files.insert(app.files.end(), list.begin(), list.end());
    if (shell && !files.empty()) break;  // sealer: a shell app runs its first source's files
  }
  return app;
}

}  // namespace cfs::builder
