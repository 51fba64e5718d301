// Flags that say what they expect (io/flags.hpp): the validators on their own, the sentence CLI11
// prints with them, output folders, and the programs' own words for bad flags.
#include <doctest/doctest.h>

#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "io/flags.hpp"
#include "tests/test_helpers.hpp"

using namespace tz;
using tz::test::contains;

namespace {

// What CLI11 says when --flag gets `value` under validator v ("" when it is accepted).
std::string parse_error(const CLI::Validator& v, const std::string& value) {
  CLI::App app("test");
  std::string target;
  app.add_option("--flag", target)->check(v);
  std::vector<std::string> args = {value, "--flag"};  // CLI11 takes them in reverse order
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("parse_integer and parse_number read the whole text, and nothing else") {
  long long i = 0;
  CHECK((flags::parse_integer("42", i) && i == 42));
  CHECK((flags::parse_integer("-7", i) && i == -7));
  CHECK((flags::parse_integer("+3", i) && i == 3));
  for (const char* bad : {"", "+", "3.0", "1e3", "12abc", " 4", "0x10", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(flags::parse_integer(bad, i));
  }
  double d = 0;
  CHECK((flags::parse_number("1e-3", d) && d == 1e-3));
  CHECK((flags::parse_number("-2.5", d) && d == -2.5));
  for (const char* bad : {"", "inf", "-inf", "nan", "1e999", "1.5x", " 1"}) {
    CAPTURE(bad);
    CHECK_FALSE(flags::parse_number(bad, d));
  }
}

TEST_CASE("each validator names the flag, what it expects and what it got, in one sentence") {
  CHECK(parse_error(flags::positive_integer(), "0") == "--flag: expected a positive integer, got 0");
  CHECK(parse_error(flags::positive_integer(), "-3") == "--flag: expected a positive integer, got -3");
  CHECK(parse_error(flags::positive_integer(), "2.5") == "--flag: expected a positive integer, got 2.5");
  CHECK(parse_error(flags::positive_integer(), "7") == "");
  CHECK(parse_error(flags::nonnegative_integer(), "0") == "");
  CHECK(parse_error(flags::nonnegative_integer(), "-1") ==
        "--flag: expected a non-negative integer (0, 1, 2, …), got -1");
  CHECK(parse_error(flags::integer(), "-1") == "");
  CHECK(parse_error(flags::integer(), "x") == "--flag: expected an integer, got x");
  CHECK(parse_error(flags::positive_number(), "0") == "--flag: expected a positive number, got 0");
  CHECK(parse_error(flags::positive_number(), "1e-4") == "");
  CHECK(parse_error(flags::nonnegative_number(), "-0.5") == "--flag: expected a number ≥ 0, got -0.5");
  CHECK(parse_error(flags::nonnegative_number(), "0") == "");
  CHECK(parse_error(flags::number(), "inf") == "--flag: expected a finite number, got inf");
  CHECK(parse_error(flags::number(), "two words") == "--flag: expected a finite number, got 'two words'");
  CHECK(parse_error(flags::one_of({"em", "gd"}), "sgd") == "--flag: expected one of em or gd, got sgd");
  CHECK(parse_error(flags::one_of({"a", "b", "c"}), "") == "--flag: expected one of a, b or c, got nothing");
  CHECK(parse_error(flags::one_of({"a", "b", "c"}), "b") == "");
  // No range limit is printed with all its digits, as CLI::PositiveNumber did (1.797…e308).
  CHECK_FALSE(contains(parse_error(flags::positive_number(), "-1"), "17976931348623157"));
}

TEST_CASE("make_output_dir makes nested folders, and says in one sentence why it cannot") {
  tz::test::TempDir dir;
  const std::filesystem::path nested = dir.path / "a" / "b" / "c";
  flags::make_output_dir(nested, "--out");
  CHECK(std::filesystem::is_directory(nested));
  flags::make_output_dir(nested, "--out");  // already there: fine

  const std::string file = dir / "notes.txt";
  std::ofstream(file) << "not a folder\n";
  auto message = [](const std::filesystem::path& p) -> std::string {
    try {
      flags::make_output_dir(p, "--out");
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message(file) == "--out " + file + ": that is a file, not a folder; name a folder for the outputs");
  CHECK(message(std::filesystem::path(file) / "run1") ==
        "--out " + file + "/run1: cannot create the folder, because " + file + " is a file");
  CHECK(message(std::filesystem::path(file) / "x" / "y") ==
        "--out " + file + "/x/y: cannot create the folder, because " + file + " is a file");
}

TEST_CASE("check_output_file says when a file cannot be written there") {
  tz::test::TempDir dir;
  const std::string file = dir / "notes.txt";
  std::ofstream(file) << "not a folder\n";
  auto message = [](const std::filesystem::path& p) -> std::string {
    try {
      flags::check_output_file(p, "--out");
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  CHECK(message(dir / "samples.png") == "");
  CHECK(message(file) == "");  // an existing file is replaced (atomically), as a fresh one would be
  CHECK(message(dir.path) == "--out " + dir.path.string() + ": that is a folder; name the file to write in it");
  CHECK(message(dir.path / "nodir" / "x.png") == "--out " + (dir.path / "nodir" / "x.png").string() +
                                                     ": there is no folder " + (dir.path / "nodir").string() +
                                                     " to write it in");
  CHECK(message(std::filesystem::path(file) / "x.png") ==
        "--out " + file + "/x.png: cannot write it, because " + file + " is a file");
}

TEST_CASE("the programs refuse bad flags in words, with a nonzero exit") {
  const std::string tapezoo = tz::test::tapezoo_program().string();
  const std::string tutorial = tz::test::built_program("tutorials/00_autograd").string();
  tz::test::TempDir dir;
  const std::string file = dir / "notes.txt";
  std::ofstream(file) << "not a folder\n";
  struct Case {
    std::string command, message;
  };
  const Case cases[] = {
      {tapezoo + " train vae --threads 0", "--threads: expected a positive integer, got 0"},
      {tapezoo + " train vae --step-threads 0", "--step-threads: expected a positive integer, got 0"},
      {tapezoo + " train vae --seed -1", "--seed: expected a non-negative integer (0, 1, 2, …), got -1"},
      {tapezoo + " train vae --batch 0", "--batch: expected a positive integer, got 0"},
      {tapezoo + " train vae --lr 0", "--lr: expected a positive number, got 0"},
      {tapezoo + " train vae --iters ten", "--iters: expected a non-negative integer (0, 1, 2, …), got ten"},
      {tapezoo + " train vae --lr-schedule linear", "--lr-schedule: expected one of constant, step or cosine, got linear"},
      {tapezoo + " eval vae --checkpoint x.npz --threads -2", "--threads: expected a positive integer, got -2"},
      {tapezoo + " sample vae --checkpoint x.npz --out x.png --n 0", "--n: expected a positive integer, got 0"},
      {tapezoo + " fit gmm --data x.csv --k 0", "--k: expected a positive integer, got 0"},
      {tapezoo + " fit gmm --data x.csv --k 2 --tol -1", "--tol: expected a number ≥ 0, got -1"},
      {tapezoo + " train iwae --k 0", "--k: expected a positive integer, got 0"},
      {tapezoo + " train vae --iters 1 --data synthetic --out " + file,
       "--out " + file + ": that is a file, not a folder; name a folder for the outputs"},
      {tapezoo + " sample vae --checkpoint x.npz --out " + file + "/x.png",
       "--out " + file + "/x.png: cannot write it, because " + file + " is a file"},
      {tapezoo + " fit gmm --data x.csv --k 2 --out " + dir.path.string(),
       "--out " + dir.path.string() + ": that is a folder; name the file to write in it"},
      {tutorial + " --quick --threads 0", "--threads: expected a positive integer, got 0"},
      {tutorial + " --quick --seed -5", "--seed: expected a non-negative integer (0, 1, 2, …), got -5"},
      {tutorial + " --quick --out " + file + "/run",
       "--out " + file + "/run: cannot create the folder, because " + file + " is a file"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.command);
    const auto [status, text] = tz::test::run_status(c.command + " </dev/null");
    CHECK(status != 0);
    CHECK_MESSAGE(contains(text, c.message), text);
    CHECK_MESSAGE(!contains(text, "17976931348623157"), text);  // no 300-digit range limit
    CHECK_MESSAGE(!contains(text, "filesystem error"), text);   // no raw std::filesystem text
  }
}
