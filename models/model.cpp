// tapezoo models: Config's typed getters and the registry lookup.
#include "models/model.hpp"

#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <fmt/format.h>

namespace tz::models {

namespace {

// Reads all of s as a long (std::stol) or a double (std::stod) into v: false when s is empty, does
// not start with a number, overflows, or has anything after the number.
template <class N>
bool read_number(const std::string& s, N& v) {
  std::size_t pos = 0;
  try {
    if constexpr (std::is_same_v<N, long>)
      v = std::stol(s, &pos);
    else
      v = std::stod(s, &pos);
  } catch (...) {
    return false;
  }
  return !s.empty() && pos == s.size();
}

}  // namespace

Config Config::from(const std::vector<FlagSpec>& specs, const std::map<std::string, std::string>& overrides,
                    const std::string& model) {
  Config c;
  for (const FlagSpec& f : specs) c.values_[f.name] = f.default_value;
  for (const auto& [k, v] : overrides) {
    if (!c.values_.count(k)) {
      std::string names;
      for (const FlagSpec& f : specs) names += (names.empty() ? "--" : ", --") + f.name;
      throw std::invalid_argument(fmt::format("{}: unknown flag --{} (this model's flags: {})", model, k,
                                              names.empty() ? "none" : names));
    }
    // A checkpoint stores the configuration as "name=value" lines: a line break in a value would
    // split it, and the part after the break would load as another flag.
    if (v.find('\n') != std::string::npos)
      throw std::invalid_argument(fmt::format("--{}: a value cannot contain a line break", k));
    c.values_[k] = v;
  }
  return c;
}

const std::string& Config::str(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::invalid_argument(fmt::format("--{}: no such flag in this configuration", name));
  return it->second;
}

long Config::integer(const std::string& name) const {
  const std::string& s = str(name);
  long v = 0;
  if (!read_number(s, v)) throw std::invalid_argument(fmt::format("--{}: '{}' is not an integer", name, s));
  return v;
}

double Config::real(const std::string& name) const {
  const std::string& s = str(name);
  double v = 0;
  if (!read_number(s, v)) throw std::invalid_argument(fmt::format("--{}: '{}' is not a number", name, s));
  return v;
}

bool Config::flag(const std::string& name) const {
  const std::string& s = str(name);
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  throw std::invalid_argument(fmt::format("--{}: '{}' is not true or false", name, s));
}

std::vector<long> Config::integers(const std::string& name) const {
  const std::string& s = str(name);
  std::vector<long> out;
  if (s.empty()) return out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    long v = 0;
    if (!read_number(item, v))
      throw std::invalid_argument(fmt::format("--{}: '{}' is not a comma-separated list of integers", name, s));
    out.push_back(v);
  }
  return out;
}

std::string Config::serialize() const {
  std::string out;
  for (const auto& [k, v] : values_) {
    // Config::parse must give back the same values (set() can store anything).
    if (k.find_first_of("=\n") != std::string::npos || v.find('\n') != std::string::npos)
      throw std::invalid_argument(fmt::format("--{}: a flag whose name has '=' or a line break, or whose value has a "
                                              "line break, cannot be stored",
                                              k));
    out += k + "=" + v + "\n";
  }
  return out;
}

Config Config::parse(const std::string& text, const std::string& source) {
  Config c;
  std::stringstream ss(text);
  std::string line;
  int n = 0;
  while (std::getline(ss, line)) {
    ++n;
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument(fmt::format("{}: line {} of the stored configuration has no '='", source, n));
    c.values_[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return c;
}

const ModelInfo& find_model(const std::string& name) {
  for (const ModelInfo& m : registry())
    if (m.name == name) return m;
  std::string names;
  for (const ModelInfo& m : registry()) names += (names.empty() ? "" : ", ") + m.name;
  throw std::invalid_argument(fmt::format("unknown model '{}' (registered: {})", name, names));
}

}  // namespace tz::models
