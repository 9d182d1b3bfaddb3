#include "store/work_dir.h"

#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/mountinfo.h"
#include "chunkstore/chunk_store.h"

namespace cfs {

using nlohmann::json;

namespace {

constexpr char kUndoFile[] = "undo.json";

// The start time (clock ticks since boot, /proc/PID/stat field 22) of pid;
// 0 when it does not exist.
unsigned long long StartTime(pid_t pid) {
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat.ok()) return 0;
  // Fields after the command name, which is in parentheses and may hold anything.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return 0;
  size_t pos = close + 2;
  for (int field = 3; field < 22; field++) {
    pos = stat->find(' ', pos);
    if (pos == std::string::npos) return 0;
    pos++;
  }
  return std::strtoull(stat->c_str() + pos, nullptr, 10);
}

// Mount points (absolute, unescaped) at or under dir, deepest first.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  auto mounts = ReadMountInfo();
  if (!mounts.ok()) return out;
  for (const auto& m : *mounts)
    if (m.mount_point == dir || m.mount_point.rfind(dir + "/", 0) == 0) out.push_back(m.mount_point);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

// Detaches the mount at mnt: umount2(MNT_DETACH), else fusermount3 -uz
// (run directly, no shell).
void Detach(const std::string& mnt) {
  if (::umount2(mnt.c_str(), MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT) return;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execlp("fusermount3", "fusermount3", "-u", "-z", "--", mnt.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  if (pid > 0)
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
}

// Kills the group pgid if it is still the group that was recorded: its
// leader is gone (a pid that names a live group is never reused) or has the
// recorded start time.
void KillGroup(pid_t pgid, unsigned long long start) {
  if (pgid <= 1) return;
  unsigned long long now = StartTime(pgid);
  if (now != 0 && now != start) return;  // another process has that pid now
  ::kill(-pgid, SIGKILL);
}

}  // namespace

Result<WorkDir> WorkDir::Create(const std::string& store_root, const std::string& prefix,
                                Env* env) {
  ASSIGN_OR_RETURN(FileLock gc, FileLock::Acquire(store_root + "/gc.lock", FileLock::Mode::kShared));
  WorkDir w;
  w.env_ = env;
  ASSIGN_OR_RETURN(w.dir_, TempDir::Create(store_root + "/tmp", prefix));
  ASSIGN_OR_RETURN(w.owner_, FileLock::Acquire(w.dir_.path() + "/" + kScratchOwnerLock,
                                               FileLock::Mode::kExclusive));
  return w;
}

WorkDir::~WorkDir() = default;

Status WorkDir::Save() {
  json j = {{"mounts", mounts_}, {"groups", json::array()}};
  for (const auto& [pgid, start] : groups_) j["groups"].push_back({{"pgid", pgid}, {"start", start}});
  return WriteFileAtomic(env_, path() + "/" + kUndoFile, j.dump());
}

Status WorkDir::AddMount(const std::string& mnt) {
  mounts_.push_back(mnt);
  return Save();
}

Status WorkDir::RemoveMount(const std::string& mnt) {
  mounts_.erase(std::remove(mounts_.begin(), mounts_.end(), mnt), mounts_.end());
  return Save();
}

Status WorkDir::AddGroup(pid_t pgid) {
  groups_.emplace_back(pgid, StartTime(pgid));
  return Save();
}

Status WorkDir::RemoveGroup(pid_t pgid) {
  std::erase_if(groups_, [&](const auto& g) { return g.first == pgid; });
  return Save();
}

Status ReclaimScratch(const std::string& dir) {
  std::string lock = dir + "/" + kScratchOwnerLock;
  FileLock owner;
  if (PathExists(lock)) {
    auto probe = FileLock::TryAcquire(lock, FileLock::Mode::kExclusive);
    if (!probe.ok()) return Status::Busy(dir + ": its owner is alive");
    owner = std::move(*probe);
  }
  if (auto undo = ReadFile(dir + "/" + kUndoFile, 1 << 20); undo.ok()) {
    json j = json::parse(*undo, nullptr, false);
    if (j.is_object() && j.contains("groups") && j["groups"].is_array())
      for (const auto& g : j["groups"])
        if (g.is_object())
          KillGroup(g.value("pgid", 0), g.value("start", 0ull));
  }
  // Every mount under it goes, recorded or not (a recorded one whose path
  // changed is still under dir).
  for (const auto& m : MountsUnder(dir)) Detach(m);
  if (!MountsUnder(dir).empty()) return Status::Busy(dir + ": still has mounts");
  return Status::Ok();
}

}  // namespace cfs
