// The progress of long work (pulls, pushes, builds, deploys), as podman
// shows it: on a terminal, one line per item (a layer, a blob, the rootfs
// being sent) with a bar, bytes, rate and time left, redrawn in place, and a
// finished item's line left once as its final state; elsewhere (a pipe, a
// log file) one plain line per finished item, never a redraw.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace cimg {

class ProgressView {
 public:
  struct Options {
    bool tty = false;  // redraw lines in place (ANSI cursor movement)
    int width = 100;   // columns a line may take
    // Seconds on a monotonic clock. Default: steady_clock.
    std::function<double()> now;
  };
  ProgressView(std::FILE* out, Options o);

  // Thread-safe. An item is named by p.item; p.phase labels it (the label
  // follows the latest phase). It is finished when total > 0 and done >= total.
  void Update(const cfs::Progress& p);

  // The line an item shows (exposed for tests): "LABEL ITEM [bar] DONE / TOTAL RATE ETA".
  struct Item {
    std::string label, name;
    uint64_t done = 0, total = 0;
    double start = 0, now = 0;
    bool finished = false;
  };
  static std::string Line(const Item& it, int width);

 private:
  void Redraw(double now);  // REQUIRES: mu_

  std::mutex mu_;
  std::FILE* out_;
  Options o_;
  std::vector<Item> active_;  // drawn at the bottom, in first-seen order
  std::vector<std::string> finished_;  // every finished item, so a late update is dropped
  int drawn_ = 0;          // lines of active_ on the screen now
  double last_draw_ = -1;  // seconds
};

// The ProgressFn of a command: nullptr with -q; a ProgressView on stderr
// otherwise (a terminal redraws, anything else gets plain lines).
cfs::ProgressFn StderrProgress(bool quiet);

// "1 layer", "2 layers": plurals right in summaries.
std::string Plural(uint64_t n, const std::string& one, const std::string& many = "");

}  // namespace cimg
