// tapezoo: users' own data as a matrix of doubles, from .npy or .csv.
//
//   xt::xtensor<double,2> x = tz::load_matrix("points.csv");   // or "points.npy"
//   tz::CsvTable t = tz::read_csv("points.csv");                // + the header, if any
//
// CSV: comma-separated numbers, one row per line (blank lines are skipped, CRLF is fine, cells
// may be surrounded by spaces; "nan", "inf" and "-inf" are numbers, an empty cell is not).
// The first non-blank line is a header if, and only if, none of its cells is a number: "x,y" and
// "a,,b" are headers (names may be empty, and quotes around a name are dropped). A first line with
// even one numeric cell is data, so it must be all numbers like every later line: "1,2," is an
// error at its third, empty cell, not a header, and "x,1" an error at 'x'. Every row must have as
// many cells as the first line. Errors name the file, the line and the column:
//   "points.csv line 7: expected 3 columns (as in line 1), found 2"
//   "points.csv line 4, column 2: 'abc' is not a number"
//   "points.csv line 1, column 3: an empty cell is not a number (the first line has a numeric
//    cell, so it is data, not a header)"
// .npy: any dtype that datasets/npy.hpp accepts, converted to double; a 1-D array of length n
// becomes an [n, 1] column; 0-D and 3-D or more are refused.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace tz {

struct CsvTable {
  std::vector<std::string> header;  // empty when the file has no header line
  xt::xtensor<double, 2> values;    // [rows, columns]
};

CsvTable read_csv(const std::string& path);
// The same from the file's text in memory; `source` names the file in errors.
CsvTable parse_csv(std::string_view text, const std::string& source);

// Atomic write; numbers with the fewest digits that read back to the same double.
void write_csv(const std::string& path, const xt::xtensor<double, 2>& values,
               const std::vector<std::string>& header = {});

// Whether load_matrix reads `path`: it ends in ".npy" or ".csv", in any case ("X.CSV" too).
bool is_matrix_file(const std::string& path);

// By extension, as is_matrix_file: ".npy" or ".csv". Anything else is a FileError.
xt::xtensor<double, 2> load_matrix(const std::string& path);

}  // namespace tz
