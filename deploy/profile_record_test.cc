#include "deploy/profile_record.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "base/io.h"
#include "deploy/host_script.h"

namespace cfs::deploy {
namespace {

using namespace std::string_literals;

TEST(ParseProfileRecords, OrdersByAccessTimeThenPath) {
  std::string out =
      "1700000002.5\t10\tbin/b\0"
      "1700000001.0000000020\t20\tscripts/init.sh\0"
      "1700000002.500000000\t30\tbin/a\0"
      "1700000001.000000001\t0\tetc/empty\0"
      "1700000001.1\t5\tdir with space/x\ty\0"s;
  auto p = ParseProfileRecords(out, "10.0.0.2");
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->ranges.size(), 4u);  // the empty file has nothing to fetch
  EXPECT_EQ(p->ranges[0], (ReadProfile::Range{"scripts/init.sh", 0, 20}));
  EXPECT_EQ(p->ranges[1], (ReadProfile::Range{"dir with space/x\ty", 0, 5}));
  EXPECT_EQ(p->ranges[2], (ReadProfile::Range{"bin/a", 0, 30}));  // same time as bin/b
  EXPECT_EQ(p->ranges[3], (ReadProfile::Range{"bin/b", 0, 10}));
}

TEST(ParseProfileRecords, NothingReadIsAnEmptyProfile) {
  auto p = ParseProfileRecords("", "h");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->ranges.empty());
}

TEST(ParseProfileRecords, BadRecordsNameTheHost) {
  for (std::string bad : {"1700000000.1\t10\0"s, "x.1\t10\tf\0"s, "1.1\tten\tf\0"s,
                          "1.12a\t1\tf\0"s, "1.1\t1\t\0"s, "1.1\t1\tf"s}) {
    auto p = ParseProfileRecords(bad, "10.0.0.9");
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_NE(p.status().message().find("host 10.0.0.9"), std::string::npos) << p.status().message();
  }
}

int RunHere(const std::string& cmd) { return std::system(("/bin/sh -c " + ShellQuote(cmd)).c_str()); }

// The host scripts on this machine's /tmp: what is read after the mark, and
// only that, comes back, in order. Reads are 20 ms apart so that their access
// times differ on any kernel clock tick (this is the clock, not speed).
TEST(ProfileScripts, RecordWhatIsReadAfterTheMark) {
  char tmpl[] = "/tmp/profile_record_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  ASSERT_TRUE(WriteFileAtomic(root + "/first", "1").ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/unread", "22").ok());
  ASSERT_EQ(RunHere("mkdir -p " + ShellQuote(root + "/sub dir")), 0);
  ASSERT_TRUE(WriteFileAtomic(root + "/sub dir/second", "333").ok());
  ASSERT_EQ(RunHere("cat " + ShellQuote(root + "/unread") + " >/dev/null"), 0);  // before the mark
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kProfileMark, {root})), 0);
  struct timespec gap = {0, 20 * 1000 * 1000};
  ASSERT_EQ(RunHere("cat " + ShellQuote(root + "/first") + " >/dev/null"), 0);
  nanosleep(&gap, nullptr);
  ASSERT_EQ(RunHere("cat " + ShellQuote(root + "/sub dir/second") + " >/dev/null"), 0);
  const std::string out = root + ".out";
  ASSERT_EQ(RunHere(HostCommand(host_scripts::kProfileCollect, {root}) + " > " + ShellQuote(out)), 0);
  auto text = ReadFile(out);
  ASSERT_TRUE(text.ok());
  auto p = ParseProfileRecords(*text, "here");
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->ranges.size(), 2u) << *text;
  EXPECT_EQ(p->ranges[0], (ReadProfile::Range{"first", 0, 1}));
  EXPECT_EQ(p->ranges[1], (ReadProfile::Range{"sub dir/second", 0, 3}));
  EXPECT_EQ(RunHere("rm -rf " + ShellQuote(root) + " " + ShellQuote(out)), 0);
}

// A filesystem where reads leave access times alone is refused (exit 4,
// with the reason), before any file is changed. Needs root (a mount).
TEST(ProfileScripts, NoatimeIsRefused) {
  ASSERT_EQ(geteuid(), 0u) << "this test mounts a tmpfs: run it as root";
  char tmpl[] = "/tmp/profile_record_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  ASSERT_EQ(RunHere("mount -t tmpfs -o noatime tmpfs " + ShellQuote(root)), 0);
  ASSERT_TRUE(WriteFileAtomic(root + "/f", "x").ok());
  const std::string err = root + ".err";
  int rc = RunHere(HostCommand(host_scripts::kProfileMark, {root}) + " 2> " + ShellQuote(err));
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 4) << rc;
  auto msg = ReadFile(err);
  ASSERT_TRUE(msg.ok());
  EXPECT_NE(msg->find("noatime"), std::string::npos) << *msg;
  struct stat st;
  ASSERT_EQ(::stat((root + "/f").c_str(), &st), 0);
  EXPECT_NE(st.st_atime, 0) << "a file was marked on a refused filesystem";
  EXPECT_EQ(RunHere("umount " + ShellQuote(root) + " && rm -rf " + ShellQuote(root) + " " +
                    ShellQuote(err)), 0);
}

}  // namespace
}  // namespace cfs::deploy
