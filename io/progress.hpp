// tapezoo: a one-line progress bar on stderr for long loops.
//
//   tz::ProgressBar bar(steps, {.label = "train"});
//   for (std::size_t t = 1; t <= steps; ++t) {
//     ...
//     bar.update(t, loss);   // cheap: redraws at most 10 times a second
//   }
//   bar.finish();            // last redraw and a newline (the destructor does it too)
//
//   train [#########...............]  38%  3800/10000  412.3 it/s  ETA 0:15  loss 97.31
//
// It is off (prints nothing) when constructed with quiet = true or when its stream is not a
// terminal (isatty), so logs, pipes and CI output stay clean.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <string>

namespace tz {

struct ProgressOptions {
  std::string label = {};  // (every member has a default, so designated initializers need not list them)
  bool quiet = false;
  std::FILE* out = stderr;
  bool force = false;         // draw even when `out` is not a terminal (tests, demos)
  double min_interval = 0.1;  // seconds between redraws
  int bar_width = 24;
};

class ProgressBar {
 public:
  explicit ProgressBar(std::size_t total, ProgressOptions options = {});
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `done` of `total` steps finished; loss is shown when it is not NaN.
  void update(std::size_t done, double loss = std::numeric_limits<double>::quiet_NaN());
  void finish();

  bool enabled() const { return enabled_; }
  std::size_t redraws() const { return redraws_; }

  // The line for the given state (without "\r" or the clear-to-end-of-line code).
  static std::string format(const std::string& label, std::size_t done, std::size_t total, double seconds, double loss,
                            int bar_width = 24);

 private:
  void draw(double seconds);

  std::size_t total_;
  ProgressOptions opt_;
  bool enabled_ = false, finished_ = false;
  std::size_t done_ = 0, redraws_ = 0;
  double loss_ = std::numeric_limits<double>::quiet_NaN();
  double last_draw_ = -1e300;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tz
