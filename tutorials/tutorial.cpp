// tapezoo tutorials: the shared framework (see tutorial.hpp for how a tutorial uses it).
#include "tutorials/tutorial.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "autograd/path.hpp"
#include "coursework/not_implemented.hpp"
#include "io/flags.hpp"

namespace tz::tutorial {

namespace {

constexpr const char* kBold = "\033[1m";
constexpr const char* kBoldUnderline = "\033[1;4m";
constexpr const char* kDim = "\033[2m";
constexpr const char* kGreen = "\033[32m";
constexpr const char* kRed = "\033[1;31m";
constexpr const char* kReset = "\033[0m";

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0';
}

// In a coursework copy (./zoo exercise new, docs/teaching.md) a step that calls an unwritten task
// throws tz::NotImplemented out of main(): say which task it needs, instead of a crash.
[[noreturn]] void stop_at_unwritten_task() {
  try {
    if (std::current_exception()) std::rethrow_exception(std::current_exception());
  } catch (const NotImplemented& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "\ntutorial stopped at this step: %s. Write it, then ./zoo grade %s\n", e.what(),
                 e.task().c_str());
    std::_Exit(3);
  } catch (const std::exception& e) {  // as the default handler does: name it, then abort
    std::fprintf(stderr, "terminate called after throwing an exception: %s\n", e.what());
  } catch (...) {
  }
  std::abort();
}

}  // namespace

Tutorial::Tutorial(std::string name, std::string description, std::uint64_t default_seed)
    : name_(std::move(name)),
      description_(std::move(description)),
      app_(std::make_unique<CLI::App>(description_, name_)),
      seed_(default_seed),
      out_("out/" + name_),
      start_(std::chrono::steady_clock::now()) {
  std::set_terminate(stop_at_unwritten_task);
  app_->add_flag("--quick", quick_, "small data and few iterations: runs in seconds");
  app_->add_flag("--no-pause", no_pause_,
                 "do not wait for Enter between steps (also when stdin is not a terminal)");
  app_->add_option("--seed", seed_, "seed of the run's one random generator")
      ->capture_default_str()
      ->check(flags::nonnegative_integer());
  app_->add_option("--out", out_, "folder for the files this tutorial writes")
      ->capture_default_str();
  app_->add_option("--threads", threads_,
                   "threads for the evaluations (IWAE-k, test metrics, the GMM E-step), the same numbers for "
                   "every N; training steps use one (default 1)")
      ->check(flags::positive_integer());
  app_->add_flag_callback("--textbook", [] { set_path(Path::textbook); },
                          "run the textbook path (plain ops, backward; step; zero_grad) instead of the fast one "
                          "(docs/fast-paths.md)");
}

Tutorial::~Tutorial() = default;

void Tutorial::add_flag(const std::string& name, bool& value, const std::string& help) {
  app_->add_flag(name, value, help);
}
// Each option says in words what it expects ("--k: expected an integer, got x").
void Tutorial::add_option(const std::string& name, int& value, const std::string& help) {
  app_->add_option(name, value, help)->capture_default_str()->check(flags::integer());
}
void Tutorial::add_option(const std::string& name, long& value, const std::string& help) {
  app_->add_option(name, value, help)->capture_default_str()->check(flags::integer());
}
void Tutorial::add_option(const std::string& name, std::size_t& value, const std::string& help) {
  app_->add_option(name, value, help)->capture_default_str()->check(flags::nonnegative_integer());
}
void Tutorial::add_option(const std::string& name, double& value, const std::string& help) {
  app_->add_option(name, value, help)->capture_default_str()->check(flags::number());
}
void Tutorial::add_option(const std::string& name, std::string& value, const std::string& help) {
  app_->add_option(name, value, help)->capture_default_str();
}
CLI::App& Tutorial::app() { return *app_; }

int Tutorial::threads() const { return pool_threads(); }

std::optional<int> Tutorial::parse(int argc, char** argv) {
  try {
    app_->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_->exit(e);  // prints the help (exit 0) or the error (nonzero)
  }
  if (app_->count("--out") > 0) {  // a bad --out is said now, not after minutes of training
    try {
      out_dir();
    } catch (const std::invalid_argument& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 2;
    }
  }
  pause_ = !no_pause_ && isatty(STDIN_FILENO) != 0;
  color_ = isatty(STDOUT_FILENO) != 0 && !env_set("NO_COLOR") &&
           std::string_view(std::getenv("TERM") ? std::getenv("TERM") : "") != "dumb";
  // One OpenBLAS thread (docs/pitfalls.md#blas-threads); --threads N threads for the pool (autograd/parallel.hpp).
  if (threads_ < 1) threads_ = 1;
  use_threads(threads_);
  // OpenBLAS 0.3.21 may run generic kernels on newer CPUs (docs/pitfalls.md#openblas-kernels): a hint, never a setting.
  blas::print_kernel_hint_once();

  fmt::print("{}\n", styled(fmt::format("tapezoo tutorial {}: {}", name_, description_), kBold));
  fmt::print("seed {}{}{}{}\n", seed_, quick_ ? ", quick mode" : "", textbook() ? ", textbook path" : "",
             pause_ ? "; Enter between steps (c: run to the end, q: quit)" : "");
  std::fflush(stdout);
  start_ = std::chrono::steady_clock::now();
  return std::nullopt;
}

std::filesystem::path Tutorial::out_dir() {
  const std::filesystem::path dir(out_);
  if (!out_made_) {
    flags::make_output_dir(dir, "--out");  // one sentence if it is a file or cannot be made
    out_made_ = true;
  }
  return dir;
}

std::filesystem::path Tutorial::out_file(const std::string& filename) {
  return out_dir() / filename;
}

std::string Tutorial::styled(std::string_view text, const char* style) const {
  if (!color_) return std::string(text);
  return fmt::format("{}{}{}", style, text, kReset);
}

bool Tutorial::wait_for_enter(int next_step) {
  std::fflush(stdout);
  std::fprintf(stderr, "\n-- Enter: step %d   c: run to the end   q: quit -- ", next_step);
  std::fflush(stderr);
  std::string line;
  if (!std::getline(std::cin, line)) {  // end of input: go on without pausing
    pause_ = false;
    std::fputc('\n', stderr);
    return true;
  }
  if (line == "c" || line == "C") pause_ = false;
  return !(line == "q" || line == "Q");
}

void Tutorial::step(int n, std::string_view title) {
  if (pause_ && steps_shown_ > 0) {
    const auto waiting_since = std::chrono::steady_clock::now();
    const bool go_on = wait_for_enter(n);
    start_ += std::chrono::steady_clock::now() - waiting_since;  // reading time is not run time
    if (!go_on) {
      fmt::print("\nstopped before step {}\n", n);
      std::exit(finish());
    }
  }
  current_step_ = n;
  ++steps_shown_;
  fmt::print("\n{}\n", styled(fmt::format("Step {}  {}", n, title), kBoldUnderline));
  std::fflush(stdout);
}

void Tutorial::print_indented(std::string_view text, const char* style) {
  // Each line of the text is indented under the step header.
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(begin, end - begin);
    if (line.empty()) {
      fmt::print("\n");
    } else {
      fmt::print("  {}\n", style != nullptr ? styled(line, style) : std::string(line));
    }
    begin = end + 1;
  }
  std::fflush(stdout);
}

void Tutorial::say(std::string_view text) { print_indented(text, nullptr); }

void Tutorial::note(std::string_view text) {
  print_indented(std::string("note: ") + std::string(text), kDim);
}

bool Tutorial::check(const Claim& claim, std::string_view label, bool ok, std::string_view detail) {
  std::string text(label);
  if (!detail.empty()) text += fmt::format(": {}", detail);
  results_.push_back({current_step_, claim.id, text, ok});
  const std::string mark = ok ? styled("✓", kGreen) : styled("✗", kRed);
  fmt::print("  {} {}\n", text, mark);
  std::fflush(stdout);
  return ok;
}

bool Tutorial::check_close(const Claim& claim, std::string_view label, double got, double want, double rtol,
                           double atol) {
  const double err = std::abs(got - want);
  const bool ok = err <= atol + rtol * std::abs(want);  // NaN compares false: a NaN fails
  const double rel = want != 0.0 ? err / std::abs(want) : err;
  return check(claim, label, ok,
               fmt::format("{:.10g} vs {:.10g} ({} error {:.1e})", got, want,
                           want != 0.0 ? "relative" : "absolute", rel));
}

void Tutorial::identity(std::string_view label, std::string_view detail) {
  std::string text(label);
  if (!detail.empty()) text += fmt::format(": {}", detail);
  fmt::print("  {} {}\n", text, styled("(identity)", kDim));
  std::fflush(stdout);
}

// One line per check, for `./zoo claims` (the last printed line of each claim): tab-separated
// claim id, step, 1 or 0, and the line as printed. Written atomically: a half-written record is never
// read back.
void Tutorial::write_check_record() {
  std::string text;
  for (const auto& r : results_) {
    std::string line = r.text;
    for (char& c : line)
      if (c == '\t' || c == '\n') c = ' ';
    text += fmt::format("{}\t{}\t{}\t{}\n", r.claim, r.step, r.ok ? 1 : 0, line);
  }
  const bool made_before = out_made_;
  std::filesystem::path path;
  try {
    path = out_file("checks.tsv");
  } catch (const std::exception&) {
    return;  // a record we cannot write costs `./zoo claims` a column, not the tutorial its run
  }
  out_made_ = made_before;  // the record alone is no file of the tutorial's to announce
  const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

int Tutorial::checks_failed() const {
  int failed = 0;
  for (const auto& r : results_) failed += r.ok ? 0 : 1;
  return failed;
}

int Tutorial::finish() {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int n = checks_run();
  const int failed = checks_failed();
  fmt::print("\n");
  for (const auto& r : results_) {
    if (!r.ok) fmt::print("{} step {}: {}\n", styled("✗", kRed), r.step, r.text);
  }
  write_check_record();
  const std::string summary = fmt::format("{} of {} checks passed", n - failed, n);
  fmt::print("{} ({:.1f} s{})\n", styled(summary, failed == 0 ? kBold : kRed), seconds,
             out_made_ ? fmt::format(", files in {}", out_) : "");
  std::fflush(stdout);
  return failed == 0 ? 0 : 1;
}

}  // namespace tz::tutorial
