// tapezoo: a training run and the program around it. Signals come in (StopOnSignal: Ctrl-C asks the
// loop to stop between steps), and words go out: the message that says how to resume, and the JSON
// line of --json (models/train.hpp).
#include <csignal>
#include <string>

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include "autograd/blas.hpp"
#include "autograd/path.hpp"
#include "io/json.hpp"
#include "models/train.hpp"

namespace tz::models {

namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

void on_stop_signal(int sig) {
  if (g_stop_signal != 0) _exit(128 + sig);  // the second one: quit now (a checkpoint is renamed into place whole)
  g_stop_signal = sig;
  static const char note[] = "\ntapezoo: stopping after the current step (again to quit at once)\n";
  const ssize_t written = write(STDERR_FILENO, note, sizeof note - 1);  // write(2) is safe in a handler
  (void)written;
}

}  // namespace

struct StopOnSignal::Saved {
  struct sigaction old_int {}, old_term {};
};

StopOnSignal::StopOnSignal() : saved_(std::make_unique<Saved>()) {
  g_stop_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads and writes under way go on instead of failing with EINTR
  sigaction(SIGINT, &sa, &saved_->old_int);
  sigaction(SIGTERM, &sa, &saved_->old_term);
}

StopOnSignal::~StopOnSignal() {
  sigaction(SIGINT, &saved_->old_int, nullptr);
  sigaction(SIGTERM, &saved_->old_term, nullptr);
  g_stop_signal = 0;  // a request belongs to the guard that received it
}

int StopOnSignal::requested() { return g_stop_signal; }

namespace {

// s as one word for a POSIX shell: as it is if it is safe, else in single quotes ('\'' for a quote).
std::string shell_quoted(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+:,") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string interrupted_message(const std::string& program, const ModelInfo& info, const TrainOptions& opt,
                                const TrainResult& r) {
  if (r.iters >= opt.iters)
    return fmt::format("interrupted after the last iteration ({}): the run is complete{}", r.iters,
                       opt.out.empty() ? "" : fmt::format(", and {} holds all it writes", opt.out));
  if (opt.out.empty())
    return fmt::format("interrupted at iteration {}: nothing was saved (without --out there is no checkpoint)", r.iters);
  return fmt::format("interrupted at iteration {}: resume with {} train {} --resume {}", r.iters, program, info.name,
                     shell_quoted(opt.out));
}

std::string result_json(const ModelInfo& info, const TrainOptions& opt, const TrainResult& r) {
  JsonLine j;
  j.add("model", info.name).add("data", opt.data.empty() ? info.default_data : opt.data);
  j.add("iters", r.iters).add("batch", opt.batch).add("seed", static_cast<long>(opt.seed));
  j.add("train_s", r.train_s).add("ms_per_iter", r.ms_per_iter).add("ms_per_iter_mean", r.ms_per_iter_mean);
  j.add("blas_core", blas::core_name()).add("threads", opt.threads).add("step_threads", r.step_threads);
  j.add("path", to_string(path()));
  for (const auto& [k, v] : r.final_train) j.add("train_" + k, v);
  for (const auto& [k, v] : r.metrics) j.add(k, v);
  return j.str();
}

}  // namespace tz::models
