// The whole of a text file as a string, for tests that read the project's sources and docs.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tz::test {

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace tz::test
