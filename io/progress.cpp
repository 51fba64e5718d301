// tapezoo: progress bar (see progress.hpp).
#include "io/progress.hpp"

#include <algorithm>

#include <unistd.h>

namespace tz {

namespace {

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::size_t total, ProgressOptions options)
    : total_(total), opt_(std::move(options)), start_(std::chrono::steady_clock::now()) {
  enabled_ = !opt_.quiet && opt_.out != nullptr && (opt_.force || ::isatty(::fileno(opt_.out)));
}

ProgressBar::~ProgressBar() { finish(); }

std::string ProgressBar::format(const std::string& label, std::size_t done, std::size_t total, double seconds,
                                double loss, int bar_width) {
  std::string line;
  if (!label.empty()) line += label + " ";
  char buf[96];
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  if (total > 0) {
    const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
    const int filled = static_cast<int>(frac * bar_width);
    line += '[';
    line.append(static_cast<std::size_t>(filled), '#');
    line.append(static_cast<std::size_t>(bar_width - filled), '.');
    line += ']';
    std::snprintf(buf, sizeof buf, " %3d%%  %zu/%zu", static_cast<int>(frac * 100), done, total);
    line += buf;
  } else {
    std::snprintf(buf, sizeof buf, "%zu", done);
    line += buf;
  }
  if (rate >= 100) std::snprintf(buf, sizeof buf, "  %.0f it/s", rate);
  else std::snprintf(buf, sizeof buf, "  %.3g it/s", rate);
  line += buf;
  if (total > 0) {
    if (done >= total) line += "  took " + clock_text(seconds);
    else line += "  ETA " + (rate > 0 ? clock_text(static_cast<double>(total - done) / rate) : std::string("?"));
  }
  if (!std::isnan(loss)) {
    std::snprintf(buf, sizeof buf, "  loss %.4g", loss);
    line += buf;
  }
  return line;
}

void ProgressBar::draw(double seconds) {
  const std::string line = format(opt_.label, done_, total_, seconds, loss_, opt_.bar_width);
  std::fprintf(opt_.out, "\r%s\x1b[K", line.c_str());
  std::fflush(opt_.out);
  last_draw_ = seconds;
  ++redraws_;
}

void ProgressBar::update(std::size_t done, double loss) {
  done_ = done;
  if (!std::isnan(loss)) loss_ = loss;
  if (!enabled_ || finished_) return;
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (t - last_draw_ < opt_.min_interval) return;
  draw(t);
}

void ProgressBar::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  draw(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
  std::fputc('\n', opt_.out);
  std::fflush(opt_.out);
}

}  // namespace tz
