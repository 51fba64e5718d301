// tapezoo: command-line flags that say what they expect (see flags.hpp).
#include "io/flags.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace tz::flags {

bool parse_integer(std::string_view text, long long& value) {
  if (text.empty()) return false;
  const char* first = text.data();
  if (*first == '+') ++first;  // "+3" is 3, as strtol reads it
  const char* last = text.data() + text.size();
  if (first == last) return false;
  const auto [end, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && end == last;
}

bool parse_number(std::string_view text, double& value) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text.front()))) return false;
  const std::string s(text);
  char* end = nullptr;
  value = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(value);
}

namespace {

// The value as typed, for a message: "got 0", "got 'two words'", "got nothing".
std::string shown(const std::string& text) {
  if (text.empty()) return "nothing";
  return text.find_first_of(" \t") == std::string::npos ? text : "'" + text + "'";
}

// A validator whose check returns "" when the text is acceptable, else the sentence after "--flag: ".
CLI::Validator make(std::string description, std::function<std::string(std::string&)> check) {
  return CLI::Validator(std::move(check), std::move(description));
}

std::string integer_error(const std::string& text, const char* what, bool (*ok)(long long)) {
  long long v = 0;
  if (parse_integer(text, v) && ok(v)) return "";
  return fmt::format("expected {}, got {}", what, shown(text));
}

std::string number_error(const std::string& text, const char* what, bool (*ok)(double)) {
  double v = 0;
  if (parse_number(text, v) && ok(v)) return "";
  return fmt::format("expected {}, got {}", what, shown(text));
}

}  // namespace

CLI::Validator integer() {
  return make("INT", [](std::string& s) { return integer_error(s, "an integer", [](long long) { return true; }); });
}
CLI::Validator positive_integer() {
  return make("INT ≥ 1", [](std::string& s) {
    return integer_error(s, "a positive integer", [](long long v) { return v >= 1; });
  });
}
CLI::Validator nonnegative_integer() {
  return make("INT ≥ 0", [](std::string& s) {
    return integer_error(s, "a non-negative integer (0, 1, 2, …)", [](long long v) { return v >= 0; });
  });
}
CLI::Validator number() {
  return make("NUMBER", [](std::string& s) { return number_error(s, "a finite number", [](double) { return true; }); });
}
CLI::Validator positive_number() {
  return make("NUMBER > 0", [](std::string& s) {
    return number_error(s, "a positive number", [](double v) { return v > 0; });
  });
}
CLI::Validator nonnegative_number() {
  return make("NUMBER ≥ 0", [](std::string& s) {
    return number_error(s, "a number ≥ 0", [](double v) { return v >= 0; });
  });
}

CLI::Validator one_of(std::initializer_list<const char*> choices) {
  std::vector<std::string> names(choices.begin(), choices.end());
  std::string list;
  for (std::size_t i = 0; i < names.size(); ++i)
    list += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return make("{" + fmt::format("{}", fmt::join(names, ",")) + "}", [names, list](std::string& s) -> std::string {
    for (const auto& n : names)
      if (s == n) return "";
    return fmt::format("expected one of {}, got {}", list, shown(s));
  });
}

void make_output_dir(const std::filesystem::path& dir, std::string_view flag) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw std::invalid_argument(
        fmt::format("{} {}: that is a file, not a folder; name a folder for the outputs", flag, dir.string()));
  // The first parent that exists must be a folder: "--out notes.txt/run1" cannot be made.
  for (fs::path p = dir.parent_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec))
        throw std::invalid_argument(fmt::format("{} {}: cannot create the folder, because {} is a file", flag,
                                                dir.string(), p.string()));
      break;
    }
    if (p == p.parent_path()) break;
  }
  fs::create_directories(dir, ec);
  if (ec)
    throw std::invalid_argument(
        fmt::format("{} {}: cannot create the folder ({})", flag, dir.string(), ec.message()));
}

void check_output_file(const std::filesystem::path& file, std::string_view flag) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(file, ec))
    throw std::invalid_argument(fmt::format("{} {}: that is a folder; name the file to write in it", flag,
                                            file.string()));
  const fs::path dir = file.parent_path();
  if (dir.empty()) return;  // the current folder
  if (!fs::exists(dir, ec))
    throw std::invalid_argument(
        fmt::format("{} {}: there is no folder {} to write it in", flag, file.string(), dir.string()));
  if (!fs::is_directory(dir, ec))
    throw std::invalid_argument(
        fmt::format("{} {}: cannot write it, because {} is a file", flag, file.string(), dir.string()));
}

}  // namespace tz::flags
