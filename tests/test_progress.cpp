// Tests of io/progress.cpp: the progress bar is silent off a terminal, redraws no more often than
// its interval (counted, not timed), and formats its line as documented.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "io/progress.hpp"
#include "tests/test_helpers.hpp"

using tz::test::contains;

TEST_CASE("the progress bar is silent off a terminal, and rate-limited when drawing") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    tz::ProgressBar off(100, {.label = "x", .out = f});
    CHECK(!off.enabled());  // a file is not a terminal
    tz::ProgressBar quiet(100, {.quiet = true, .out = f, .force = true});
    CHECK(!quiet.enabled());
    for (std::size_t i = 1; i <= 100; ++i) off.update(i, 1.0);
  }
  CHECK(std::ftell(f) == 0);

  // Rate limiting, with no clock in the test: the first update draws, and with an interval of 1e9 s
  // no later one does until finish(); with an interval of 0 every update draws.
  {
    std::FILE* g = std::tmpfile();
    REQUIRE(g != nullptr);
    tz::ProgressBar every(5, {.out = g, .force = true, .min_interval = 0});
    for (std::size_t i = 1; i <= 5; ++i) every.update(i);
    CHECK(every.redraws() == 5);
    every.finish();
    std::fclose(g);
  }
  {
    tz::ProgressBar bar(100000, {.label = "train", .out = f, .force = true, .min_interval = 1e9});
    CHECK(bar.enabled());
    for (std::size_t i = 1; i <= 100000; ++i) bar.update(i, 97.31);
    CHECK(bar.redraws() == 1);
    bar.finish();
    CHECK(bar.redraws() == 2);
  }
  std::rewind(f);
  std::string out;
  char buf[512];
  std::size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, got);
  std::fclose(f);
  CHECK(contains(out, "\rtrain ["));
  CHECK(contains(out, "100%  100000/100000"));
  CHECK(contains(out, "it/s"));
  CHECK(contains(out, "loss 97.31"));
  CHECK(out.back() == '\n');

  CHECK(tz::ProgressBar::format("train", 38, 100, 2.0, 97.31, 10) ==
        "train [###.......]  38%  38/100  19 it/s  ETA 0:03  loss 97.31");
  CHECK(tz::ProgressBar::format("", 7, 0, 0.5, std::nan(""), 10) == "7  14 it/s");
}
