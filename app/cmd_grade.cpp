// tapezoo grade [TASK|PART …] [--json] [--regenerate]: runs the coursework checks
// (coursework/grader.hpp) and prints each task's points and result, then a score table.
// --regenerate (in the solved project) rewrites the hidden values, coursework/hidden.txt.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <stdexcept>

#include "app/commands.hpp"
#include "coursework/grader.hpp"

#ifndef TAPEZOO_SOURCE_ROOT
#define TAPEZOO_SOURCE_ROOT "."
#endif

namespace {

struct GradeArgs {
  std::vector<std::string> tasks;
  bool json = false, regenerate = false;
};

void run_grade(const GradeArgs& a) {
  using namespace tz::coursework;
  const std::string path = std::string(TAPEZOO_SOURCE_ROOT) + "/coursework/hidden.txt";
  if (a.regenerate) {
    if (!a.tasks.empty()) throw std::invalid_argument("grade --regenerate: takes no TASK (it rewrites every value)");
    Hidden fresh;
    for (const TaskResult& r : grade({}, fresh, true))
      if (r.status != "ok")
        throw std::runtime_error("grade --regenerate: task " + r.task->id + " fails here (" + r.message +
                                 "): regenerate only in the solved project");
    write_hidden(path, fresh);
    std::printf("grade: wrote %zu hidden values to %s\n", fresh.size(), path.c_str());
    return;
  }
  Hidden hidden = read_hidden(path);
  const std::vector<TaskResult> results = grade(a.tasks, hidden);
  std::printf("%s\n", a.json ? report_json(results).c_str() : report_text(results).c_str());
}

}  // namespace

void add_grade_command(CLI::App& app) {
  auto a = std::make_shared<GradeArgs>();
  auto* g = app.add_subcommand("grade", "coursework: check the tasks, print each one's points and a score table");
  g->add_option("tasks", a->tasks, "task ids (6.1) or parts (6) to grade (default: all)");
  g->add_flag("--json", a->json, "print one JSON object: every task's id, points, score, status and message");
  g->add_flag("--regenerate", a->regenerate, "rewrite coursework/hidden.txt from this (solved) project");
  g->callback([a] { run_grade(*a); });
}
