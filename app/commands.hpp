// tapezoo app: one registration function per command file, called from app/main.cpp.
#pragma once

namespace CLI {
class App;
}

// `tapezoo fit gmm …` (app/cmd_fit_gmm.cpp).
void add_fit_gmm_command(CLI::App& fit);

// `tapezoo ops` (app/cmd_ops.cpp).
void add_ops_command(CLI::App& app);

// `tapezoo claims` (app/cmd_claims.cpp).
void add_claims_command(CLI::App& app);

// `tapezoo exercise new …` (app/cmd_exercise.cpp) and `tapezoo grade …` (app/cmd_grade.cpp).
void add_exercise_command(CLI::App& app);
void add_grade_command(CLI::App& app);
inline void add_coursework_commands(CLI::App& app) {
  add_exercise_command(app);
  add_grade_command(app);
}

// `tapezoo diagnose <model> …` (app/cmd_diagnose.cpp): argv as main() got it, argv[1] == "diagnose".
int run_diagnose(int argc, char** argv);
