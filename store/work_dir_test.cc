// WorkDir and ReclaimScratch: live owners are left alone; a dead owner's
// recorded process groups are killed, but only while they are still the
// groups that were recorded.
#include "store/work_dir.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "chunkstore/chunk_store.h"

namespace cfs {
namespace {

class WorkDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create(::testing::TempDir(), "work-dir-test-");
    ASSERT_TRUE(t.ok()) << t.status().message();
    root_ = std::move(*t);
    ASSERT_TRUE(MakeDirs(root_.path() + "/tmp").ok());
  }

  // A child in a process group of its own, blocked until killed.
  pid_t StartGroup() {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      for (;;) ::pause();
    }
    ::setpgid(pid, pid);
    return pid;
  }

  // True when the child was killed by SIGKILL (reaps it).
  bool Killed(pid_t pid) {
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return false;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  // True when the child is still running (not reaped).
  bool Alive(pid_t pid) {
    siginfo_t info{};
    return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == 0;
  }

  TempDir root_;
};

TEST_F(WorkDirTest, LiveOwnerIsBusyAndItsDirGoesWithIt) {
  std::string path;
  {
    auto w = WorkDir::Create(root_.path(), "build-");
    ASSERT_TRUE(w.ok()) << w.status().message();
    path = w->path();
    EXPECT_EQ(path.rfind(root_.path() + "/tmp/build-", 0), 0u) << path;
    EXPECT_EQ(ReclaimScratch(path).code(), Status::Code::kBusy);
    EXPECT_TRUE(PathExists(path));
  }
  EXPECT_FALSE(PathExists(path));
}

TEST_F(WorkDirTest, DeadOwnersGroupIsKilled) {
  pid_t pid = StartGroup();
  // The owner records the group and dies without cleaning up.
  pid_t owner = ::fork();
  if (owner == 0) {
    auto w = WorkDir::Create(root_.path(), "build-");
    _exit(w.ok() && w->AddGroup(pid).ok() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(owner, &status, 0), owner);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto names = ListDir(root_.path() + "/tmp");
  ASSERT_TRUE(names.ok());
  ASSERT_EQ(names->size(), 1u);
  EXPECT_TRUE(Alive(pid));
  ASSERT_TRUE(ReclaimScratch(root_.path() + "/tmp/" + (*names)[0]).ok());
  EXPECT_TRUE(Killed(pid));
}

TEST_F(WorkDirTest, GroupWithAnotherStartTimeIsNotKilled) {
  pid_t pid = StartGroup();
  std::string dir = root_.path() + "/tmp/build-x";
  ASSERT_TRUE(MakeDirs(dir).ok());
  // As if the recorded group's leader died and its pid went to this process.
  nlohmann::json undo = {{"mounts", nlohmann::json::array()},
                         {"groups", {{{"pgid", pid}, {"start", 1}}}}};
  ASSERT_TRUE(WriteFileAtomic(dir + "/undo.json", undo.dump()).ok());
  ASSERT_TRUE(ReclaimScratch(dir).ok());
  EXPECT_TRUE(Alive(pid));
  ::kill(pid, SIGKILL);
  EXPECT_TRUE(Killed(pid));
}

TEST_F(WorkDirTest, ScratchWithoutOwnerIsReclaimable) {
  std::string dir = root_.path() + "/tmp/fetch-x";
  ASSERT_TRUE(MakeDirs(dir).ok());
  EXPECT_TRUE(ReclaimScratch(dir).ok());
}

}  // namespace
}  // namespace cfs
