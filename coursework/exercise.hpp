// tapezoo coursework: the exerciser. It finds the task regions of the real source,
//   // TASK <id> <function>: <what to write, with its formula>
//   …code…
//   // END TASK
// and writes a student copy of the project in which the regions of the tasks handed out are
// stubs: the marker and every comment line inside stay, all above the code (the formulas the
// student needs, read first); the code lines become `(void)a, (void)b;` for the function's
// parameters that nothing else in it uses (no unused-parameter warning), then one
// `throw ::tz::NotImplemented(id, function, file);` (coursework/not_implemented.hpp).
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace tz::coursework {

// A malformed marker: the message names the file and the line.
struct MarkerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Region {
  std::string file;      // path relative to the project root
  std::string id;        // task id
  std::string function;  // the marker's function name
  std::size_t begin = 0; // line of the // TASK marker (1-based)
  std::size_t end = 0;   // line of its // END TASK
};

// The regions of one file, in order. Throws MarkerError for a nested or unterminated region, an
// END TASK with no TASK, a task id not in the table, or a function/file the table does not give
// the task. `text` is the file's content; `file` its project-relative path, for the messages.
std::vector<Region> parse_regions(const std::string& file, const std::string& text);

// The file with the regions whose task's part is > upto replaced by stubs (upto 0: every region).
// Adds `#include "coursework/not_implemented.hpp"` above the first #include when it stubs one.
std::string stub_text(const std::string& file, const std::string& text, int upto);

// Whether the exerciser reads this project file for markers (C++ sources outside coursework/ and
// outside the exerciser's own test, whose texts show markers as data).
bool scanned_for_markers(const std::string& file);

struct ExerciseOptions {
  std::string root;  // the project (a git checkout: its tracked files are copied)
  std::string dir;   // the student copy
  int upto = 0;      // parts ≤ upto keep their solutions
  bool update = false;  // dir exists: rewrite only the files whose content changed, no commit
};

struct ExerciseReport {
  std::size_t files = 0, written = 0, stubbed_regions = 0, solved_regions = 0;
};

// Writes the student copy. New dir: git init and one commit. Throws std::runtime_error with the
// reason (dir not empty without update, a marker error, git missing).
ExerciseReport write_exercise(const ExerciseOptions& options);

}  // namespace tz::coursework
