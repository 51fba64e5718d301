// Tests of io/metrics.cpp and io/json.cpp, the two machine-readable records of a run: metrics.csv
// (one flushed row per logged step) and the --json line.
#include <doctest/doctest.h>

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "datasets/files.hpp"
#include "io/json.hpp"
#include "io/metrics.hpp"
#include "tests/test_helpers.hpp"

using namespace tz::test;  // contains, file_error, TempDir

TEST_CASE("metrics.csv: header, one flushed row per step, shortest round-trip numbers") {
  TempDir dir;
  const std::string p = dir / "metrics.csv";
  tz::MetricsCsv log(p, {"loss", "kl", "rec"});
  log.write(100, {97.31, 0.1, 1.0 / 3.0}, 3.25);
  CHECK(tz::read_file(p) == "iteration,loss,kl,rec,seconds\n100,97.31,0.1,0.3333333333333333,3.250\n");  // flushed
  log.write(200, {std::nan(""), -1e-8, 72}, 7.0);
  CHECK(tz::read_file(p) ==
        "iteration,loss,kl,rec,seconds\n100,97.31,0.1,0.3333333333333333,3.250\n200,nan,-1e-08,72,7.000\n");
  CHECK_THROWS_AS(log.write(300, {1, 2}), std::invalid_argument);
  CHECK_THROWS_AS(tz::MetricsCsv(dir / "y.csv", {"a,b"}), std::invalid_argument);
  CHECK(contains(file_error([&] { tz::MetricsCsv(dir / "no/dir/m.csv", {"a"}); }), dir / "no/dir/m.csv"));
}

TEST_CASE("JSON lines: ordered keys, shortest numbers, escaped strings") {
  tz::JsonLine j;
  j.add("model", "vae").add("epoch", 10).add("test_elbo", -97.3125).add("lr", 0.1f).add("converged", true);
  j.add("note", std::string("say \"hi\"\\\n\x01")).add("nan", std::nan("")).add("steps", std::size_t{60000});
  j.add("curve", std::vector<double>{1.5, 0.1});
  CHECK(j.str() ==
        "{\"model\": \"vae\", \"epoch\": 10, \"test_elbo\": -97.3125, \"lr\": 0.1, \"converged\": true, "
        "\"note\": \"say \\\"hi\\\"\\\\\\n\\u0001\", \"nan\": null, \"steps\": 60000, \"curve\": [1.5, 0.1]}");
  CHECK_THROWS_AS(j.add("epoch", 11), std::invalid_argument);
  CHECK(tz::json_number(1e300) == "1e+300");
  CHECK(tz::json_number(0.1 + 0.2) == "0.30000000000000004");
}
