// Tests for what fuzzing (tests/fuzz/, `./zoo fuzz`) guards, run with the normal g++ build so that
// every fix stays checked without clang: each input that once broke a parser, saved as
// tests/fuzz/corpus/<target>/regress-*, must now be refused with a clear error naming the file.
// Also: the configuration parser on long and odd input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "datasets/files.hpp"
#include "datasets/idx.hpp"
#include "datasets/matrix.hpp"
#include "datasets/npy.hpp"
#include "io/npz.hpp"
#include "models/model.hpp"
#include "tests/test_helpers.hpp"

namespace fs = std::filesystem;
using tz::models::Config;
using tz::test::contains;

namespace {

const fs::path corpus = "tests/fuzz/corpus";  // meson runs the unit tests from the source root

std::vector<fs::path> regression_inputs(const std::string& target) {
  std::vector<fs::path> out;
  const fs::path dir = corpus / target;
  REQUIRE_MESSAGE(fs::is_directory(dir), "no seed corpus " << dir.string());
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename().string().rfind("regress-", 0) == 0) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// f(path) must throw tz::FileError or std::invalid_argument naming the path; nothing else.
template <class F>
void refused_naming_file(const fs::path& path, F&& f) {
  CAPTURE(path.string());
  std::string msg;
  try {
    f(path.string());
  } catch (const tz::FileError& e) {
    msg = e.what();
  } catch (const std::invalid_argument& e) {
    msg = e.what();
  }
  CHECK_MESSAGE(!msg.empty(), "accepted");
  CHECK(contains(msg, path.string()));
}

// Every getter on every value: only std::invalid_argument may come out.
void every_getter(const Config& c) {
  for (const auto& entry : c.values()) {
    const std::string& name = entry.first;
    CAPTURE(name);
    auto allowed = [](auto&& get) {
      try {
        get();
      } catch (const std::invalid_argument&) {
      }
    };
    allowed([&] { (void)c.integer(name); });
    allowed([&] { (void)c.real(name); });
    allowed([&] { (void)c.flag(name); });
    allowed([&] { (void)c.integers(name); });
  }
}

}  // namespace

TEST_CASE("fuzz regression inputs are refused with an error naming the file") {
  for (const auto& p : regression_inputs("idx")) {
    refused_naming_file(p, [](const std::string& f) { tz::read_idx_images(f); });
    refused_naming_file(p, [](const std::string& f) { tz::read_idx_labels(f); });
  }
  for (const auto& p : regression_inputs("npy"))
    refused_naming_file(p, [](const std::string& f) { (void)tz::read_npy(f).to_double(); });
  for (const auto& p : regression_inputs("csv")) refused_naming_file(p, [](const std::string& f) { tz::read_csv(f); });
  for (const auto& p : regression_inputs("npz")) refused_naming_file(p, [](const std::string& f) { tz::read_npz(f); });
  // A configuration may well parse: what once failed was a getter. Only the documented errors.
  for (const auto& p : regression_inputs("config")) {
    CAPTURE(p.string());
    const std::string text = tz::read_file(p.string());
    try {
      every_getter(Config::parse(text.substr(0, text.find('\0')), p.string()));
    } catch (const std::invalid_argument& e) {
      CHECK(contains(e.what(), p.string()));
    }
  }
}

TEST_CASE("the regression inputs of fixed bugs give the errors of their fixes") {
  // Bugs fixed before they could crash, kept as inputs for the fuzzers and checked here by message.
  auto error_of = [](auto&& read, const std::string& path) {
    try {
      read(path);
    } catch (const tz::FileError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const std::string idx = (corpus / "idx/regress-huge-count").string();
  CHECK(error_of([](const std::string& f) { tz::read_idx_images(f); }, idx) ==
        idx + ": expected 3367254359280 bytes of pixel data after the header, found 3 (file truncated?)");
  const std::string npy = (corpus / "npy/regress-huge-shape").string();
  CHECK(contains(error_of([](const std::string& f) { tz::read_npy(f); }, npy),
                 ": expected 8796093022208 bytes of <f8 data for shape [1099511627776], found 0"));
  const std::string csv = (corpus / "csv/regress-trailing-comma-first-line").string();
  CHECK(contains(error_of([](const std::string& f) { tz::read_csv(f); }, csv),
                 csv + " line 1, column 3: an empty cell is not a number"));
  const std::string npz = (corpus / "npz/regress-overlapping-members").string();
  CHECK(error_of([](const std::string& f) { tz::read_npz(f); }, npz) ==
        npz + ": members 'm0.npy' and 'm1.npy' share bytes in the file (a corrupt archive, or a zip bomb)");
}

TEST_CASE("the seed corpus is what it says: small valid files the g++ parsers accept") {
  CHECK(tz::read_idx_images((corpus / "idx/images-3x4x5.gz").string()).pixels.size() == 60);
  CHECK(tz::read_idx_labels((corpus / "idx/labels-two-members.gz").string()) ==
        std::vector<std::uint8_t>{0, 9, 3, 3, 255, 1});
  CHECK(tz::read_npy((corpus / "npy/i4-2x2x2").string()).to_double()(1, 1, 1) == 7.0);
  CHECK(tz::read_csv((corpus / "csv/header").string()).values.shape(0) == 3);
  const auto ck = tz::load_npz((corpus / "npz/checkpoint-deflated").string());
  const tz::NdArray& text = ck.at("__config__");
  const Config c = Config::parse(text.bytes, "checkpoint-deflated");
  CHECK(c.integers("hidden") == std::vector<long>{300, 300});
  CHECK(c.real("lr") == 1e-3);
}

TEST_CASE("Config::parse: long values, many lines and odd text give values or clear errors") {
  // Nothing in the text declares a length; a long value or many lines cost what they hold.
  const std::string digits(100000, '9');
  std::string text = "big=" + digits + "\n";
  for (int i = 0; i < 10000; ++i) text += "k" + std::to_string(i) + "=" + std::to_string(i) + "\n";
  const Config c = Config::parse(text, "ck.npz");
  CHECK(c.values().size() == 10001);
  CHECK(c.integer("k9999") == 9999);
  CHECK(c.str("big").size() == 100000);
  // Too large for a long or a double: refused, with the value as written.
  CHECK_THROWS_WITH_AS((void)c.integer("big"), ("--big: '" + digits + "' is not an integer").c_str(),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS((void)c.real("big"), ("--big: '" + digits + "' is not a number").c_str(),
                       std::invalid_argument);
  const Config odd = Config::parse("=\nempty=\na=b=c\r\n", "odd");
  CHECK(odd.str("") == "");
  CHECK(odd.str("a") == "b=c\r");  // kept as written: the value is everything after the first '='
  CHECK(odd.integers("empty").empty());
  CHECK_THROWS_WITH_AS((void)odd.integers("a"), "--a: 'b=c\r' is not a comma-separated list of integers",
                       std::invalid_argument);
  // What serialize writes, parse reads back; what it could not, neither from() nor serialize() takes.
  CHECK(Config::parse(odd.serialize(), "again").values() == odd.values());
  const std::vector<tz::models::FlagSpec> specs{{"z", "2", ""}};
  CHECK_THROWS_WITH_AS(Config::from(specs, {{"z", "3\nbeta=9"}}, "vae"), "--z: a value cannot contain a line break",
                       std::invalid_argument);
  Config set = Config::from(specs, {}, "vae");
  set.set("z", "3\nbeta=9");
  CHECK_THROWS_AS((void)set.serialize(), std::invalid_argument);
  try {
    Config::parse("z=2\nno equals sign\n", "ck.npz");
    FAIL("a line without '=' was accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "ck.npz: line 2 of the stored configuration has no '='");
  }
}
