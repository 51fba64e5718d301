// Tests of datasets/files.cpp: atomic writes, which every writer in datasets/ and io/ goes through.
#include <doctest/doctest.h>

#include <filesystem>
#include <iterator>
#include <string>

#include "datasets/files.hpp"
#include "tests/test_helpers.hpp"

namespace fs = std::filesystem;
using namespace tz::test;  // contains, file_error, TempDir

TEST_CASE("write_file_atomic replaces files whole and leaves no temporary file on failure") {
  TempDir dir;
  const std::string p = dir / "x.bin";
  tz::write_file_atomic(p, "first");
  tz::write_file_atomic(p, "second");
  CHECK(tz::read_file(p) == "second");
  {
    tz::AtomicFile f(p);
    f.write("partial");
    CHECK(fs::exists(f.temp_path()));
    CHECK(tz::read_file(p) == "second");  // not visible before commit
  }  // destroyed without commit()
  CHECK(tz::read_file(p) == "second");
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  const std::string nowhere = dir / "no/such/dir/x.bin";
  const std::string msg = file_error([&] { tz::write_file_atomic(nowhere, "x"); });
  CHECK(contains(msg, nowhere));
  CHECK(contains(msg, "does the folder"));
  CHECK(!fs::exists(nowhere));
}
