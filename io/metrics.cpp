// tapezoo: metrics.csv writer (see metrics.hpp).
#include "io/metrics.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "datasets/files.hpp"

namespace tz {

std::string shortest_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

MetricsCsv::MetricsCsv(const std::string& path, std::vector<std::string> terms)
    : path_(path), terms_(std::move(terms)), start_(std::chrono::steady_clock::now()) {
  for (const auto& t : terms_)
    if (t.empty() || t.find_first_of(",\"\r\n") != std::string::npos)
      throw std::invalid_argument("MetricsCsv: term name '" + t + "' must be non-empty without commas, quotes or line breaks");
  f_ = std::fopen(path.c_str(), "w");
  if (!f_) {
    const int err = errno;
    throw FileError(path + ": cannot create metrics file: " + std::strerror(err));
  }
  std::string header = "iteration";
  for (const auto& t : terms_) header += "," + t;
  header += ",seconds\n";
  if (std::fputs(header.c_str(), f_) == EOF || std::fflush(f_) != 0) {
    const int err = errno;
    std::fclose(f_);
    f_ = nullptr;
    throw FileError(path + ": write error: " + std::strerror(err));
  }
}

MetricsCsv::~MetricsCsv() {
  if (f_) std::fclose(f_);
}

void MetricsCsv::write(std::size_t iteration, const std::vector<double>& values) {
  write(iteration, values, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
}

void MetricsCsv::write(std::size_t iteration, const std::vector<double>& values, double seconds) {
  if (values.size() != terms_.size())
    throw std::invalid_argument("MetricsCsv " + path_ + ": " + std::to_string(values.size()) + " values for " +
                                std::to_string(terms_.size()) + " terms");
  std::string row = std::to_string(iteration);
  for (double v : values) {
    row += ',';
    row += shortest_double(v);
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, ",%.3f\n", seconds);
  row += buf;
  if (std::fwrite(row.data(), 1, row.size(), f_) != row.size() || std::fflush(f_) != 0) {
    const int err = errno;
    throw FileError(path_ + ": write error: " + std::strerror(err));
  }
}

}  // namespace tz
