// Test-only helpers shared by layer/layer_stack_test.cc and the deploy/
// tests: chunks in memory (MemoryChunks), a hand-built layer TOC (Layer), a random layer
// generator over a tiny name space (LayerGen), and an independent reference
// that applies layers by extracting them onto a real directory (ApplyOnDisk)
// and lists a directory tree (WalkDisk) for comparison.
//
// Regular files carry no chunks here; on disk each holds Tag(layer, entry),
// so a caller that needs file data gives entry i of layer k those bytes.
// REQUIRES: root (chmod of any mode, hard links), gtest.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <map>

#include "layer/chunk_source.h"
#include "layer/toc.h"

namespace cfs::testing {

namespace fs = std::filesystem;

// Chunks held in memory by digest (where the store's chunk source serves in
// production). ReadFrame is unsupported.
class MemoryChunks : public ChunkSource {
 public:
  ChunkRef Put(const std::string& data) {
    ChunkRef c{Digest::Of(data), static_cast<uint32_t>(data.size())};
    m_[c.digest.Hex()] = data;
    return c;
  }
  Result<std::string> ReadChunk(const ChunkRef& c) override {
    auto it = m_.find(c.digest.Hex());
    if (it == m_.end()) return Status::NotFound("chunk " + c.digest.Short());
    return it->second;
  }
  Result<std::string> ReadFrame(const ChunkRef&) override { return Status::Unsupported("frame"); }

 private:
  std::map<std::string, std::string> m_;
};

// Builds one layer's TOC by hand, in tar order.
class Layer {
 public:
  Layer& Dir(std::string name, uint32_t mode = 0755) {
    return Add(EntryType::kDirectory, std::move(name), mode);
  }
  Layer& File(std::string name, uint32_t mode = 0644) {
    return Add(EntryType::kRegular, std::move(name), mode);
  }
  Layer& Symlink(std::string name, std::string target) {
    Add(EntryType::kSymlink, std::move(name), 0777);
    toc_->entries.back().link_target = std::move(target);
    return *this;
  }
  Layer& Hardlink(std::string name, std::string target) {
    Add(EntryType::kHardlink, std::move(name), 0);
    toc_->entries.back().link_target = std::move(target);
    return *this;
  }
  // Whites out `path` ("a/b" -> entry "a/.wh.b").
  Layer& Whiteout(const std::string& path) {
    size_t slash = path.rfind('/');
    std::string name = slash == std::string::npos
                           ? ".wh." + path
                           : path.substr(0, slash + 1) + ".wh." + path.substr(slash + 1);
    Add(EntryType::kRegular, std::move(name), 0);
    toc_->entries.back().role = OverlayRole::kWhiteout;
    return *this;
  }
  // Marks directory `dir` opaque ("" for the root).
  Layer& Opaque(const std::string& dir) {
    Add(EntryType::kRegular, dir.empty() ? ".wh..wh..opq" : dir + "/.wh..wh..opq", 0);
    toc_->entries.back().role = OverlayRole::kOpaque;
    return *this;
  }
  std::shared_ptr<const LayerToc> toc() const { return toc_; }
  const LayerToc& raw() const { return *toc_; }

 private:
  Layer& Add(EntryType type, std::string name, uint32_t mode) {
    TocEntry e;
    e.type = type;
    e.name = std::move(name);
    e.mode = mode;
    toc_->entries.push_back(std::move(e));
    return *this;
  }
  std::shared_ptr<LayerToc> toc_ = std::make_shared<LayerToc>();
};

// A scratch directory removed on destruction: under $TMPDIR when set, else
// /dev/shm when there is one (thousands of tiny trees: a loaded disk makes
// these tests slow for nothing), else /tmp.
class TempDir {
 public:
  TempDir() {
    fs::path base = std::getenv("TMPDIR") ? fs::temp_directory_path()
                    : fs::is_directory("/dev/shm") ? fs::path("/dev/shm")
                                                   : fs::temp_directory_path();
    std::string tmpl = (base / "cfs_test.XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline std::string Tag(uint32_t layer, uint32_t entry) {
  return "L" + std::to_string(layer) + "E" + std::to_string(entry);
}

inline bool IsRealDir(const fs::path& p) { return fs::symlink_status(p).type() == fs::file_type::directory; }
inline bool Exists(const fs::path& p) { return fs::symlink_status(p).type() != fs::file_type::not_found; }

// True if every component of rel below root is a real directory.
inline bool RealDirPath(const fs::path& root, std::string_view rel) {
  fs::path p = root;
  for (const auto& c : fs::path(std::string(rel))) {
    p /= c;
    if (!IsRealDir(p)) return false;
  }
  return true;
}

// mkdir -p that replaces non-directories, as tar extraction does.
inline void MkdirP(const fs::path& root, std::string_view rel) {
  fs::path p = root;
  for (const auto& c : fs::path(std::string(rel))) {
    p /= c;
    if (IsRealDir(p)) continue;
    if (Exists(p)) fs::remove_all(p);
    ASSERT_EQ(mkdir(p.c_str(), 0755), 0);
    ASSERT_EQ(chmod(p.c_str(), 0755), 0);
  }
}

inline std::string DirOf(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? "" : name.substr(0, slash);
}
inline std::string BaseOf(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

// The reference: applies layer k onto root the way umoci / overlay
// extraction does, by hand.
inline void ApplyOnDisk(const fs::path& root, const LayerToc& toc, uint32_t k) {
  for (const TocEntry& e : toc.entries) {
    if (e.role == OverlayRole::kNone) continue;
    std::string dir = DirOf(e.name);
    if (!RealDirPath(root, dir)) continue;
    fs::path d = root / dir;
    if (e.role == OverlayRole::kOpaque) {
      for (const auto& child : fs::directory_iterator(d)) fs::remove_all(child.path());
    } else if (fs::path victim = d / BaseOf(e.name).substr(4); Exists(victim)) {
      fs::remove_all(victim);
    }
  }
  for (uint32_t i = 0; i < toc.entries.size(); ++i) {
    const TocEntry& e = toc.entries[i];
    if (e.role != OverlayRole::kNone) {
      MkdirP(root, DirOf(e.name));
      continue;
    }
    if (e.name == ".") {
      ASSERT_EQ(chmod(root.c_str(), e.mode), 0);
      continue;
    }
    MkdirP(root, DirOf(e.name));
    fs::path p = root / e.name;
    if (e.type == EntryType::kDirectory) {
      if (!IsRealDir(p)) {
        if (Exists(p)) fs::remove_all(p);
        ASSERT_EQ(mkdir(p.c_str(), 0700), 0);
      }
      ASSERT_EQ(chmod(p.c_str(), e.mode), 0);
      continue;
    }
    if (Exists(p)) fs::remove_all(p);
    switch (e.type) {
      case EntryType::kRegular: {
        std::ofstream(p) << Tag(k, i);
        ASSERT_EQ(chmod(p.c_str(), e.mode), 0);
        break;
      }
      case EntryType::kSymlink:
        ASSERT_EQ(symlink(e.link_target.c_str(), p.c_str()), 0);
        break;
      case EntryType::kHardlink:
        ASSERT_EQ(link((root / e.link_target).c_str(), p.c_str()), 0) << e.name;
        break;
      default:
        FAIL() << "unexpected type";
    }
  }
}

inline std::string Describe(uint32_t mode_type, uint32_t perm, const std::string& data) {
  std::ostringstream os;
  os << mode_type << " " << std::oct << perm << " " << data;
  return os.str();
}

inline void WalkDisk(const fs::path& p, const std::string& rel, std::vector<std::string>* out) {
  struct stat st;
  ASSERT_EQ(lstat(p.c_str(), &st), 0);
  std::string desc;
  if (S_ISDIR(st.st_mode)) {
    desc = Describe(1, st.st_mode & 0777, "");
  } else if (S_ISREG(st.st_mode)) {
    std::ifstream in(p);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    desc = Describe(0, st.st_mode & 0777, data);
  } else if (S_ISLNK(st.st_mode)) {
    desc = Describe(2, 0, fs::read_symlink(p).string());
  }
  out->push_back(rel + " " + desc);
  if (!S_ISDIR(st.st_mode)) return;
  std::vector<std::string> names;
  for (const auto& c : fs::directory_iterator(p)) names.push_back(c.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) WalkDisk(p / n, rel == "." ? n : rel + "/" + n, out);
}

// Random layers over a tiny name space, so paths collide often.
class LayerGen {
 public:
  explicit LayerGen(uint32_t seed) : rng_(seed) {}

  // With `lower_files` (the regular files the layers below leave, e.g. from
  // LowerFiles()), a hard link may name one of them: a link across layers.
  // Without, the sequence of layers for a seed is what it always was.
  Layer Make(const std::vector<std::string>& lower_files = {}) {
    Layer l;
    std::vector<std::string> kept;  // lower link targets markers must leave alone
    int n = Uniform(1, 8);
    for (int i = 0; i < n; ++i) {
      int kind = Uniform(0, 99);
      if (kind < 25) {
        l.File(Path(1), 0600 | Uniform(0, 077));
      } else if (kind < 45) {
        l.Dir(Path(1), 0700 | Uniform(0, 077));
      } else if (kind < 52) {
        l.Symlink(Path(1), "t" + std::to_string(Uniform(0, 99)));
      } else if (kind < 62) {
        std::string target = LinkTarget(l.raw());
        bool lower = !lower_files.empty() && Uniform(0, 1) == 0;
        if (lower) target = LowerTarget(l.raw(), lower_files);
        std::string name = Path(1);
        // Linking onto the target's own path (or around it) would unlink it
        // first on disk; tar cannot extract that either.
        if (target.empty() || name == target || name.starts_with(target + "/") ||
            target.starts_with(name + "/")) {
          continue;
        }
        l.Hardlink(name, target);
        if (lower) kept.push_back(target);
      } else if (kind < 80) {
        // Markers act before every entry of their layer: one that removed a
        // lower link target would leave the link naming nothing.
        std::string p = Path(1);
        if (std::none_of(kept.begin(), kept.end(), [&](const std::string& f) { return Related(p, f); }))
          l.Whiteout(p);
      } else if (kind < 92) {
        std::string d = Path(0);
        if (d.empty() ? kept.empty()
                      : std::none_of(kept.begin(), kept.end(),
                                     [&](const std::string& f) { return Related(d, f); }))
          l.Opaque(d);
      } else {
        l.Dir(".", 0700 | Uniform(0, 077));
      }
    }
    return l;
  }

 private:
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  // A path of min_depth..3 components over {a, b, c} ("" when depth 0).
  std::string Path(int min_depth) {
    static const char* const kNames[] = {"a", "b", "c"};
    int depth = Uniform(min_depth, 3);
    std::string p;
    for (int i = 0; i < depth; ++i) {
      if (!p.empty()) p += '/';
      p += kNames[Uniform(0, 2)];
    }
    return p;
  }
  // a == b, or one is below the other.
  static bool Related(const std::string& a, const std::string& b) {
    return a == b || a.starts_with(b + "/") || b.starts_with(a + "/");
  }
  // A file of `lower` that no entry of this layer so far touches (or its
  // parents), so it is still there when the link is applied; "" if the one
  // drawn is touched.
  std::string LowerTarget(const LayerToc& toc, const std::vector<std::string>& lower) {
    const std::string& f = lower[Uniform(0, static_cast<int>(lower.size()) - 1)];
    for (const TocEntry& e : toc.entries) {
      std::string n = e.name;
      if (e.role == OverlayRole::kOpaque) {
        n = DirOf(e.name);
        if (n.empty()) return "";
      } else if (e.role == OverlayRole::kWhiteout) {
        n = DirOf(e.name);
        n += (n.empty() ? "" : "/") + BaseOf(e.name).substr(4);
      }
      if (n != "." && Related(n, f)) return "";
    }
    return f;
  }
  // An earlier regular file or link of this layer that nothing after it has
  // touched (so on disk the path still names it), or "".
  std::string LinkTarget(const LayerToc& toc) {
    std::vector<std::string> ok;
    for (size_t j = 0; j < toc.entries.size(); ++j) {
      const TocEntry& t = toc.entries[j];
      if (t.role != OverlayRole::kNone ||
          (t.type != EntryType::kRegular && t.type != EntryType::kHardlink)) {
        continue;
      }
      bool stable = true;
      for (size_t m = j + 1; m < toc.entries.size() && stable; ++m) {
        const std::string& n = toc.entries[m].name;
        stable = n != t.name && !n.starts_with(t.name + "/") && !t.name.starts_with(n + "/");
      }
      if (stable) ok.push_back(t.name);
    }
    if (ok.empty()) return "";
    return ok[Uniform(0, static_cast<int>(ok.size()) - 1)];
  }

  std::mt19937 rng_;
};

// The regular files below root (relative paths, sorted): what a layer on
// top may hard-link to.
inline std::vector<std::string> LowerFiles(const fs::path& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.symlink_status().type() == fs::file_type::regular)
      out.push_back(fs::relative(e.path(), root).string());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string Dump(const LayerToc& toc) {
  std::string s;
  for (const TocEntry& e : toc.entries) {
    s += "  " + std::string(EntryTypeName(e.type)) + " " + e.name;
    if (!e.link_target.empty()) s += " -> " + e.link_target;
    s += "\n";
  }
  return s;
}

}  // namespace cfs::testing
