#include "mount/mount_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/io.h"

namespace cfs::mount {
namespace {

std::string RecordDir() {
  return ::geteuid() == 0 ? "/run/clusterfs"
                          : "/run/user/" + std::to_string(::geteuid()) + "/clusterfs";
}

}  // namespace

std::string MountRecordPath(const std::string& mnt, const std::string& ext) {
  return RecordDir() + "/" + Digest::Of(mnt).Hex().substr(0, 16) + ext;
}

void MakeMountRecordDir() { ::mkdir(RecordDir().c_str(), 0700); }

Status WriteMountState(const MountState& s) {
  MakeMountRecordDir();
  nlohmann::json st;
  st["mountpoint"] = s.mountpoint;
  st["root"] = s.root;
  st["source"] = s.source;
  st["manifests"] = s.manifests;
  st["dir_lowers"] = s.dir_lowers;
  st["upper"] = s.upper;
  st["work"] = s.work;
  st["pid"] = s.pid;
  return WriteFileAtomic(MountRecordPath(s.mountpoint, ".json"), st.dump() + "\n", 0600);
}

Result<MountState> ReadMountState(const std::string& mnt) {
  std::string path = MountRecordPath(mnt, ".json");
  auto body = ReadFile(path);
  if (!body.ok()) return body.status();
  nlohmann::json st = nlohmann::json::parse(*body, nullptr, false);
  if (!st.is_object()) return Status::Corruption(path + ": malformed");
  MountState s;
  try {
    s.mountpoint = st.value("mountpoint", "");
    s.root = st.value("root", "");
    s.source = st.value("source", "");
    s.manifests = st.value("manifests", std::vector<std::string>());
    s.dir_lowers = st.value("dir_lowers", 0);
    s.upper = st.value("upper", "");
    s.work = st.value("work", "");
    s.pid = st.value("pid", 0);
  } catch (const nlohmann::json::exception&) {
    return Status::Corruption(path + ": malformed");
  }
  return s;
}

}  // namespace cfs::mount
