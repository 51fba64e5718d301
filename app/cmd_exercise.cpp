// tapezoo exercise new DIR [--upto K] [--update]: a student copy of the project in DIR, with the
// task regions of parts > K replaced by stubs (coursework/exercise.hpp, docs/teaching.md).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/commands.hpp"
#include "coursework/exercise.hpp"
#include "coursework/tasks.hpp"

#ifndef TAPEZOO_SOURCE_ROOT
#define TAPEZOO_SOURCE_ROOT "."
#endif

void add_exercise_command(CLI::App& app) {
  auto* ex = app.add_subcommand("exercise", "coursework: write a student copy with the tasks as stubs");
  ex->require_subcommand(1);
  auto* nw = ex->add_subcommand("new", "new DIR [--upto K]: a student copy in DIR, a git repository of its own");
  auto o = std::make_shared<tz::coursework::ExerciseOptions>();
  nw->add_option("dir", o->dir, "the folder to write (new or empty; with --update: an earlier copy)")->required();
  nw->add_option("--upto", o->upto, "hand out parts 1..K solved, stub the rest (0: stub every task)")
      ->capture_default_str()
      ->check(CLI::Range(0, 99));
  nw->add_flag("--update", o->update, "rewrite an earlier copy in place: only changed files, no commit");
  nw->callback([o] {
    o->root = TAPEZOO_SOURCE_ROOT;
    const tz::coursework::ExerciseReport r = tz::coursework::write_exercise(*o);
    std::printf("exercise: %s: %zu files (%zu written), %zu task regions stubbed, %zu solved (parts <= %d)\n",
                o->dir.c_str(), r.files, r.written, r.stubbed_regions, r.solved_regions, o->upto);
    if (!o->update) std::printf("next: cd %s && ./zoo test, ./zoo run 00_autograd, ./zoo grade\n", o->dir.c_str());
  });
}
