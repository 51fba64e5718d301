// libFuzzer harness: CSV matrices (datasets/matrix.cpp parse_csv, behind read_csv), from memory.
#include "datasets/matrix.hpp"
#include "tests/fuzz/fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tz::fuzz;
  refusals_allowed([&] {
    const tz::CsvTable t = tz::parse_csv(as_bytes(data, size), source);
    check(t.values.shape(0) > 0 && t.values.shape(1) > 0, "an empty table was accepted");
    check(t.header.empty() || t.header.size() == t.values.shape(1), "header and rows differ in width");
  });
  return 0;
}
