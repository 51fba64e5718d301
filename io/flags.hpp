// tapezoo: command-line flags that say what they expect, in words.
//
//   cmd.add_option("--k", k, "number of components")->check(tz::flags::positive_integer());
//   $ tapezoo fit gmm --k 0 …
//   --k: expected a positive integer, got 0
//
// CLI11's own range checks (CLI::PositiveNumber, CLI::Range) print the range's limits with all
// their digits ("Value 0 not in range 0.000000 to 179769313486231570814527423731704356798…"), and
// its conversion errors print "Could not convert". These validators run on the text before it is
// converted, so a bad value of any kind gets one sentence: the flag, what it expects, what it got.
//
// make_output_dir() does the same for output folders: `--out notes.txt` says that notes.txt is a
// file, instead of std::filesystem's raw "create_directories: File exists [notes.txt]".
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>

namespace tz::flags {

// Whole-text parses (no trailing characters, no empty text). Integers are decimal; numbers are what
// strtod reads, and must be finite.
bool parse_integer(std::string_view text, long long& value);
bool parse_number(std::string_view text, double& value);

CLI::Validator integer();               // any integer
CLI::Validator positive_integer();      // 1, 2, 3, …
CLI::Validator nonnegative_integer();   // 0, 1, 2, …
CLI::Validator number();                // any finite number
CLI::Validator positive_number();       // > 0
CLI::Validator nonnegative_number();    // ≥ 0
CLI::Validator one_of(std::initializer_list<const char*> choices);  // "expected one of a, b or c"

// Creates `dir` and its parents for the files a command writes. `flag` names where the folder came
// from ("--out"). Throws std::invalid_argument with one sentence when dir is a file, when a parent
// is a file, or when the folder cannot be created (and why: "Permission denied", …).
void make_output_dir(const std::filesystem::path& dir, std::string_view flag);

// Checks that a file can be written at `file` before any work is done: its folder exists (and is
// a folder) and `file` itself is not a folder. Throws std::invalid_argument with one sentence.
void check_output_file(const std::filesystem::path& file, std::string_view flag);

}  // namespace tz::flags
