// tapezoo: JSON object lines (see json.hpp).
#include "io/json.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace tz {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

namespace {

template <class T>
std::string shortest(T v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

}  // namespace

std::string json_number(double v) { return shortest(v); }
std::string json_number(float v) { return shortest(v); }

JsonLine& JsonLine::add(std::string_view key, const std::vector<double>& values) {
  std::string arr = "[";
  for (std::size_t i = 0; i < values.size(); ++i) arr += (i ? ", " : "") + json_number(values[i]);
  return raw(key, arr + "]");
}

JsonLine& JsonLine::raw(std::string_view key, std::string_view json) {
  if (!keys_.insert(std::string(key)).second)
    throw std::invalid_argument("JsonLine: key '" + std::string(key) + "' added twice");
  if (!body_.empty()) body_ += ", ";
  body_ += json_string(key);
  body_ += ": ";
  body_ += json;
  return *this;
}

void JsonLine::print(std::FILE* out) const {
  const std::string line = str() + "\n";
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace tz
