// The coursework (issue 14): the marker parser, the stub rewriter, --upto, the student copy (no
// solution line of a stubbed task in it), the syllabus table's order, and the grader, which gives
// full marks in the project and whose stored hidden values equal what the project computes now.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "coursework/exercise.hpp"
#include "coursework/grader.hpp"
#include "coursework/tasks.hpp"
#include "tests/read_text.hpp"

namespace fs = std::filesystem;
using namespace tz::coursework;
using tz::test::read_text;

namespace {

const std::string kFile = "distributions/distributions.cpp";

std::string parse_error(const std::string& file, const std::string& text) {
  try {
    parse_regions(file, text);
  } catch (const MarkerError& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A file with two regions: 5.2 (part 5) and 1.1 (part 1, in its own file in the project: here it
// is only parsed, so the table's file check is what the second case below exercises).
const std::string kSource =
    "#include <cmath>\n"
    "double f(double x) {\n"
    "  // TASK 5.2 log_normal: −½ [log 2π + log v + (x − m)²/v]\n"
    "  // the formula stays\n"
    "  double y = x * x;\n"
    "\n"
    "  return y;  // a trailing comment on a code line goes with it\n"
    "  // END TASK\n"
    "}\n";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b);
}

}  // namespace

TEST_CASE("the marker parser finds regions, and names file and line for every malformed marker") {
  const std::vector<Region> r = parse_regions(kFile, kSource);
  REQUIRE(r.size() == 1);
  CHECK(r[0].id == "5.2");
  CHECK(r[0].function == "log_normal");
  CHECK(r[0].begin == 3);
  CHECK(r[0].end == 8);

  const std::string nested = "// TASK 5.2 log_normal: a\n// TASK 5.3 kl_normal: b\n// END TASK\n// END TASK\n";
  CHECK(contains(parse_error(kFile, nested), kFile + ":2: TASK 5.3 opens inside TASK 5.2 (opened at line 1)"));
  const std::string open = "x\n// TASK 5.2 log_normal: a\ncode;\n";
  CHECK(contains(parse_error(kFile, open), kFile + ":2: TASK 5.2 log_normal is never closed"));
  CHECK(contains(parse_error(kFile, "// TASK 9.9 log_normal: a\n// END TASK\n"),
                 kFile + ":1: TASK 9.9 is not in the task table (coursework/tasks.cpp)"));
  CHECK(contains(parse_error(kFile, "a\nb\n// END TASK\n"), kFile + ":3: // END TASK with no // TASK open above it"));
  CHECK(contains(parse_error(kFile, "// TASK 5.2 log_normal\n// END TASK\n"), kFile + ":1: malformed marker"));
  // the table says where each task's regions are: 5.2 is log_normal in distributions/distributions.cpp
  CHECK(contains(parse_error(kFile, "// TASK 5.2 kl_normal: a\n// END TASK\n"), kFile + ":1: TASK 5.2 kl_normal: the table"));
  CHECK(contains(parse_error("models/vae.cpp", "// TASK 5.2 log_normal: a\n// END TASK\n"),
                 "models/vae.cpp:1: TASK 5.2 log_normal: the table"));
  CHECK(parse_error(kFile, "no markers at all\n").empty());
}

TEST_CASE("the stub rewriter keeps the marker and the comment lines, and replaces the code by one throw") {
  const std::string expected =
      "#include \"coursework/not_implemented.hpp\"  // the stubs' exception\n"
      "#include <cmath>\n"
      "double f(double x) {\n"
      "  // TASK 5.2 log_normal: −½ [log 2π + log v + (x − m)²/v]\n"
      "  // the formula stays\n"
      "  (void)x;  // unused by the stub: delete this line with the throw\n"
      "  throw ::tz::NotImplemented(\"5.2\", \"log_normal\", \"distributions/distributions.cpp\");\n"
      "  // END TASK\n"
      "}\n";
  CHECK(stub_text(kFile, kSource, 0) == expected);
  CHECK(stub_text(kFile, kSource, 4) == expected);  // --upto 4: part 5 is still to write
  CHECK(stub_text(kFile, kSource, 5) == kSource);   // --upto 5: handed out solved, byte for byte
  CHECK(stub_text(kFile, "int g();\n", 0) == "int g();\n");  // no region: no include added
  // a region of comments only still gets its throw, at the marker's indentation
  CHECK(contains(stub_text(kFile, "#include <x>\n    // TASK 5.2 log_normal: a\n    // END TASK\n", 0),
                 "    throw ::tz::NotImplemented(\"5.2\""));
}

TEST_CASE("a stub reads its formulas before its throw, and names the parameters it leaves unused") {
  // comments between code lines: all of them go above the throw, at the marker's indentation
  const std::string source =
      "#include <cmath>\n"
      "double f(const double& x, int k, double /*unnamed*/, double scale = 1.0) {\n"
      "  // TASK 5.2 log_normal: the first formula\n"
      "  double y = x * x;  // a trailing comment goes with its code\n"
      "  // the second formula\n"
      "  for (int i = 0; i < k; ++i) {\n"
      "    // the third, nested\n"
      "    y += scale;\n"
      "  }\n"
      "  return y;\n"
      "  // END TASK\n"
      "}\n";
  const std::string stubbed = stub_text(kFile, source, 0);
  CHECK(contains(stubbed,
                 "  // TASK 5.2 log_normal: the first formula\n"
                 "  // the second formula\n"
                 "  // the third, nested\n"
                 "  (void)x, (void)k, (void)scale;  // unused by the stub: delete this line with the throw\n"
                 "  throw ::tz::NotImplemented(\"5.2\", \"log_normal\", \"distributions/distributions.cpp\");\n"
                 "  // END TASK\n"));
  // a parameter the rest of the function uses gets no (void); nor a member or a qualified name of the
  // same spelling, nor a word in a comment or a string; a region in an if block looks at the function
  const std::string partial =
      "#include <cmath>\n"
      "double g(double x, double m, double v) {\n"
      "  check(x, \"v\");  // m\n"
      "  if (x > 0) {\n"
      "    // TASK 5.2 log_normal: a\n"
      "    return m + v;\n"
      "    // END TASK\n"
      "  }\n"
      "  return s.m + ns::v;\n"
      "}\n";
  CHECK(contains(stub_text(kFile, partial, 0), "    // TASK 5.2 log_normal: a\n    (void)m, (void)v;  // unused"));
  // a lambda's parameters are its own; a backward that uses none of them outside the region names both
  const std::string lambda =
      "#include <x>\n"
      "auto h(double x) {\n"
      "  return op(x, [](Tape<T>& t, Node<T>& n) {\n"
      "        // TASK 5.2 log_normal: a\n"
      "        t.grad(n) += 1;\n"
      "        // END TASK\n"
      "      });\n"
      "}\n";
  CHECK(contains(stub_text(kFile, lambda, 0), "        (void)t, (void)n;  // unused by the stub"));
  CHECK(!contains(stub_text(kFile, lambda, 0), "(void)x"));
}

TEST_CASE("every stub of the project: the formulas first, then the throw, and no parameter left unused") {
  // what some stubs must leave unused: a whole body names every parameter; a region that is part of a
  // body (5.1, 4.1, 2.1's seed) names none, as the rest of the function uses them
  const std::map<std::string, std::string> voids = {
      {"1.1 log", "(void)t, (void)n;"}, {"1.5 matmul", "(void)t, (void)nd;"},
      {"1.6 spread_along", "(void)t, (void)n, (void)scale;"}, {"2.1 sweep", "(void)last, (void)ready;"},
      {"3.2 mean_log_likelihood", "(void)tape, (void)x, (void)mu, (void)log_sigma;"},
      {"5.3 kl_normal", "(void)qm, (void)qv, (void)pm, (void)pv;"}, {"4.3 m_step_textbook", "(void)data, (void)resp;"},
      {"6.2 log_weights_at", "(void)tape, (void)xk, (void)z, (void)m, (void)v;"},
      {"5.1 sample_gaussian", ""}, {"4.1 log_joint", ""}, {"2.1 backward_from", ""}};
  std::size_t stubs = 0, regions = 0, named = 0;
  std::set<std::string> files;
  for (const Task& t : tasks()) files.insert(t.files.begin(), t.files.end());
  for (const std::string& file : files) {
    const std::string original = read_text(file);
    regions += parse_regions(file, original).size();
    const std::vector<std::string> lines = lines_of(stub_text(file, original, 0));
    for (const Region& r : parse_regions(file, stub_text(file, original, 0))) {
      const std::string key = r.id + " " + r.function;
      CAPTURE(file);
      CAPTURE(key);
      ++stubs;
      const std::size_t marker = r.begin - 1, end = r.end - 1;  // 0-based: the marker and its END TASK
      // the throw is the last line, the (void) line (if any) just above it, comments above that
      REQUIRE(end >= marker + 2);
      CHECK(trim(lines[end - 1]).rfind("throw ::tz::NotImplemented(\"" + r.id + "\", \"" + r.function + "\"", 0) == 0);
      const bool has_void = trim(lines[end - 2]).rfind("(void)", 0) == 0;
      for (std::size_t k = marker + 1; k + (has_void ? 2 : 1) < end; ++k)
        CHECK_MESSAGE(trim(lines[k]).rfind("//", 0) == 0, "line " << k + 1 << " of the stub is no comment: " << lines[k]);
      if (!voids.count(key)) continue;
      ++named;
      if (voids.at(key).empty()) CHECK(!has_void);
      else CHECK(trim(lines[end - 2]).rfind(voids.at(key) + "  // unused by the stub", 0) == 0);
    }
  }
  CHECK(stubs == regions);
  CHECK(stubs >= 27);
  CHECK(named == voids.size());
}

TEST_CASE("the syllabus: ids unique and in order, dependencies on earlier rows only, each task checked") {
  std::set<std::string> seen;
  int last_part = 0;
  const std::vector<Check> checks = all_checks();
  for (const Task& t : tasks()) {
    CAPTURE(t.id);
    CHECK(seen.insert(t.id).second);
    CHECK(part_of(t.id) >= last_part);
    last_part = part_of(t.id);
    for (const std::string& d : t.depends) CHECK_MESSAGE(seen.count(d), "task " << t.id << " depends on " << d << ", not above it");
    CHECK(t.points > 0);
    CHECK(t.files.size() == t.functions.size());
    CHECK(fs::exists(t.files.at(0)));
    CHECK(fs::exists("tutorials/" + t.tutorial + ".cpp"));
    int visible = 0, hidden = 0;
    for (const Check& c : checks)
      if (c.task == t.id) ++(c.visible ? visible : hidden);
    CHECK(visible >= 1);
    CHECK(hidden >= 1);
  }
  for (const Check& c : checks) CHECK_MESSAGE(find_task(c.task), "a check of task " << c.task << ", not in the table");
  CHECK(tasks().size() >= 16);
  CHECK_THROWS_AS(part_of("6"), std::invalid_argument);
  CHECK_THROWS_AS(part_of("a.1"), std::invalid_argument);
}

TEST_CASE("the grader gives full marks in the project, and the hidden values are not stale") {
  Hidden stored = read_hidden("coursework/hidden.txt");
  int total = 0, max = 0;
  for (const TaskResult& r : grade({}, stored)) {
    CHECK_MESSAGE(r.status == "ok", "task " << r.task->id << ": " << r.message);
    total += r.score;
    max += r.task->points;
  }
  CHECK(total == max);
  // What the solved project computes now equals the stored numbers (within 1e-12 relative: the
  // sanitizer build runs without xsimd, whose exp and log may differ in the last bit).
  Hidden fresh;
  grade({}, fresh, true);
  REQUIRE(fresh.size() == stored.size());
  for (const auto& [key, values] : fresh) {
    CAPTURE(key);
    REQUIRE(stored.count(key));
    REQUIRE(stored[key].size() == values.size());
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(values[i] == doctest::Approx(stored[key][i]).epsilon(1e-12));
  }
  // a selection by part grades that part only; a bad one names itself
  for (const TaskResult& r : grade({"5"}, stored)) CHECK(part_of(r.task->id) == 5);
  CHECK_THROWS_WITH_AS(grade({"42"}, stored), doctest::Contains("'42' is neither a task id"), std::invalid_argument);
  const std::string json = report_json(grade({"1.1"}, stored));
  CHECK(json == "{\"tasks\": [{\"id\": \"1.1\", \"title\": \"log backward: gx += gy / x\", \"points\": 2, \"score\": 2, "
                "\"status\": \"ok\", \"message\": \"\"}], \"total\": 2, \"max\": 2}");
}

TEST_CASE("a student copy holds no solution line of a stubbed task, and the solutions of parts ≤ --upto") {
  const fs::path dir = fs::temp_directory_path() / ("tapezoo_course_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const int upto = 2;
  const ExerciseReport rep = write_exercise({".", dir.string(), upto, false});
  CHECK(rep.stubbed_regions >= 1);
  CHECK(rep.solved_regions >= 1);
  CHECK(!fs::exists(dir / "build"));
  CHECK(!fs::exists(dir / "data"));
  CHECK(fs::exists(dir / ".git"));
  CHECK(fs::exists(dir / "coursework" / "hidden.txt"));
  CHECK(contains(read_text(dir / "README.md"), "./zoo grade"));
  std::size_t checked = 0;
  for (const Task& t : tasks()) {
    for (const std::string& file : std::set<std::string>(t.files.begin(), t.files.end())) {
      const std::string original = read_text(file), copy = read_text(dir / file);
      const std::vector<std::string> lines = lines_of(original);
      // the lines of the project outside every region: a solution line may repeat one of those
      std::set<std::string> outside;
      std::vector<bool> in_region(lines.size(), false);
      for (const Region& r : parse_regions(file, original))
        for (std::size_t i = r.begin; i < r.end - 1; ++i) in_region[i] = true;
      for (std::size_t i = 0; i < lines.size(); ++i)
        if (!in_region[i]) outside.insert(trim(lines[i]));
      for (const Region& r : parse_regions(file, original)) {
        if (r.id != t.id) continue;
        for (std::size_t i = r.begin; i < r.end - 1; ++i) {
          const std::string code = trim(lines[i]);
          if (code.empty() || code.rfind("//", 0) == 0 || outside.count(code)) continue;
          ++checked;
          if (part_of(t.id) > upto) CHECK_MESSAGE(!contains(copy, code), file << ":" << i + 1 << " (task " << t.id << ") leaked: " << code);
          else CHECK_MESSAGE(contains(copy, code), file << ":" << i + 1 << " (task " << t.id << ") missing: " << code);
        }
      }
    }
  }
  CHECK(checked >= 40);
  // --update rewrites in place: with every part solved the copy's sources equal the project's
  CHECK(write_exercise({".", dir.string(), 99, true}).written >= 1);
  CHECK(read_text(dir / kFile) == read_text(kFile));
  CHECK(write_exercise({".", dir.string(), 99, true}).written == 0);  // nothing changed: nothing rewritten
  CHECK_THROWS_WITH(write_exercise({".", dir.string(), 0, false}), doctest::Contains("exists and is not empty"));
  fs::remove_all(dir);
}
