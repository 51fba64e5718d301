// The op table (autograd/op_table.hpp) is the one home of the formulas: each op's definition in
// autograd/ops_*.cpp carries its row as a one-line comment,
//
//   // log: y = log x                                gx += gy / x
//
// (name, colon, the row's forward, two or more spaces, the row's backward), and these tests hold the
// two together. They read the sources from the project root, the unit tests' working directory.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "autograd/ops.hpp"

namespace fs = std::filesystem;
using namespace tz;

namespace {

struct FormulaComment {
  std::string file;
  std::size_t line = 0;
  std::string text;  // after "// name: "
};

// Every "// <name>: …" line in autograd/ops_*.cpp whose name is a row of kOps, by op name.
std::map<std::string, std::vector<FormulaComment>> formula_comments() {
  std::map<std::string, std::vector<FormulaComment>> out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator("autograd")) {
    const std::string name = e.path().filename().string();
    if (name.rfind("ops_", 0) == 0 && e.path().extension() == ".cpp") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::ifstream in(f);
    std::size_t number = 0;
    for (std::string line; std::getline(in, line);) {
      ++number;
      if (line.rfind("// ", 0) != 0) continue;
      const std::size_t colon = line.find(": ", 3);
      if (colon == std::string::npos) continue;
      const std::string name = line.substr(3, colon - 3);
      const bool is_op = std::any_of(std::begin(kOps), std::end(kOps), [&](const OpInfo& r) { return r.name == name; });
      if (is_op) out[name].push_back({f.string(), number, line.substr(colon + 2)});
    }
  }
  return out;
}

// "" if text is forward, two or more spaces, backward; else what differs.
std::string compare(const std::string& text, const OpInfo& row) {
  const std::string forward(row.forward), backward(row.backward);
  if (text.rfind(forward, 0) != 0) return "the forward differs";
  const std::size_t gap = text.find_first_not_of(' ', forward.size());
  if (gap == std::string::npos || gap - forward.size() < 2) return "expected two or more spaces after the forward";
  if (text.substr(gap) != backward) return "the backward differs";
  return "";
}

}  // namespace

TEST_CASE("every op's definition carries its kOps row as a formula comment, once") {
  REQUIRE(fs::exists("autograd/op_table.hpp"));  // run from the project root
  const auto comments = formula_comments();
  std::size_t checked = 0;
  for (const OpInfo& row : kOps) {
    if (is_source(row.op)) continue;
    const std::string name(row.name);
    const auto it = comments.find(name);
    const std::size_t count = it == comments.end() ? 0 : it->second.size();
    INFO("op '" << name << "': kOps says  \"" << row.forward << "\"  and  \"" << row.backward << "\"");
    CHECK_MESSAGE(count == 1, "op '" << name << "' has " << count
                                     << " formula comments in autograd/ops_*.cpp; expected exactly one, "
                                        "\"// " << name << ": " << row.forward << "    " << row.backward << "\"");
    if (count == 0) continue;
    for (const FormulaComment& c : it->second) {
      const std::string why = compare(c.text, row);
      CHECK_MESSAGE(why.empty(), c.file << ":" << c.line << ": op '" << name << "': " << why << "\n  comment: "
                                        << c.text << "\n  kOps:    " << row.forward << "    " << row.backward);
      checked += why.empty() ? 1 : 0;
    }
  }
  CHECK(checked == static_cast<std::size_t>(Op::count_) - 3);  // every op but the three sources
}

TEST_CASE("the comparison catches a changed formula, a missing gap and a changed backward") {
  const OpInfo& log_row = op_info(Op::log);
  CHECK(compare("y = log x        gx += gy / x", log_row).empty());
  CHECK(compare("y = log x  gx += gy / x", log_row).empty());
  CHECK(compare("y = ln x        gx += gy / x", log_row) == "the forward differs");
  CHECK(compare("y = log x gx += gy / x", log_row) == "expected two or more spaces after the forward");
  CHECK(compare("y = log x        gx += gy * x", log_row) == "the backward differs");
  CHECK(compare("y = log x", log_row) == "expected two or more spaces after the forward");
}

TEST_CASE("op_table_text lists every op under its group, with its forward and backward") {
  const std::string text = op_table_text();
  for (const char* group : {"source\n", "elementwise\n", "binary\n", "reduction\n", "shape\n", "linalg\n", "normalise\n", "fused\n"})
    CHECK_MESSAGE(text.find(group) != std::string::npos, "no heading " << group);
  for (const OpInfo& row : kOps) {
    const std::size_t at = text.find("  " + std::string(row.name) + " ");
    REQUIRE_MESSAGE(at != std::string::npos, "no line for " << row.name);
    const std::string line = text.substr(at, text.find('\n', at) - at);
    CHECK_MESSAGE(line.find(std::string(row.forward)) != std::string::npos, line);
    CHECK_MESSAGE(line.find(std::string(row.backward)) != std::string::npos, line);
  }
  // The group of a row comes after its heading and before the next one.
  CHECK(text.find("elementwise\n") < text.find("  log "));
  CHECK(text.find("  log ") < text.find("binary\n"));
  CHECK(text.find("  matmul ") > text.find("linalg\n"));
  const std::size_t log_at = text.find("  log ");
  CHECK(text.substr(log_at, text.find('\n', log_at) - log_at) ==
        "  log           y = log x                                   gx += gy / x");
}
