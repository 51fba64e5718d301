// The textbook path and the fast path.
//
// Wherever speed needed a trick, tapezoo keeps two versions side by side:
//   - the textbook path, written as the formula reads (an MLP records `linear` then `elu`; the
//     training loop reads `backward; step; zero_grad`; EM's E-step is a loop over points and
//     components on plain arrays), which is what a student steps through in a debugger;
//   - the fast path (fused ops in autograd/ops_fused.cpp, EM kernels in models/gmm_kernels.cpp,
//     Adam inside the backward sweep), whose comment names the textbook code it replaces.
// A test proves each pair equal: bit for bit where the arithmetic is the same, otherwise within a
// stated float tolerance (tests/test_fast_paths.cpp). docs/fast-paths.md lists every pair.
//
// Each call site writes the textbook branch first and the fast one after it:
//   if (tz::textbook()) { h = elu(linear(x, W, b)); } else { h = linear_elu(x, W, b); }
//
// The fast path is the default. `--textbook` on `./zoo train`, `./zoo eval`, `./zoo sample`,
// `./zoo fit gmm` and every tutorial, or TAPEZOO_TEXTBOOK=1 in the environment, selects the
// textbook path for the whole run; `./zoo train --json` says which ran ("path").
#pragma once

namespace tz {

enum class Path { fast, textbook };

// The path of this process: Path::textbook when TAPEZOO_TEXTBOOK is set to 1 (read once, at the
// first call) or after set_path(Path::textbook); Path::fast otherwise.
Path path();
void set_path(Path p);
inline bool textbook() { return path() == Path::textbook; }
const char* to_string(Path p);  // "fast" or "textbook"

// Selects a path for one scope and restores the previous one: tests run both paths in one process.
class PathScope {
 public:
  explicit PathScope(Path p) : previous_(path()) { set_path(p); }
  ~PathScope() { set_path(previous_); }
  PathScope(const PathScope&) = delete;
  PathScope& operator=(const PathScope&) = delete;

 private:
  Path previous_;
};

}  // namespace tz
