#include "tools/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

namespace cimg {
namespace {

// A ProgressView writing into a memory stream, on a clock the test moves.
struct Capture {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  double t = 100;
  ~Capture() {
    std::fclose(f);
    free(buf);
  }
  std::string Text() {
    std::fflush(f);
    return std::string(buf, len);
  }
  ProgressView View(bool tty) {
    ProgressView::Options o;
    o.tty = tty;
    o.width = 120;
    o.now = [this] { return t; };
    return ProgressView(f, o);
  }
};

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) n++;
  return n;
}

TEST(ProgressView, LineShowsBarBytesRateAndTimeLeft) {
  ProgressView::Item it{"fetch", "sha256:" + std::string(64, 'a'), 25'000'000, 100'000'000, 10, 15, false};
  std::string line = ProgressView::Line(it, 200);
  EXPECT_NE(line.find("fetch sha256:aaaaaaaaaaaa "), std::string::npos) << line;
  EXPECT_EQ(line.find(std::string(13, 'a')), std::string::npos) << "digest not shortened: " << line;
  EXPECT_NE(line.find("[======>-----------------]"), std::string::npos) << line;
  EXPECT_NE(line.find("25 MB / 100 MB"), std::string::npos) << line;
  EXPECT_NE(line.find("5 MB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("15s left"), std::string::npos) << line;
  it.done = it.total;
  it.finished = true;
  line = ProgressView::Line(it, 200);
  EXPECT_NE(line.find("[========================]"), std::string::npos) << line;
  EXPECT_NE(line.find("done in 5s"), std::string::npos) << line;
  EXPECT_LE(ProgressView::Line(it, 40).size(), 39u);
}

TEST(ProgressView, PlainOutputHasOneLinePerFinishedItemAndNoEscapes) {
  Capture c;
  auto v = c.View(false);
  for (int i = 0; i <= 10; i++) {
    c.t += 1;
    v.Update({"layer 1/2", "sha256:one", static_cast<uint64_t>(i) * 100, 1000});
    v.Update({"layer 2/2", "sha256:two", static_cast<uint64_t>(i) * 50, 500});
  }
  v.Update({"layer 2/2", "sha256:two", 500, 500});  // a late repeat of a finished item
  std::string out = c.Text();
  EXPECT_EQ(Count(out, "\n"), 2u) << out;
  EXPECT_EQ(Count(out, "sha256:one"), 1u) << out;
  EXPECT_EQ(Count(out, "sha256:two"), 1u) << out;
  EXPECT_EQ(out.find('\033'), std::string::npos) << out;
  EXPECT_NE(out.find("done in 10s"), std::string::npos) << out;
}

TEST(ProgressView, TerminalRedrawsActiveLinesInPlaceAndKeepsFinishedOnes) {
  Capture c;
  auto v = c.View(true);
  v.Update({"fetch", "a", 0, 100});
  c.t += 1;
  v.Update({"fetch", "b", 0, 100});  // two active lines now
  c.t += 1;
  v.Update({"fetch", "a", 50, 100});
  c.t += 1;
  v.Update({"fetch", "a", 100, 100});  // a finishes
  c.t += 1;
  v.Update({"fetch", "b", 100, 100});
  std::string out = c.Text();
  // Each redraw moves up over what it drew before: 1, then 2, then 2, then 1.
  EXPECT_EQ(Count(out, "\033[1A"), 2u) << out;
  EXPECT_EQ(Count(out, "\033[2A"), 2u) << out;
  // The final state of each item is on the screen once, each a finished line.
  EXPECT_EQ(Count(out, "fetch a [========================] 100 B / 100 B  done in"), 1u) << out;
  EXPECT_EQ(Count(out, "fetch b [========================] 100 B / 100 B  done in"), 1u) << out;
}

TEST(ProgressView, TerminalRedrawsAtMostTenTimesASecondUntilSomethingFinishes) {
  Capture c;
  auto v = c.View(true);
  for (int i = 0; i < 50; i++) {
    c.t += 0.01;
    v.Update({"push", "x", static_cast<uint64_t>(i), 100});
  }
  std::string out = c.Text();
  EXPECT_LE(Count(out, "push x"), 6u) << out;
  EXPECT_GE(Count(out, "push x"), 4u) << out;
}

TEST(Plural, OneAndMany) {
  EXPECT_EQ(Plural(1, "layer"), "1 layer");
  EXPECT_EQ(Plural(0, "layer"), "0 layers");
  EXPECT_EQ(Plural(3, "entry", "entries"), "3 entries");
}

}  // namespace
}  // namespace cimg
