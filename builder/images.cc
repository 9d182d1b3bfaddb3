#include "builder/images.h"

#include <dirent.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <regex>
#include <set>

#include "base/io.h"
#include "transport/oci_metadata.h"
#include "base/strings.h"

namespace cfs::builder {

namespace {

bool HasSuffix(const std::string& s, const char* suf) {
  size_t n = std::strlen(suf);
  return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
}

// Files under dir (recursively, not following symlinks), sorted.
void Walk(const std::string& dir, std::vector<std::string>* out) {
  auto names = ListDir(dir);
  if (!names.ok()) return;
  for (const auto& n : *names) {
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) Walk(p, out);
    else if (S_ISREG(st.st_mode)) out->push_back(p);
  }
}

bool LooksLikeImage(const std::string& s) {
  if (s.empty() || s.find_first_of(" \t{}$\"'") != std::string::npos) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("./:-_@").find(c) != std::string_view::npos;
  });
}

// image: scalars anywhere; {repository, tag} maps (helm values).
void Collect(const YAML::Node& n, std::set<std::string>* out, bool values) {
  if (n.IsMap()) {
    if (values && n["repository"] && n["repository"].IsScalar()) {
      std::string repo = n["repository"].as<std::string>();
      std::string tag = n["tag"] && n["tag"].IsScalar() ? n["tag"].as<std::string>() : "";
      if (n["registry"] && n["registry"].IsScalar() && !n["registry"].as<std::string>().empty())
        repo = n["registry"].as<std::string>() + "/" + repo;
      std::string ref = tag.empty() ? repo : repo + ":" + tag;
      if (LooksLikeImage(ref)) out->insert(ref);
    }
    for (const auto& kv : n) {
      std::string key = kv.first.IsScalar() ? kv.first.as<std::string>() : "";
      if (key == "image" && kv.second.IsScalar()) {
        std::string v = Trim(kv.second.as<std::string>());
        if (LooksLikeImage(v)) out->insert(v);
      } else {
        Collect(kv.second, out, values);
      }
    }
  } else if (n.IsSequence()) {
    for (const auto& v : n) Collect(v, out, values);
  }
}

Status FromYaml(const std::string& path, std::set<std::string>* out, bool values) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 64 << 20));
  try {
    for (const auto& doc : YAML::LoadAll(text)) Collect(doc, out, values);
  } catch (const YAML::Exception& e) {
    return Status::Invalid(path + ":" + std::to_string(e.mark.line + 1) + ": bad YAML: " + e.msg);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string>> ReadImageList(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 16 << 20));
  std::vector<std::string> out;
  size_t start = 0;
  int line = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    std::string l = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? text.size() : nl + 1;
    line++;
    auto hash = l.find('#');
    if (hash != std::string::npos) l = l.substr(0, hash);
    l = Trim(l);
    if (l.empty()) continue;
    if (!LooksLikeImage(l))
      return Status::Invalid(path + ":" + std::to_string(line) + ": \"" + l + "\" is not an image reference");
    out.push_back(l);
  }
  return out;
}

Result<std::vector<std::string>> FindImages(const std::string& rootfs) {
  std::set<std::string> found;
  std::vector<std::string> files;
  Walk(rootfs + "/manifests", &files);
  for (const auto& f : files) {
    if (HasSuffix(f, "/imageList")) {
      ASSIGN_OR_RETURN(auto list, ReadImageList(f));
      found.insert(list.begin(), list.end());
    } else if (HasSuffix(f, ".yaml") || HasSuffix(f, ".yml")) {
      RETURN_IF_ERROR(FromYaml(f, &found, false));
    }
  }
  files.clear();
  Walk(rootfs + "/charts", &files);
  static const std::regex kImageLine(R"(^\s*-?\s*image:\s*["']?([^"'\s{}]+)["']?\s*$)");
  for (const auto& f : files) {
    bool yaml = HasSuffix(f, ".yaml") || HasSuffix(f, ".yml");
    if (!yaml) continue;
    if (f.find("/templates/") != std::string::npos) {
      // Templates are not YAML until rendered: take literal image: lines.
      ASSIGN_OR_RETURN(std::string text, ReadFile(f, 64 << 20));
      size_t start = 0;
      while (start < text.size()) {
        auto nl = text.find('\n', start);
        std::string l = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        start = nl == std::string::npos ? text.size() : nl + 1;
        std::smatch m;
        if (std::regex_match(l, m, kImageLine) && LooksLikeImage(m[1])) found.insert(m[1]);
      }
    } else {
      RETURN_IF_ERROR(FromYaml(f, &found, true));
    }
  }
  return std::vector<std::string>(found.begin(), found.end());
}

Status CopyToBuiltinRegistry(registry::Client& client, const registry::Reference& remote,
                             const registry::Reference& name, const Platform& platform,
                             registry::DistributionLayout& layout) {
  registry::CopyStats cs;
  RETURN_IF_ERROR(registry::CopyImageToLayout(client, remote, platform, layout, name.repository,
                                              name.tag, &cs));
  ASSIGN_OR_RETURN(registry::FetchedManifest top,
                   client.GetManifest(remote.repository, remote.ManifestRef()));
  if (!oci::IsIndexMediaType(top.media_type)) return Status::Ok();
  RETURN_IF_ERROR(layout.PutBlob(top.digest, top.bytes));
  return layout.LinkManifest(name.repository, top.digest, "");
}

}  // namespace cfs::builder
