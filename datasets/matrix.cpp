// tapezoo: CSV and .npy matrices (see matrix.hpp).
#include "datasets/matrix.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string_view>

#include "datasets/files.hpp"
#include "datasets/npy.hpp"

namespace tz {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A whole cell as a double, or nothing. Accepts what from_chars accepts (decimal, exponent,
// "nan", "inf", "infinity", case-insensitive) plus a leading '+'.
std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return std::nullopt;
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (end != s.data() + s.size()) return std::nullopt;
  if (ec == std::errc::result_out_of_range) {
    // from_chars reports under/overflow without a value: fall back to strtod's ±inf / 0.
    return std::strtod(std::string(s).c_str(), nullptr);
  }
  if (ec != std::errc()) return std::nullopt;
  return v;
}

std::vector<std::string_view> split_cells(std::string_view line) {
  std::vector<std::string_view> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      cells.push_back(line.substr(start));
      break;
    }
    cells.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
  return cells;
}

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && ((s.front() == '"' && s.back() == '"') || (s.front() == '\'' && s.back() == '\'')))
    s = s.substr(1, s.size() - 2);
  return std::string(s);
}

std::string shortest(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The error for a cell that is not a number: "x.csv line 4, column 2: 'abc' is not a number".
[[noreturn]] void not_a_number(const std::string& source, std::size_t line_no, std::size_t column,
                               std::string_view cell, bool first) {
  cell = trim(cell);
  std::string msg = source + " line " + std::to_string(line_no) + ", column " + std::to_string(column) + ": " +
                    (cell.empty() ? std::string("an empty cell") : "'" + printable(cell, 40) + "'") + " is not a number";
  // A first line with a number in it is data, not a header: say so, it may be a surprise.
  if (first) msg += " (the first line has a numeric cell, so it is data, not a header)";
  throw FileError(msg);
}

}  // namespace

CsvTable parse_csv(std::string_view text, const std::string& source) {
  CsvTable table;
  std::vector<double> values;
  std::size_t ncols = 0;
  std::size_t first_line = 0;  // line number that set the column count
  std::size_t nrows = 0;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  bool seen_first = false;
  while (pos < text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_no == 1 && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // UTF-8 BOM
    if (trim(line).empty()) continue;
    const auto cells = split_cells(line);

    const bool first = !seen_first;
    if (first) {
      seen_first = true;
      ncols = cells.size();
      first_line = line_no;
      // A header has no numeric cell at all: one number makes the line data.
      const bool header = std::none_of(cells.begin(), cells.end(), [](std::string_view c) { return parse_number(c); });
      if (header) {
        for (auto c : cells) table.header.push_back(unquote(c));
        continue;
      }
    } else if (cells.size() != ncols) {
      throw FileError(source + " line " + std::to_string(line_no) + ": expected " + std::to_string(ncols) +
                      " columns (as in line " + std::to_string(first_line) + "), found " + std::to_string(cells.size()));
    }
    for (std::size_t j = 0; j < cells.size(); ++j) {
      const auto v = parse_number(cells[j]);
      if (!v) not_a_number(source, line_no, j + 1, cells[j], first);
      values.push_back(*v);
    }
    ++nrows;
  }
  if (!seen_first) throw FileError(source + ": empty file; expected rows of comma-separated numbers");
  if (nrows == 0) throw FileError(source + ": a header line but no data rows");
  table.values = xt::xtensor<double, 2>::from_shape({nrows, ncols});
  std::copy(values.begin(), values.end(), table.values.data());
  return table;
}

CsvTable read_csv(const std::string& path) { return parse_csv(read_file(path), path); }

void write_csv(const std::string& path, const xt::xtensor<double, 2>& values, const std::vector<std::string>& header) {
  if (!header.empty() && header.size() != values.shape(1))
    throw std::invalid_argument(path + ": header has " + std::to_string(header.size()) + " names for " +
                                std::to_string(values.shape(1)) + " columns");
  std::string out;
  for (std::size_t j = 0; j < header.size(); ++j) out += (j ? "," : "") + header[j];
  if (!header.empty()) out += '\n';
  for (std::size_t i = 0; i < values.shape(0); ++i) {
    for (std::size_t j = 0; j < values.shape(1); ++j) {
      if (j) out += ',';
      out += shortest(values(i, j));
    }
    out += '\n';
  }
  write_file_atomic(path, out);
}

bool is_matrix_file(const std::string& path) {
  const std::string p = lower(path);
  return ends_with(p, ".csv") || ends_with(p, ".npy");
}

xt::xtensor<double, 2> load_matrix(const std::string& path) {
  const std::string p = lower(path);
  if (ends_with(p, ".csv")) return read_csv(path).values;
  if (ends_with(p, ".npy")) {
    const NdArray a = read_npy(path);
    if (a.shape.size() == 1) {
      xt::xarray<double> v = a.to_double();
      xt::xtensor<double, 2> out = xt::xtensor<double, 2>::from_shape({a.shape[0], std::size_t{1}});
      std::copy(v.begin(), v.end(), out.begin());
      return out;
    }
    if (a.shape.size() != 2)
      throw FileError(path + ": array has shape " + shape_string(a.shape) + "; expected 1 or 2 dimensions");
    xt::xarray<double> v = a.to_double();
    xt::xtensor<double, 2> out = xt::xtensor<double, 2>::from_shape({a.shape[0], a.shape[1]});
    std::copy(v.begin(), v.end(), out.begin());
    return out;
  }
  throw FileError(path + ": unknown extension; expected .npy or .csv");
}

}  // namespace tz
