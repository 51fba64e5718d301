// libFuzzer harness: model configurations (models/model.cpp): Config::parse, the text stored as
// "__config__" in checkpoints, every typed getter on every value, Config::from with the parsed
// values as defaults and overrides, and the serialize/parse round trip.
// Input: "name=default" lines, optionally a NUL byte, then "name=value" override lines.
#include "models/model.hpp"
#include "tests/fuzz/fuzz_common.hpp"

// Config's file also looks models up in the registry, which the fuzz build does not link (it
// would pull in the whole model zoo): an empty one stands in.
const std::vector<tz::models::ModelInfo>& tz::models::registry() {
  static const std::vector<ModelInfo> none;
  return none;
}

namespace {

using tz::models::Config;

void every_getter(const Config& c) {
  using tz::fuzz::refusals_allowed;
  for (const auto& entry : c.values()) {  // not [name, value]: clang 14 lambdas cannot capture those
    const std::string& name = entry.first;
    // The getters' errors name the flag (--z), not a file.
    refusals_allowed([&] { (void)c.integer(name); }, false);
    refusals_allowed([&] { (void)c.real(name); }, false);
    refusals_allowed([&] { (void)c.flag(name); }, false);
    refusals_allowed([&] { (void)c.integers(name); }, false);
    tz::fuzz::check(&c.str(name) == &entry.second, "str() gives another value");
  }
  refusals_allowed([&] { (void)c.str("no such flag"); }, false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tz::fuzz;
  const std::string_view bytes = as_bytes(data, size);
  const std::size_t nul = bytes.find('\0');
  const std::string defaults(bytes.substr(0, nul));
  const std::string overrides(nul == std::string_view::npos ? std::string_view() : bytes.substr(nul + 1));
  refusals_allowed([&] {
    const Config c = Config::parse(defaults, source);
    every_getter(c);
    check(Config::parse(c.serialize(), source).values() == c.values(), "serialize/parse round trip differs");
    std::vector<tz::models::FlagSpec> specs;
    for (const auto& [name, value] : c.values()) specs.push_back({name, value, ""});
    const Config o = Config::parse(overrides, source);
    refusals_allowed([&] { every_getter(Config::from(specs, o.values(), "fuzz-model")); }, false);
  });
  return 0;
}
