// tapezoo: one JSON object per line, for the CLIs' --json output.
//
//   tz::JsonLine j;
//   j.add("model", "vae").add("epoch", 10).add("test_elbo", -97.3125).add("converged", true);
//   j.print();   // {"model": "vae", "epoch": 10, "test_elbo": -97.3125, "converged": true}
//
// Keys keep the order they were added in (a repeated key is an error). Doubles are written with
// the fewest digits that read back to the same double, floats likewise as floats (0.1f -> 0.1);
// NaN and infinities, which JSON lacks, become null. Strings are escaped (quotes, backslashes and
// control characters); UTF-8 passes through.
#pragma once

#include <cstdio>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tz {

std::string json_string(std::string_view s);  // quoted and escaped
std::string json_number(double v);
std::string json_number(float v);

class JsonLine {
 public:
  template <class T>
    requires std::is_arithmetic_v<T>
  JsonLine& add(std::string_view key, T value) {
    if constexpr (std::is_same_v<T, bool>) return raw(key, value ? "true" : "false");
    else if constexpr (std::is_floating_point_v<T>) return raw(key, json_number(value));
    else return raw(key, std::to_string(value));
  }
  JsonLine& add(std::string_view key, std::string_view value) { return raw(key, json_string(value)); }
  JsonLine& add(std::string_view key, const char* value) { return raw(key, json_string(value)); }
  JsonLine& add(std::string_view key, const std::string& value) { return raw(key, json_string(value)); }
  JsonLine& add(std::string_view key, const std::vector<double>& values);
  // A value that is already JSON (a nested object from another JsonLine's str(), say).
  JsonLine& raw(std::string_view key, std::string_view json);

  std::string str() const { return "{" + body_ + "}"; }
  void print(std::FILE* out = stdout) const;  // str() and a newline, flushed

 private:
  std::string body_;
  std::set<std::string, std::less<>> keys_;
};

}  // namespace tz
