#include "deploy/fanout.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/digest.h"
#include "base/io.h"
#include "deploy/host_script.h"
#include "deploy/ssh_session.h"

namespace cfs::deploy {
namespace {

using V = std::vector<int>;

TEST(FanoutParents, OneSeedFromTheDeployHost) {
  EXPECT_EQ(FanoutParents(0, 2), V{});
  EXPECT_EQ(FanoutParents(1, 2), V{-1});
  EXPECT_EQ(FanoutParents(5, 2), (V{-1, 0, 0, 1, 1}));
}

TEST(FanoutParents, OneIsAChain) { EXPECT_EQ(FanoutParents(4, 1), (V{-1, 0, 1, 2})); }

TEST(FanoutParents, EveryHostFeedsAtMostFanoutOthers) {
  for (int f = 1; f <= 5; f++) {
    auto parent = FanoutParents(100, f);
    std::vector<int> fed(100, 0);
    for (size_t i = 1; i < parent.size(); i++) {
      ASSERT_GE(parent[i], 0);
      ASSERT_LT(static_cast<size_t>(parent[i]), i);  // parents first: no cycles
      fed[parent[i]]++;
    }
    for (int n : fed) EXPECT_LE(n, f);
  }
}

// Runs a command line with /bin/sh here, as sshd runs it on a host.
int RunHere(const std::string& cmd) { return std::system(("/bin/sh -c " + ShellQuote(cmd)).c_str()); }

// The host scripts run here: a seed takes every piece from its stdin,
// checks each and unpacks the stream; fanout_serve.sh serves the pieces in
// order and refuses a request that is not "from K".
class FanoutScripts : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fanout_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    t_ = tmpl;
    ASSERT_EQ(RunHere("mkdir -p " + t_ + "/src/etc && head -c 3000000 /dev/urandom > " + t_ +
                      "/src/etc/big && echo hi > " + t_ + "/src/etc/small && tar -C " + t_ +
                      "/src -cf - . | gzip -1 > " + t_ + "/stream"),
              0);
    auto stream = ReadFile(t_ + "/stream");
    ASSERT_TRUE(stream.ok());
    for (size_t at = 0; at < stream->size(); at += kPiece) pieces_.push_back(stream->substr(at, kPiece));
    ASSERT_GE(pieces_.size(), 2u);
    ASSERT_TRUE(WriteFileAtomic(t_ + "/serve.sh", host_scripts::kFanoutServe).ok());
    ASSERT_EQ(RunHere(HostCommand(host_scripts::kFanoutSetup, {t_ + "/fan"}) + " < " + t_ +
                      "/serve.sh > " + t_ + "/key.out"),
              0);
  }
  void TearDown() override {  // the cleanup also removes a spool kept in /dev/shm
    RunHere(HostCommand(host_scripts::kFanoutCleanup, {t_ + "/fan", "cimg-fanout:test"}));
    RunHere("rm -rf " + ShellQuote(t_));
  }

  // What the deploy host sends a seed.
  std::string SeedInput(size_t corrupt = kNoPiece) const {
    std::string in;
    for (size_t i = 0; i < pieces_.size(); i++)
      in += "sum " + std::to_string(i) + " " + std::to_string(pieces_[i].size()) + " " +
            Digest::Of(pieces_[i]).Hex() + "\n";
    for (size_t i = 0; i < pieces_.size(); i++) {
      std::string p = pieces_[i];
      if (i == corrupt) p[p.size() / 2] ^= 1;
      in += "data " + std::to_string(i) + " " + std::to_string(p.size()) + "\n" + p;
    }
    return in + "end " + std::to_string(pieces_.size()) + "\n";
  }

  // Runs fanout_receive.sh with `input` on its stdin, kept open until it
  // ends (as the deploy host does: an early end of its stdin is a failure).
  int Receive(const std::string& input) {
    EXPECT_TRUE(WriteFileAtomic(t_ + "/in", input).ok());
    const std::string done = t_ + "/recv.done";
    int rc = RunHere("{ cat " + t_ + "/in; until [ -e " + done + " ]; do sleep 0.05; done; } | { " +
                     HostCommand(host_scripts::kFanoutReceive, {t_ + "/out", t_ + "/fan", "gzip"}) +
                     " > " + t_ + "/recv.out 2> " + t_ + "/recv.err; echo $? > " + t_ +
                     "/recv.rc; touch " + done + "; }");
    EXPECT_EQ(rc, 0);
    auto status = ReadFile(t_ + "/recv.rc");
    return status.ok() ? std::atoi(status->c_str()) : -1;
  }

  static constexpr size_t kPiece = 1 << 20;
  static constexpr size_t kNoPiece = ~size_t{0};
  std::string t_;
  std::vector<std::string> pieces_;
};

TEST_F(FanoutScripts, SeedChecksUnpacksAndServesInOrder) {
  ASSERT_EQ(Receive(SeedInput()), 0);
  EXPECT_EQ(RunHere("diff -r " + t_ + "/src " + t_ + "/out"), 0);
  const std::string serve = "/bin/bash " + t_ + "/fan/serve.sh " + t_ + "/fan/spool";
  ASSERT_EQ(RunHere("SSH_ORIGINAL_COMMAND='from 1' " + serve + " > " + t_ + "/served"), 0);
  auto served = ReadFile(t_ + "/served");
  ASSERT_TRUE(served.ok());
  std::string want;
  for (size_t i = 1; i < pieces_.size(); i++)
    want += "piece " + std::to_string(i) + " " + std::to_string(pieces_[i].size()) + "\n" + pieces_[i];
  EXPECT_TRUE(*served == want + "end " + std::to_string(pieces_.size()) + "\n");
  for (const char* bad : {"from 1; touch /tmp/fanout_pwned", "from", "cat /etc/shadow", "from -1"})
    EXPECT_EQ(RunHere("SSH_ORIGINAL_COMMAND=" + ShellQuote(bad) + " " + serve + " 2>/dev/null"),
              2 << 8)
        << bad;
  EXPECT_FALSE(PathExists("/tmp/fanout_pwned"));
}

TEST_F(FanoutScripts, TheDeployHostGoneIsAFailure) {
  const std::string in = SeedInput();
  ASSERT_TRUE(WriteFileAtomic(t_ + "/in", in.substr(0, in.find("data 1 "))).ok());
  EXPECT_NE(RunHere(HostCommand(host_scripts::kFanoutReceive, {t_ + "/out", t_ + "/fan", "gzip"}) +
                    " < " + t_ + "/in 2> " + t_ + "/recv.err"),
            0);
  auto err = ReadFile(t_ + "/recv.err");
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->find("the deploy host closed the stream"), std::string::npos) << *err;
}

TEST_F(FanoutScripts, ACorruptPieceFromTheDeployHostFailsByName) {
  EXPECT_NE(Receive(SeedInput(1)), 0);
  auto err = ReadFile(t_ + "/recv.err");
  ASSERT_TRUE(err.ok());
  EXPECT_NE(err->find("piece 1 from the deploy host: size or SHA-256 differs"), std::string::npos)
      << *err;
  EXPECT_FALSE(PathExists(t_ + "/fan/spool/1.ok"));
}

// Sets up t_/fan again with SPOOL_BYTES `bytes`; the spool's link target
// ("" when it is a directory).
std::string SetUpWith(const std::string& t, const std::string& bytes) {
  EXPECT_EQ(RunHere(HostCommand(host_scripts::kFanoutSetup, {t + "/fan", bytes}) + " < " + t +
                    "/serve.sh > /dev/null"),
            0);
  char buf[4096];
  ssize_t n = readlink((t + "/fan/spool").c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST_F(FanoutScripts, ASpoolThatFitsIsKeptInMemoryAndRemovedAtTheEnd) {
  const std::string target = SetUpWith(t_, "4000000");
  ASSERT_EQ(target.rfind("/dev/shm/cimg-fanout.", 0), 0u) << target;
  ASSERT_EQ(Receive(SeedInput()), 0);
  EXPECT_EQ(RunHere("diff -r " + t_ + "/src " + t_ + "/out"), 0);
  EXPECT_TRUE(PathExists(target + "/" + std::to_string(pieces_.size() - 1) + ".ok"));
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kFanoutCleanup, {t_ + "/fan", "cimg-fanout:test"})), 0);
  EXPECT_FALSE(PathExists(target));
  EXPECT_FALSE(PathExists(t_ + "/fan"));
}

TEST_F(FanoutScripts, ASpoolLargerThanMemoryIsOnDiskAndAnOldOneInMemoryIsRemoved) {
  const std::string old = SetUpWith(t_, "4000000");
  ASSERT_FALSE(old.empty());
  EXPECT_EQ(SetUpWith(t_, "1000000000000000"), "");  // 1 PB
  struct stat st;
  ASSERT_EQ(lstat((t_ + "/fan/spool").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_FALSE(PathExists(old));
  ASSERT_EQ(Receive(SeedInput()), 0);
  EXPECT_EQ(RunHere("diff -r " + t_ + "/src " + t_ + "/out"), 0);
}

}  // namespace
}  // namespace cfs::deploy
