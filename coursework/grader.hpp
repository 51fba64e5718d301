// tapezoo coursework: the grader. Each task has checks (coursework/checks/*.cpp): visible ones
// with small fixed inputs and closed forms the student can read, and hidden ones whose reference
// values were computed once from the solution and stored as numbers (coursework/hidden.txt,
// written by `./zoo grade --regenerate` in the solved project). No check depends on a random
// generator's stream: inputs are fixed arrays, ε included. A task earns its points when all of its
// checks pass; the first failure is reported with its input, the expected and the computed value.
#pragma once

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "coursework/tasks.hpp"

namespace tz::coursework {

// A wrong value: the message says which input, which element, what was expected and what came.
struct CheckFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The stored reference values, by key ("5.2/log_normal"): numbers only.
using Hidden = std::map<std::string, std::vector<double>>;
Hidden read_hidden(const std::string& path);   // throws std::runtime_error naming the file and line
void write_hidden(const std::string& path, const Hidden& values);

class Checker {
 public:
  // regenerate: hidden checks record what they compute into `hidden` instead of comparing.
  Checker(Hidden& hidden, bool regenerate) : hidden_(hidden), regenerate_(regenerate) {}
  // |got_i − expected_i| ≤ atol + rtol·|expected_i| for every i, else CheckFailure naming
  // `what` (the call and its input), the element, both values and the tolerance.
  void close(const std::string& what, const std::vector<double>& expected, const std::vector<double>& got,
             double rtol, double atol = 0) const;
  void close(const std::string& what, double expected, double got, double rtol, double atol = 0) const {
    close(what, std::vector<double>{expected}, std::vector<double>{got}, rtol, atol);
  }
  // The same against the stored values under key.
  void hidden(const std::string& key, const std::string& what, const std::vector<double>& got, double rtol,
              double atol = 0);

 private:
  Hidden& hidden_;
  bool regenerate_;
};

struct Check {
  std::string task;  // its task id
  std::string name;  // one line: what it checks
  bool visible = true;
  std::function<void(Checker&)> run;
};

// Every check, by part (coursework/checks/checks_*.cpp).
std::vector<Check> all_checks();

struct TaskResult {
  const Task* task = nullptr;
  int score = 0;
  std::string status;   // "ok", "not written yet", "wrong", "error"
  std::string message;  // the first failure, empty when ok
  int checks = 0, passed = 0;
};

// Grades the tasks whose id or part is in `selected` (all when empty). Throws std::invalid_argument
// for a selection that names no task.
std::vector<TaskResult> grade(const std::vector<std::string>& selected, Hidden& hidden, bool regenerate = false);

std::string report_text(const std::vector<TaskResult>& results);
std::string report_json(const std::vector<TaskResult>& results);

// "[1, 2.5, …]" with 17 significant digits, for the messages.
std::string show(const std::vector<double>& v);

}  // namespace tz::coursework
