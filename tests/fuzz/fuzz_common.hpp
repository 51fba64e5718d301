// tapezoo fuzzing: what every harness shares. A harness feeds libFuzzer's bytes to one parser in
// memory. The parser may refuse them, but only with the errors it documents (tz::FileError,
// std::invalid_argument), and an error about a file must name it. Any other outcome is a finding
// that libFuzzer reports and saves: a crash, undefined behaviour, a leak, an allocation over
// -malloc_limit_mb, a hang over -timeout, or another exception (std::bad_alloc, std::length_error,
// std::out_of_range, ...), which escapes the harness and aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "datasets/files.hpp"

namespace tz::fuzz {

// The name the harnesses give their input, which every file error must contain.
inline const std::string source = "fuzz-input";

// Stops the run, so that libFuzzer saves the input that broke a stated property.
[[noreturn]] inline void finding(const char* what, const char* detail = "") {
  std::fprintf(stderr, "FINDING: %s %s\n", what, detail);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) finding(what);
}

inline std::string_view as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs f, accepting the documented refusals. With names_source, their message must name the input.
template <class F>
void refusals_allowed(F&& f, bool names_source = true) {
  try {
    f();
  } catch (const FileError& e) {
    if (names_source && !std::strstr(e.what(), source.c_str())) finding("FileError does not name the file:", e.what());
  } catch (const std::invalid_argument& e) {
    if (names_source && !std::strstr(e.what(), source.c_str()))
      finding("invalid_argument does not name the file:", e.what());
  }
}

}  // namespace tz::fuzz
