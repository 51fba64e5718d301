// The tutorials' claim table (tutorials/claims.hpp) held to the tutorials, as the op table is held
// to the ops: every row is checked by its tutorial with a check that can fail, every step of the
// road from MLE to VI has its row, every row names code that exists, and docs/claims.md is the
// table's own Markdown. Runs from the source root (meson's workdir for the unit tests).
#include <doctest/doctest.h>

#include "tests/read_text.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tests/test_helpers.hpp"
#include "tutorials/claims.hpp"

namespace fs = std::filesystem;
using tz::tutorial::Claim;
using tz::tutorial::kClaims;

namespace {

using tz::test::read_text;

// claim id → how many t.check(claim("id"), …) and t.check_close(claim("id"), …) the source holds.
// t.identity takes no claim, so an identity never counts here.
std::map<std::string, int> checked_claims(const std::string& source) {
  static const std::regex call(R"re(\bcheck(?:_close)?\(\s*claim\(\s*"([a-z0-9-]+)"\s*\))re");
  std::map<std::string, int> out;
  for (auto m = std::sregex_iterator(source.begin(), source.end(), call); m != std::sregex_iterator(); ++m)
    ++out[(*m)[1].str()];
  return out;
}

}  // namespace

TEST_CASE("the claim scanner counts checks and not identities") {
  const auto n = checked_claims(
      "t.check(claim(\"a-b\"), \"x\", ok);\n"
      "t.check_close(\n    claim(\"a-b\"), \"y\", 1, 1);\n"
      "t.identity(\"a-b\", \"z\");\n"
      "t.check(claim(\"c\"), \"w\", ok);\n");
  CHECK(n.at("a-b") == 2);
  CHECK(n.at("c") == 1);
  CHECK(n.size() == 2);
}

TEST_CASE("every claim is checked by its tutorial with a check that can fail") {
  std::map<std::string, std::map<std::string, int>> by_tutorial;
  for (const Claim& c : kClaims) {
    const std::string t(c.tutorial);
    const fs::path src = fs::path("tutorials") / (t + ".cpp");
    REQUIRE_MESSAGE(fs::exists(src), "claim '" << c.id << "' names tutorial " << t << ", which has no " << src);
    if (!by_tutorial.count(t)) by_tutorial[t] = checked_claims(read_text(src));
    CHECK_MESSAGE(by_tutorial[t].count(std::string(c.id)) == 1,
                  "claim '" << c.id << "' (tutorials/claims.hpp) is checked nowhere in " << src
                            << ": add t.check(claim(\"" << c.id << "\"), …) there, or move the row");
  }
  // And the other way: every claim a tutorial checks names that tutorial in its row (claim() already
  // refuses unknown ids at compile time).
  for (const auto& [tutorial, claims] : by_tutorial)
    for (const auto& [id, count] : claims) {
      const auto row = std::find_if(std::begin(kClaims), std::end(kClaims), [&](const Claim& r) { return r.id == id; });
      if (row == std::end(kClaims)) {  // claim() refuses it in code; the scanner also reads comments
        FAIL_CHECK("tutorials/" << tutorial << ".cpp names claim '" << id << "', which has no row");
        continue;
      }
      CHECK_MESSAGE(row->tutorial == tutorial, "tutorials/" << tutorial << ".cpp checks '" << id
                                                            << "', whose row names " << row->tutorial);
    }
}

TEST_CASE("claim ids are unique, and the road from MLE to VI has each of its 28 rows once") {
  std::set<std::string> ids;
  std::map<int, std::string> road;
  const std::regex kebab("[a-z0-9]+(-[a-z0-9]+)*");
  for (const Claim& c : kClaims) {
    const std::string id(c.id);
    CHECK_MESSAGE(ids.insert(id).second, "claim id '" << id << "' appears twice");
    CHECK_MESSAGE(std::regex_match(id, kebab), "claim id '" << id << "' is not kebab-case");
    CHECK_MESSAGE(!c.formula.empty(), id << " has no formula");
    if (c.road != 0) {
      CHECK_MESSAGE(road.count(c.road) == 0, "road " << c.road << " is both '" << road[c.road] << "' and '" << id << "'");
      road[c.road] = id;
    }
  }
  for (int r = 1; r <= 28; ++r) CHECK_MESSAGE(road.count(r) == 1, "road step " << r << " has no claim");
  CHECK(road.size() == 28);
}

TEST_CASE("every claim's code column names a file of the project and a function in it") {
  for (const Claim& c : kClaims) {
    const std::string code(c.code);
    const auto colon = code.find(": ");
    REQUIRE_MESSAGE(colon != std::string::npos, c.id << ": code '" << code << "' is not 'file: function'");
    const fs::path file = code.substr(0, colon);
    std::string function = code.substr(colon + 2);
    if (const auto scope = function.rfind("::"); scope != std::string::npos) function = function.substr(scope + 2);
    REQUIRE_MESSAGE(fs::exists(file), c.id << ": code names " << file << ", which the project does not contain");
    const std::string text = read_text(file);
    CHECK_MESSAGE(text.find(function + "(") != std::string::npos,
                  c.id << ": " << file << " has no function " << function);
  }
}

TEST_CASE("docs/claims.md is ./zoo claims --markdown") {
  const std::string generated = tz::test::run(tz::test::tapezoo_program().string() + " claims --markdown");
  CHECK_MESSAGE(generated == read_text("docs/claims.md"),
                "docs/claims.md is out of date: ./zoo claims --markdown > docs/claims.md");
  CHECK(generated.find("| 28 |") != std::string::npos);
}

TEST_CASE("./zoo claims lists every claim, with the last run's line where there is one") {
  const fs::path runs = fs::temp_directory_path() / "tapezoo_test_claims";
  fs::remove_all(runs);
  fs::create_directories(runs / "04_vae");
  {
    std::ofstream out(runs / "04_vae" / "checks.tsv");
    out << "vae-objective\t3\t1\t−ELBO = rec + KL: 101.2 vs 101.2\n"
        << "kl-asymmetry\t5\t0\tforward KL covers both modes\n";
  }
  const std::string text = tz::test::run(tz::test::tapezoo_program().string() + " claims --runs " + runs.string());
  for (const Claim& c : kClaims) CHECK_MESSAGE(text.find(std::string(c.id)) != std::string::npos, c.id << " not listed");
  CHECK(text.find("step 3: −ELBO = rec + KL: 101.2 vs 101.2 ✓") != std::string::npos);
  CHECK(text.find("step 5: forward KL covers both modes ✗") != std::string::npos);
  CHECK(text.find("(no run recorded: ./zoo run 09_fsvae --quick)") != std::string::npos);
  fs::remove_all(runs);
}
