#include "tools/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "tools/image_list.h"

namespace cimg {

namespace {

constexpr double kRedrawEvery = 0.1;  // seconds between redraws of unfinished lines
constexpr int kBarWidth = 24;

std::string Duration(double s) {
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) / 60 % 60);
  return buf;
}

// A digest-like name shortened as podman shows blobs: "sha256:0123456789ab".
std::string ShortName(const std::string& name, size_t max) {
  std::string n = name;
  auto at = n.find("sha256:");
  if (at != std::string::npos && n.size() > at + 7 + 12) n = n.substr(0, at + 7 + 12) + n.substr(std::min(n.size(), at + 7 + 64));
  if (n.size() > max) n = n.substr(0, max - 3) + "...";
  return n;
}

std::string Bar(uint64_t done, uint64_t total) {
  int fill = total ? static_cast<int>(static_cast<double>(std::min(done, total)) / static_cast<double>(total) * kBarWidth) : 0;
  std::string b = "[";
  for (int i = 0; i < kBarWidth; i++) b += i < fill ? '=' : (i == fill && done < total ? '>' : '-');
  return b + "]";
}

}  // namespace

std::string Plural(uint64_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many.empty() ? one + "s" : many);
}

std::string ProgressView::Line(const Item& it, int width) {
  const double secs = std::max(0.0, it.now - it.start);
  std::string sizes = it.total ? HumanSize(it.done) + " / " + HumanSize(it.total) : HumanSize(it.done);
  std::string tail;
  if (it.finished) {
    tail = "done in " + Duration(secs);
  } else if (secs >= 0.5 && it.done > 0) {
    const double rate = static_cast<double>(it.done) / secs;
    tail = HumanSize(static_cast<uint64_t>(rate)) + "/s";
    if (it.total > it.done) tail += "  " + Duration(static_cast<double>(it.total - it.done) / rate) + " left";
  }
  std::string label = it.label.empty() ? "copying" : it.label;
  std::string head = label + " " + ShortName(it.name, 40);
  std::string line = head + " " + (it.total ? Bar(it.done, it.total) + " " : "") + sizes + (tail.empty() ? "" : "  " + tail);
  if (static_cast<int>(line.size()) > width && width > 20) line = line.substr(0, width - 1);
  return line;
}

ProgressView::ProgressView(std::FILE* out, Options o) : out_(out), o_(std::move(o)) {
  if (!o_.now)
    o_.now = [] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
    };
}

void ProgressView::Update(const cfs::Progress& p) {
  std::lock_guard<std::mutex> l(mu_);
  const double now = o_.now();
  if (std::find(finished_.begin(), finished_.end(), p.item) != finished_.end()) return;
  auto it = std::find_if(active_.begin(), active_.end(), [&](const Item& i) { return i.name == p.item; });
  if (it == active_.end()) {
    active_.push_back(Item{p.phase, p.item, 0, 0, now, now, false});
    it = active_.end() - 1;
  }
  if (!p.phase.empty()) it->label = p.phase;
  it->done = p.done;
  it->total = p.total;
  it->now = now;
  it->finished = p.total > 0 && p.done >= p.total;
  if (it->finished) {
    finished_.push_back(it->name);
  } else if (!o_.tty || now - last_draw_ < kRedrawEvery) {
    return;  // plain output shows finished items only; a terminal at most 10 redraws a second
  }
  Redraw(now);
}

void ProgressView::Redraw(double now) {
  std::string s;
  if (o_.tty && drawn_ > 0) s += "\033[" + std::to_string(drawn_) + "A";  // to the first active line
  // Finished items leave the active set for good: their line is printed
  // once (in place on a terminal, where it was being drawn), then the rest.
  std::vector<Item> still;
  for (auto& it : active_) {
    if (!it.finished) {
      it.now = now;
      still.push_back(it);
      continue;
    }
    s += (o_.tty ? "\r\033[K" : "") + Line(it, o_.width) + "\n";
  }
  active_ = std::move(still);
  if (o_.tty) {
    for (const auto& it : active_) s += "\r\033[K" + Line(it, o_.width) + "\n";
    s += "\033[J";  // clear what a longer previous drawing left below
    drawn_ = static_cast<int>(active_.size());
  }
  std::fputs(s.c_str(), out_);
  std::fflush(out_);
  last_draw_ = now;
}

cfs::ProgressFn StderrProgress(bool quiet) {
  if (quiet) return nullptr;
  ProgressView::Options o;
  o.tty = ::isatty(2) == 1;
  o.width = 1 << 20;  // plain lines are never cut
  if (o.tty) {
    winsize ws{};
    if (::ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) o.width = ws.ws_col;
  }
  auto view = std::make_shared<ProgressView>(stderr, std::move(o));
  return [view](const cfs::Progress& p) { view->Update(p); };
}

}  // namespace cimg
