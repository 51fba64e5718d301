// tapezoo tutorials: numbered steps, checked claims, a fixed seed, pauses on a terminal.
//
// A tutorial is tutorials/NN_name.cpp. Its first lines carry a one-line description that
// ./zoo shows in its list of tutorials:
//
//   // tutorial: EM for a Gaussian mixture, one E-step and one M-step at a time
//
// and its main() follows this shape:
//
//   #include "tutorials/tutorial.hpp"
//
//   int main(int argc, char** argv) {
//     tz::tutorial::Tutorial t("02_gmm_em", "EM for a Gaussian mixture");
//     int k = 3;
//     t.add_option("--components", k, "number of mixture components");   // own flags, optional
//     if (auto rc = t.parse(argc, argv)) return *rc;                      // --help, bad flags
//     const int n = t.pick(60000, 600);                                   // full run, --quick
//     tz::Rng rng(t.seed());
//
//     t.step(1, "Data: {} points from a mixture of {} Gaussians", n, k);
//     t.say("The E-step computes responsibilities in log space (docs/pitfalls.md#em-stability).");
//     // a check names its row of tutorials/claims.hpp, and can fail if the code is wrong:
//     t.check(claim("bayes-posterior-is-e-step"), "e_step = Bayes' rule by hand", err < 1e-12,
//             fmt::format("max |r_nk − π_k N_k / Σ_j π_j N_j| = {:.1e}", err));
//     // what holds by construction is said, not counted:
//     t.identity("responsibilities sum to one", fmt::format("max |Σ_k r_nk − 1| = {:.1e}", max_err));
//     t.step(2, "E-step: r_nk = π_k N(x_n|μ_k,Σ_k) / Σ_j π_j N(x_n|μ_j,Σ_j)");
//     ...
//     return t.finish();     // "k of n checks passed"; nonzero if any check failed
//   }
//
// Common flags, parsed by every tutorial:
//   --quick        small data, a few iterations: seconds to run (the meson test runs this way)
//   --no-pause     run straight through (also when stdin is not a terminal)
//   --seed N       the one seed of the run (default: the tutorial's own, fixed)
//   --out DIR      where files go (default out/<name>); created by out_dir() on first use
//   --threads N    threads for evaluations, the same numbers for every N (default 1; autograd/parallel.hpp)
//   --textbook     the textbook path instead of the fast one: the MLP records linear then elu, the
//                  Bernoulli log-likelihood is a composite of plain ops, the step reads
//                  backward; step; zero_grad (autograd/path.hpp, docs/fast-paths.md). The header
//                  line then says "textbook path"; TAPEZOO_TEXTBOOK=1 does the same.
//   --help
//
// Output is plain text when stdout is not a terminal (logs, meson test), and bold, underlined
// step headers with coloured ✓/✗ on a terminal (NO_COLOR turns colour off).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tutorials/claims.hpp"

namespace CLI {
class App;  // <CLI/CLI.hpp> (CLI11): include it in a tutorial only to use app() directly.
}

namespace tz::tutorial {

class Tutorial {
 public:
  // name: the file's stem, e.g. "02_gmm_em" (default output folder out/<name>).
  // description: one line, shown by --help and at the top of the output.
  // default_seed: the fixed seed used when --seed is not given.
  Tutorial(std::string name, std::string description, std::uint64_t default_seed = 42);
  ~Tutorial();
  Tutorial(const Tutorial&) = delete;
  Tutorial& operator=(const Tutorial&) = delete;

  // ---- the tutorial's own flags: call before parse() --------------------------------------
  void add_flag(const std::string& name, bool& value, const std::string& help);
  void add_option(const std::string& name, int& value, const std::string& help);
  void add_option(const std::string& name, long& value, const std::string& help);
  void add_option(const std::string& name, std::size_t& value, const std::string& help);
  void add_option(const std::string& name, double& value, const std::string& help);
  void add_option(const std::string& name, std::string& value, const std::string& help);
  CLI::App& app();  // anything else CLI11 offers (include <CLI/CLI.hpp>)

  // Parses the flags and prints the tutorial's title. Returns an exit code when main() should
  // return at once (0 after --help, nonzero on a bad flag), and nothing when the tutorial goes on.
  [[nodiscard]] std::optional<int> parse(int argc, char** argv);

  // ---- settings ----------------------------------------------------------------------------
  const std::string& name() const { return name_; }
  bool quick() const { return quick_; }
  bool interactive() const { return pause_; }  // pauses between steps
  std::uint64_t seed() const { return seed_; }
  int threads() const;  // the pool's threads (autograd/parallel.hpp)
  // The value for this mode: pick(full, quick), e.g. pick(60000, 1000) data points.
  template <typename T>
  T pick(T full, T quick_value) const {
    return quick_ ? quick_value : full;
  }

  // The output folder (--out, default out/<name>), created on first use.
  std::filesystem::path out_dir();
  // out_dir() / filename.
  std::filesystem::path out_file(const std::string& filename);

  // ---- narration ---------------------------------------------------------------------------
  // "Step n  title" as a header; on a terminal, waits for Enter before every step but the first.
  void step(int n, std::string_view title);
  template <typename... Args>
  void step(int n, fmt::format_string<Args...> title, Args&&... args) {
    step(n, std::string_view(fmt::format(title, std::forward<Args>(args)...)));
  }

  // Narration, indented under the current step. say() for the story, note() for asides.
  void say(std::string_view text);
  template <typename... Args>
  void say(fmt::format_string<Args...> text, Args&&... args) {
    say(std::string_view(fmt::format(text, std::forward<Args>(args)...)));
  }
  void note(std::string_view text);
  template <typename... Args>
  void note(fmt::format_string<Args...> text, Args&&... args) {
    note(std::string_view(fmt::format(text, std::forward<Args>(args)...)));
  }

  // ---- checked claims ----------------------------------------------------------------------
  // Every check names its row of tutorials/claims.hpp: claim("id") finds it at compile time.
  // Prints "label: detail ✓" (or ✗), records the result under the claim, and returns ok.
  //   t.check(claim("jensen-gap-is-kl"), "Jensen", log_mean_w >= mean_log_w,
  //           fmt::format("log E[w] = {:.2f} ≥ E[log w] = {:.2f}", log_mean_w, mean_log_w));
  bool check(const Claim& claim, std::string_view label, bool ok, std::string_view detail = {});
  // |got − want| ≤ atol + rtol·|want|, printed as "label: got vs want (error e) ✓". A NaN fails.
  bool check_close(const Claim& claim, std::string_view label, double got, double want, double rtol = 1e-6,
                   double atol = 0.0);
  // What holds by construction, whatever the code does (the same numbers summed in another order,
  // an inequality between functions of the same samples): printed as "label: detail (identity)",
  // not counted as a check, and not tied to a claim.
  void identity(std::string_view label, std::string_view detail = {});

  int checks_run() const { return static_cast<int>(results_.size()); }
  int checks_failed() const;

  // Prints "k of n checks passed" (and the failed ones), and returns main()'s exit code:
  // 0 when every check passed, 1 otherwise.
  [[nodiscard]] int finish();

 private:
  struct Result {
    int step;
    std::string_view claim;  // a row's id in kClaims (static storage)
    std::string text;
    bool ok;
  };
  void write_check_record();  // out_dir()/checks.tsv: claim, step, ok, the printed line
  void print_indented(std::string_view text, const char* style);
  bool wait_for_enter(int next_step);
  std::string styled(std::string_view text, const char* style) const;

  std::string name_;
  std::string description_;
  std::unique_ptr<CLI::App> app_;
  bool quick_ = false;
  bool no_pause_ = false;
  bool pause_ = false;   // interactive: stdin is a terminal and no --no-pause
  bool color_ = false;   // stdout is a terminal and NO_COLOR is unset
  std::uint64_t seed_;
  int threads_ = 0;      // --threads; 0: 1
  std::string out_;
  bool out_made_ = false;
  int current_step_ = 0;
  int steps_shown_ = 0;
  std::vector<Result> results_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tz::tutorial
