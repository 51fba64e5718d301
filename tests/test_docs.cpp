// The project stands on its own: every citation of docs/pitfalls.md in the code names a section
// that the file has, and nothing cites a file that the repository does not hold (the developers'
// own notes outside it, say). Runs from the source root (meson's workdir for the unit tests).
#include <doctest/doctest.h>

#include "tests/read_text.hpp"
#include "models/model.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

using tz::test::read_text;

// The project's own text files: sources, build files, scripts and docs, outside build folders.
std::vector<fs::path> project_files() {
  std::vector<fs::path> out;
  const std::set<std::string> exts = {".cpp", ".hpp", ".h", ".py", ".js", ".sh", ".md", ".build", ".txt"};
  for (auto it = fs::recursive_directory_iterator("."); it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (it->is_directory() && (name.rfind("build", 0) == 0 || name == ".git" || name == "data" || name == "out" ||
                               name == "node_modules" || name == "corpus")) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file()) continue;
    if (exts.count(it->path().extension().string()) || name == "zoo" || name == "run") out.push_back(it->path());
  }
  return out;
}

}  // namespace

TEST_CASE("every docs/pitfalls.md#anchor cited in the project is a section of docs/pitfalls.md") {
  REQUIRE(fs::exists("docs/pitfalls.md"));
  std::set<std::string> anchors;
  std::istringstream doc(read_text("docs/pitfalls.md"));
  for (std::string line; std::getline(doc, line);)
    if (line.rfind("### ", 0) == 0) anchors.insert(line.substr(4));
  CHECK(anchors.size() >= 25);

  const std::regex cite(R"(pitfalls\.md#([a-z0-9-]+)((?: and #[a-z0-9-]+)*))");
  const std::regex more(R"(#([a-z0-9-]+))");
  std::size_t citations = 0;
  for (const fs::path& f : project_files()) {
    if (f.filename() == "test_docs.cpp") continue;  // this file's own test names are no citations
    const std::string text = read_text(f);
    for (auto m = std::sregex_iterator(text.begin(), text.end(), cite); m != std::sregex_iterator(); ++m) {
      std::vector<std::string> names = {(*m)[1].str()};
      const std::string rest = (*m)[2].str();
      for (auto k = std::sregex_iterator(rest.begin(), rest.end(), more); k != std::sregex_iterator(); ++k)
        names.push_back((*k)[1].str());
      for (const std::string& name : names) {
        ++citations;
        CHECK_MESSAGE(anchors.count(name) == 1, f.string() << " cites docs/pitfalls.md#" << name
                                                          << ", which has no section '### " << name << "'");
      }
    }
  }
  CHECK(citations >= 30);  // the code does cite it: a regex that matched nothing would pass above
}

TEST_CASE("no file cites notes that live outside the repository") {
  for (const fs::path& f : project_files()) {
    if (f.filename() == "test_docs.cpp") continue;  // this file names what it looks for
    const std::string text = read_text(f);
    CHECK_MESSAGE(text.find("PITFALLS") == std::string::npos, f.string() << " cites PITFALLS, not in the project");
    CHECK_MESSAGE(text.find("../shared") == std::string::npos, f.string() << " cites ../shared, not in the project");
  }
}

// A path written in a comment or a doc is a promise that the reader can open it. Paths of files that
// a command creates (./zoo new-model's models/mymodel.cpp, a tutorial's NN_name.cpp) are examples,
// not citations; so are wildcards (tests/test_model_*.cpp).
TEST_CASE("every project path named in the code and docs exists") {
  const std::regex path(
      R"(\b((?:autograd|datasets|distributions|models|nn|io|app|tutorials|tests|bench|docs|coursework)/[A-Za-z0-9_./*<>-]*[A-Za-z0-9_*>]\.(?:cpp|hpp|md|py|sh|js|build)|README\.md)\b)");
  const std::vector<std::string> examples = {"*", "<", "mymodel", "NAME", "NN_", "name.cpp", "yourmodel"};
  std::size_t named = 0;
  for (const fs::path& f : project_files()) {
    const std::string text = read_text(f);
    for (auto m = std::sregex_iterator(text.begin(), text.end(), path); m != std::sregex_iterator(); ++m) {
      const std::string p = (*m)[1].str();
      bool example = false;
      for (const std::string& e : examples) example = example || p.find(e) != std::string::npos;
      if (example) continue;
      ++named;
      // Relative to the source root, or to the citing file's folder (a doc linking a sibling).
      const bool found = fs::exists(p) || fs::exists(f.parent_path() / p) ||
                         fs::exists(fs::path("tests/fuzz") / p);
      CHECK_MESSAGE(found, f.string() << " names " << p << ", which the project does not contain");
    }
  }
  CHECK(named >= 100);  // the regex does match: the code names its files often
}

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The project's C++ sources outside tests/: what a student reads.
std::vector<fs::path> teaching_sources() {
  std::vector<fs::path> out;
  for (const fs::path& f : project_files()) {
    const std::string p = f.lexically_normal().string();
    const std::string ext = f.extension().string();
    if ((ext == ".cpp" || ext == ".hpp") && !starts_with(p, "tests/")) out.push_back(f.lexically_normal());
  }
  return out;
}

// Top-level function definitions as (first line, number of lines): a definition starts at column 0
// with a signature (a line holding '(' that is no preprocessor line, comment, namespace, type or
// template header) and ends at the next line that starts with '}' at column 0. The code keeps
// namespaces unindented, so free functions and out-of-class members all start at column 0;
// member functions defined inside a class are indented and not measured here (they are short).
std::vector<std::pair<std::size_t, std::size_t>> top_level_functions(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    if (l.empty() || l[0] == ' ' || l[0] == '#' || l[0] == '/' || l[0] == '}' || l[0] == '\t') continue;
    if (starts_with(l, "namespace") || starts_with(l, "template") || starts_with(l, "using") ||
        starts_with(l, "struct") || starts_with(l, "class") || starts_with(l, "enum") ||
        starts_with(l, "union") || starts_with(l, "static_assert") || starts_with(l, "extern \"C\" {"))
      continue;
    if (l.find('(') == std::string::npos) continue;
    // The body opens at the first line ending in '{' within the signature; a ';' first means a
    // declaration (or a variable), not a definition.
    std::size_t open = i;
    while (open < lines.size() && lines[open].find(';') == std::string::npos &&
           (lines[open].empty() || lines[open].back() != '{'))
      ++open;
    if (open >= lines.size() || lines[open].find(';') != std::string::npos) continue;
    std::size_t close = open + 1;
    while (close < lines.size() && (lines[close].empty() || lines[close][0] != '}')) ++close;
    if (close >= lines.size()) break;
    out.emplace_back(i + 1, close - i + 1);
    i = close;
  }
  return out;
}

}  // namespace

// A file or a function too long to hold in one's head is split along what it contains. io/plot.cpp
// is the one exception: a PNG plotter whose parts (axes, ticks, legend, lines) share one canvas.
TEST_CASE("no source outside tests/ exceeds 450 lines, and no function 120") {
  std::size_t files = 0, functions = 0;
  for (const fs::path& f : teaching_sources()) {
    const std::string text = read_text(f);
    ++files;
    if (f != fs::path("io/plot.cpp")) {
      // The coursework markers (// TASK … and // END TASK, docs/teaching.md) are not counted.
      std::size_t markers = 0;
      std::istringstream in(text);
      for (std::string l; std::getline(in, l);) {
        const std::string t = l.substr(std::min(l.size(), l.find_first_not_of(' ')));
        markers += starts_with(t, "// TASK ") || t == "// END TASK";
      }
      const auto n = static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) - markers;
      CHECK_MESSAGE(n <= 450, f.string() << " has " << n << " lines; split it along what it contains (at most 450)");
    }
    for (const auto& [line, length] : top_level_functions(text)) {
      ++functions;
      CHECK_MESSAGE(length <= 120, f.string() << ":" << line << ": a function of " << length
                                              << " lines; give its parts names of their own (at most 120)");
    }
  }
  CHECK(files >= 80);
  CHECK(functions >= 300);  // the scanner does find the definitions
}

TEST_CASE("the function scanner measures definitions and skips declarations") {
  const std::string text =
      "int f(int x);\n"               // a declaration
      "template <class T>\n"
      "T g(T x,\n"
      "    T y) {\n"
      "  return x + y;\n"
      "}\n"
      "struct S {\n  int h() { return 1; }\n};\n"
      "double k() {\n  return 2;\n}\n";
  const auto fns = top_level_functions(text);
  REQUIRE(fns.size() == 2);
  CHECK(fns[0] == std::pair<std::size_t, std::size_t>{3, 4});
  CHECK(fns[1] == std::pair<std::size_t, std::size_t>{10, 3});
}

// bench/zoo_step --torch asks bench/zoo_torch.py for every registered model by its registry name.
// A model the script does not know by that name makes the script fail in every full run (as
// gmm_gd did while the script still called it 'gmm'), so the two lists are checked against each other.
TEST_CASE("bench/zoo_torch.py names every registered model once: a twin in make_twin or a reason in NO_TWIN") {
  const std::string py = read_text("bench/zoo_torch.py");
  auto keys_in = [&](const std::string& from, const std::string& to) {
    const auto a = py.find(from);
    REQUIRE_MESSAGE(a != std::string::npos, "bench/zoo_torch.py has no '" << from << "'");
    const std::string part = py.substr(a, py.find(to, a) - a);
    const std::regex key(R"re("([a-z0-9_]+)":)re");
    std::set<std::string> out;
    for (auto it = std::sregex_iterator(part.begin(), part.end(), key); it != std::sregex_iterator(); ++it)
      out.insert((*it)[1]);
    return out;
  };
  const std::set<std::string> twins = keys_in("def make_twin(", "[name]"), none = keys_in("NO_TWIN = {", "}\n");
  std::set<std::string> registered;
  for (const auto& info : tz::models::registry()) registered.insert(info.name);
  CHECK(registered.size() >= 9);
  for (const std::string& name : registered) {
    CAPTURE(name);
    CHECK_MESSAGE(twins.count(name) + none.count(name) == 1,
                  "bench/zoo_torch.py: give '" << name << "' a twin in make_twin or a reason in NO_TWIN, once");
  }
  for (const std::string& name : twins)
    CHECK_MESSAGE(registered.count(name) == 1, "make_twin's '" << name << "' is not a registered model");
  for (const std::string& name : none)
    CHECK_MESSAGE(registered.count(name) == 1, "NO_TWIN's '" << name << "' is not a registered model");
}
