// Tests of datasets/matrix.cpp: CSV with and without a header, its errors by line and column, and
// load_matrix over .csv and .npy.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "datasets/files.hpp"
#include "datasets/matrix.hpp"
#include "datasets/npy.hpp"
#include "tests/dataset_helpers.hpp"
#include "tests/test_helpers.hpp"

using namespace tz::test;  // contains, file_error, TempDir, write_raw

TEST_CASE("CSV with and without a header") {
  TempDir dir;
  write_raw(dir / "h.csv", "x, y,\"label\"\r\n1,2.5,0\r\n\r\n-3e2, +4 ,1\r\nnan,inf,-inf\r\n");
  const tz::CsvTable t = tz::read_csv(dir / "h.csv");
  CHECK(t.header == std::vector<std::string>{"x", "y", "label"});
  REQUIRE(t.values.shape(0) == 3);
  REQUIRE(t.values.shape(1) == 3);
  CHECK(t.values(0, 1) == 2.5);
  CHECK(t.values(1, 0) == -300.0);
  CHECK(t.values(1, 1) == 4.0);
  CHECK(std::isnan(t.values(2, 0)));
  CHECK(t.values(2, 2) == -INFINITY);

  write_raw(dir / "n.csv", "0.5,1\n2,3\n");
  const tz::CsvTable n = tz::read_csv(dir / "n.csv");
  CHECK(n.header.empty());
  CHECK(n.values == xt::xtensor<double, 2>{{0.5, 1}, {2, 3}});
  CHECK(tz::load_matrix(dir / "n.csv") == xt::xtensor<double, 2>{{0.5, 1}, {2, 3}});

  // write_csv then read_csv gives back the same doubles.
  const xt::xtensor<double, 2> v = {{0.1, 1.0 / 3.0}, {-1e-300, 12345678.9}};
  tz::write_csv(dir / "w.csv", v, {"a", "b"});
  const tz::CsvTable w = tz::read_csv(dir / "w.csv");
  CHECK(w.header == std::vector<std::string>{"a", "b"});
  CHECK(w.values == v);
}

TEST_CASE("CSV errors name the file, the line and the column") {
  TempDir dir;
  const std::string ragged = dir / "ragged.csv";
  write_raw(ragged, "a,b,c\n1,2,3\n4,5,6\n\n7,8,9\n1,2,3\n1,2\n");
  CHECK(file_error([&] { tz::read_csv(ragged); }) == ragged + " line 7: expected 3 columns (as in line 1), found 2");

  const std::string text = dir / "text.csv";
  write_raw(text, "1,2\n3,4\n5,6\n7,abc\n");
  CHECK(file_error([&] { tz::read_csv(text); }) == text + " line 4, column 2: 'abc' is not a number");

  const std::string empty_cell = dir / "hole.csv";
  write_raw(empty_cell, "1,2\n3,\n");
  CHECK(file_error([&] { tz::read_csv(empty_cell); }) == empty_cell + " line 2, column 2: an empty cell is not a number");

  const std::string header_only = dir / "header.csv";
  write_raw(header_only, "x,y\n");
  CHECK(contains(file_error([&] { tz::read_csv(header_only); }), "no data rows"));

  const std::string missing = dir / "missing.csv";
  CHECK(contains(file_error([&] { tz::load_matrix(missing); }), missing));
  CHECK(contains(file_error([&] { tz::load_matrix(dir / "x.txt"); }), "expected .npy or .csv"));
}

TEST_CASE("CSV: a first line is a header only if none of its cells is a number") {
  const std::string data_not_header = " (the first line has a numeric cell, so it is data, not a header)";
  // "1,2," has numbers, so it is data, and its third cell is empty.
  TempDir dir;
  write_raw(dir / "trailing.csv", "1,2,\n3,4,5\n");
  CHECK(file_error([&] { tz::read_csv(dir / "trailing.csv"); }) ==
        (dir / "trailing.csv") + " line 1, column 3: an empty cell is not a number" + data_not_header);
  // One number makes the line data: 'x' is then an error, not a column name.
  CHECK(file_error([&] { tz::parse_csv("x,1\n2,3\n", "x.csv"); }) ==
        "x.csv line 1, column 1: 'x' is not a number" + data_not_header);
  // The first line that is not blank is the one that counts.
  CHECK(file_error([&] { tz::parse_csv("\n \r\n1,,3\n", "late.csv"); }) ==
        "late.csv line 3, column 2: an empty cell is not a number" + data_not_header);
  // Later lines get no header hint.
  CHECK(file_error([&] { tz::parse_csv("a,b\n1,\n", "hole.csv"); }) == "hole.csv line 2, column 2: an empty cell is not a number");

  // No number at all: a header, whose names may be empty or quoted.
  const tz::CsvTable ab = tz::parse_csv("a,b\n1,2\n", "ab.csv");
  CHECK(ab.header == std::vector<std::string>{"a", "b"});
  CHECK(ab.values == xt::xtensor<double, 2>{{1, 2}});
  const tz::CsvTable blank = tz::parse_csv(",'b',\n1,2,3\n", "blank.csv");
  CHECK(blank.header == std::vector<std::string>{"", "b", ""});
  CHECK(blank.values == xt::xtensor<double, 2>{{1, 2, 3}});
  // "nan" and "inf" are numbers, so a line of them is data.
  const tz::CsvTable nan = tz::parse_csv("nan,inf\n1,2\n", "nan.csv");
  CHECK(nan.header.empty());
  REQUIRE(nan.values.shape(0) == 2);
  CHECK(std::isnan(nan.values(0, 0)));
  CHECK(nan.values(0, 1) == INFINITY);
  // A header's width sets the columns for the data.
  CHECK(file_error([&] { tz::parse_csv("a,b\n1,2,\n", "wide.csv"); }) ==
        "wide.csv line 2: expected 2 columns (as in line 1), found 3");
}

TEST_CASE("CSV: pathological inputs give clear errors or exact values") {
  // Nothing in a CSV declares a size, so what matters is that odd shapes neither crash nor
  // mislead: 200001 empty names, a 100000-digit number, a line without its newline, binary bytes.
  const std::string commas(200000, ',');
  CHECK(file_error([&] { tz::parse_csv(commas + "\n1\n", "wide.csv"); }) ==
        "wide.csv line 2: expected 200001 columns (as in line 1), found 1");
  CHECK(file_error([&] { tz::parse_csv(commas, "names.csv"); }) == "names.csv: a header line but no data rows");
  const tz::CsvTable big = tz::parse_csv(std::string(100000, '9') + "," + "1e-99999\n", "big.csv");
  CHECK(big.values(0, 0) == INFINITY);  // out of range: +-inf or 0, as strtod gives
  CHECK(big.values(0, 1) == 0.0);
  const tz::CsvTable last = tz::parse_csv("1,2\n3,4", "last.csv");
  CHECK(last.values == xt::xtensor<double, 2>{{1, 2}, {3, 4}});
  // Control bytes are shown escaped, and a long cell is cut short.
  CHECK(file_error([&] { tz::parse_csv(std::string("1,2\n3,\0\x01", 8), "nul.csv"); }) ==
        "nul.csv line 2, column 2: '\\x00\\x01' is not a number");
  CHECK(file_error([&] { tz::parse_csv("1\n" + std::string(50, 'a') + "\n", "long.csv"); }) ==
        "long.csv line 2, column 1: '" + std::string(40, 'a') + "... (50 bytes)' is not a number");
  CHECK(file_error([&] { tz::parse_csv(" \n\r\n", "blank.csv"); }) ==
        "blank.csv: empty file; expected rows of comma-separated numbers");
}

TEST_CASE("load_matrix reads .npy of any accepted dtype as double; 1-D becomes a column") {
  TempDir dir;
  tz::save_npy(dir / "m.npy", xt::xarray<float>{{1, 2, 3}, {4, 5, 6}});
  CHECK(tz::load_matrix(dir / "m.npy") == xt::xtensor<double, 2>{{1, 2, 3}, {4, 5, 6}});
  tz::save_npy(dir / "v.NPY", xt::xarray<double>{7, 8});
  CHECK(tz::load_matrix(dir / "v.NPY") == xt::xtensor<double, 2>{{7}, {8}});
  tz::save_npy(dir / "t.npy", xt::xarray<double>::from_shape({2, 2, 2}));
  CHECK(contains(file_error([&] { tz::load_matrix(dir / "t.npy"); }), "expected 1 or 2 dimensions"));
}

TEST_CASE("is_matrix_file: .npy and .csv in any case, nothing else") {
  for (const char* yes : {"a.npy", "a.csv", "dir/B.NPY", "X.Csv"}) CHECK_MESSAGE(tz::is_matrix_file(yes), yes);
  for (const char* no : {"a.npz", "mnist", "csv", "a.csv.gz", "npy", ""}) CHECK_MESSAGE(!tz::is_matrix_file(no), no);
}
