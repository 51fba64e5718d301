// The project stands on its own: every citation of docs/pitfalls.md in the code names a section
// that the file has, and nothing cites a file that the repository does not hold (the developers'
// own notes outside it, say). Runs from the source root (meson's workdir for the unit tests).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

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
  std::istringstream doc(read_all("docs/pitfalls.md"));
  for (std::string line; std::getline(doc, line);)
    if (line.rfind("### ", 0) == 0) anchors.insert(line.substr(4));
  CHECK(anchors.size() >= 25);

  const std::regex cite(R"(pitfalls\.md#([a-z0-9-]+)((?: and #[a-z0-9-]+)*))");
  const std::regex more(R"(#([a-z0-9-]+))");
  std::size_t citations = 0;
  for (const fs::path& f : project_files()) {
    if (f.filename() == "test_docs.cpp") continue;  // this file's own test names are no citations
    const std::string text = read_all(f);
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
    const std::string text = read_all(f);
    CHECK_MESSAGE(text.find("PITFALLS") == std::string::npos, f.string() << " cites PITFALLS, not in the project");
    CHECK_MESSAGE(text.find("../shared") == std::string::npos, f.string() << " cites ../shared, not in the project");
  }
}
