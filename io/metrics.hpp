// tapezoo: training metrics as CSV, one row per logging step, flushed as it goes.
//
//   tz::MetricsCsv log("runs/vae/metrics.csv", {"loss", "kl", "rec"});
//   log.write(100, {97.31, 25.02, 72.29});     // seconds since construction are appended
//
//   iteration,loss,kl,rec,seconds
//   100,97.31,25.02,72.29,3.412
//
// Unlike checkpoints this file grows during the run, so it is not written atomically; each row
// goes out in one write and is flushed, so a crash loses at most the row being written.
// Numbers use the fewest digits that read back to the same double.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

namespace tz {

class MetricsCsv {
 public:
  // Creates (truncates) `path` and writes the header. Term names may not contain commas, quotes
  // or line breaks. Throws FileError naming the path.
  MetricsCsv(const std::string& path, std::vector<std::string> terms);
  ~MetricsCsv();
  MetricsCsv(const MetricsCsv&) = delete;
  MetricsCsv& operator=(const MetricsCsv&) = delete;

  void write(std::size_t iteration, const std::vector<double>& values);                  // seconds: wall clock
  void write(std::size_t iteration, const std::vector<double>& values, double seconds);

  const std::string& path() const { return path_; }
  const std::vector<std::string>& terms() const { return terms_; }

 private:
  std::string path_;
  std::vector<std::string> terms_;
  std::FILE* f_ = nullptr;
  std::chrono::steady_clock::time_point start_;
};

// The shortest decimal text that reads back to v ("0.1", "97.31", "1e-08"); "nan", "inf", "-inf".
std::string shortest_double(double v);

}  // namespace tz
