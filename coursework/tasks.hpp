// tapezoo coursework: the syllabus, one row per task, in dependency order (coursework/tasks.cpp).
// A task is a set of regions of the real source marked
//   // TASK 6.1 negative_elbo_bound: rec + KL, both per example (Kingma & Welling 2014, eq. 10)
//   …the solution…
//   // END TASK
// `./zoo exercise new DIR` stubs them (coursework/exercise.hpp); `./zoo grade` checks them
// (coursework/grader.hpp). docs/teaching.md says how to add one.
#pragma once

#include <string>
#include <vector>

namespace tz::coursework {

struct Task {
  std::string id;                       // "part.n", e.g. "6.1"; its part is the number before the dot
  std::string title;                    // one line
  int points = 0;
  std::vector<std::string> files;       // where its regions are
  std::vector<std::string> functions;   // the function each region is in (the marker's name)
  std::vector<std::string> depends;     // earlier tasks its checks use
  std::string tutorial;                 // the tutorial that uses it (tutorials/NN_name.cpp)
};

// The syllabus: every task, parts in order, each depending only on earlier rows.
const std::vector<Task>& tasks();

// The task with this id, or nullptr.
const Task* find_task(const std::string& id);

// The part of a task id: 6 for "6.1". Throws std::invalid_argument for a malformed id.
int part_of(const std::string& id);

}  // namespace tz::coursework
