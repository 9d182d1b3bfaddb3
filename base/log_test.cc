#include "base/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

namespace cfs {
namespace {

std::string Drain(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(Log, LevelsFilterAndLinesStayOneLine) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  SetLogFd(p[1]);
  SetLogLevel(LogLevel::kInfo);
  LogDebug("hidden");
  LogInfo("shown\nand joined");
  LogWarn("a warning");
  Log(LogLevel::kError, "an error");
  SetLogFd(2);
  SetLogLevel(LogLevel::kWarn);
  ::close(p[1]);
  std::string out = Drain(p[0]);
  ::close(p[0]);
  EXPECT_EQ(out.find("hidden"), std::string::npos) << out;
  EXPECT_NE(out.find("INFO["), std::string::npos) << out;
  EXPECT_NE(out.find("] shown and joined\n"), std::string::npos) << out;
  EXPECT_NE(out.find("WARN["), std::string::npos) << out;
  EXPECT_NE(out.find("ERRO["), std::string::npos) << out;
  size_t lines = 0;
  for (char c : out) lines += c == '\n';
  EXPECT_EQ(lines, 3u) << out;
}

TEST(Log, ParseLogLevel) {
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("warning"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("error"), LogLevel::kError);
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
}

TEST(Log, LoggableUrlDropsQueriesAndCredentials) {
  EXPECT_EQ(LoggableUrl("https://s3.example/bucket/blob?X-Amz-Signature=abc&t=1"),
            "https://s3.example/bucket/blob");
  EXPECT_EQ(LoggableUrl("https://user:secret@reg.example:5000/v2/a/manifests/1#x"),
            "https://reg.example:5000/v2/a/manifests/1");
  EXPECT_EQ(LoggableUrl("http://127.0.0.1:5000/v2/"), "http://127.0.0.1:5000/v2/");
  EXPECT_EQ(LoggableUrl("http://h/v2/a@sha256:1"), "http://h/v2/a@sha256:1");
}

}  // namespace
}  // namespace cfs
