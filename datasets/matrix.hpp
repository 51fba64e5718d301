// tapezoo: users' own data as a matrix of doubles, from .npy or .csv.
//
//   xt::xtensor<double,2> x = tz::load_matrix("points.csv");   // or "points.npy"
//   tz::CsvTable t = tz::read_csv("points.csv");                // + the header, if any
//
// CSV: comma-separated numbers, one row per line (blank lines are skipped, CRLF is fine, cells
// may be surrounded by spaces). The first line is a header if, and only if, one of its cells is
// not a number; later lines must be all numbers ("nan", "inf" and "-inf" are numbers). Every
// row must have as many cells as the first line. Errors name the file, the line and the column:
//   "points.csv line 7: expected 3 columns (as in line 1), found 2"
//   "points.csv line 4, column 2: 'abc' is not a number"
// .npy: any dtype that datasets/npy.hpp accepts, converted to double; a 1-D array of length n
// becomes an [n, 1] column; 0-D and 3-D or more are refused.
#pragma once

#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

namespace tz {

struct CsvTable {
  std::vector<std::string> header;  // empty when the file has no header line
  xt::xtensor<double, 2> values;    // [rows, columns]
};

CsvTable read_csv(const std::string& path);

// Atomic write; numbers with the fewest digits that read back to the same double.
void write_csv(const std::string& path, const xt::xtensor<double, 2>& values,
               const std::vector<std::string>& header = {});

// By extension: ".npy" or ".csv" (case-insensitive). Anything else is a FileError.
xt::xtensor<double, 2> load_matrix(const std::string& path);

}  // namespace tz
