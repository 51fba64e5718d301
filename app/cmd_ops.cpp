// tapezoo ops: the op table (autograd/op_table.hpp), grouped as there: name, forward, backward.
//
//   tapezoo ops          (or ./zoo ops)
#include <CLI/CLI.hpp>

#include <cstdio>

#include "app/commands.hpp"
#include "autograd/op_table.hpp"

void add_ops_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("ops", "list every op of the engine with its forward and backward formula");
  cmd->callback([] {
    std::printf("tapezoo's ops (autograd/op_table.hpp): gy is the upstream gradient dL/dy, gx the input's,\n"
                "y the saved result; every backward accumulates (+=).\n\n%s",
                tz::op_table_text().c_str());
  });
}
