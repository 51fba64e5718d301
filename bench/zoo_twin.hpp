// bench/zoo_twin.hpp: bench/zoo_step's side of the PyTorch twins (bench/zoo_torch.py): run the
// script for one model, and read numbers and strings off the one flat JSON line it prints.
#pragma once

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tz::bench {

inline std::string run_command(const std::string& cmd, int& status) {
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) return status = -1, std::string();
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  status = pclose(p);
  return out;
}

// The twin's JSON line for one model, as it printed it (its keys are copied into ours), or "" if it failed.
inline std::string run_torch(const std::string& script, const std::string& model, const std::string& data,
                             int threads, int rounds, int chunk) {
  const std::string cmd = fmt::format("/usr/bin/python3 '{}' --model {} --data '{}' --threads {} --rounds {} --chunk {}",
                                      script, model, data, threads, rounds, chunk);
  int status = 0;
  const std::string out = run_command(cmd, status);
  if (status != 0) std::fprintf(stderr, "zoo_step: '%s' failed:\n%s\n", cmd.c_str(), out.c_str());
  const auto open = out.rfind('{'), close = out.rfind('}');
  return status != 0 || open == std::string::npos || close == std::string::npos ? "" : out.substr(open, close - open + 1);
}

// From the twin's flat JSON line (no nesting, no escapes): the text after "key": ("null" if it is
// missing), a number (NaN for null) and a string ("" for null).
inline std::string json_value_of(const std::string& line, const std::string& key) {
  const auto at = line.find("\"" + key + "\": ");
  return at == std::string::npos ? "null" : line.substr(at + key.size() + 4);
}
inline double json_number_of(const std::string& line, const std::string& key) {
  const std::string rest = json_value_of(line, key);
  return rest.rfind("null", 0) == 0 ? std::nan("") : std::stod(rest);
}
inline std::string json_string_of(const std::string& line, const std::string& key) {
  const std::string rest = json_value_of(line, key);
  return rest[0] == '"' ? rest.substr(1, rest.find('"', 1) - 1) : "";
}

// With --torch: the twin's script must run and import torch, or we stop here and say what is missing.
inline void check_torch(const std::string& script) {
  int status = 0;
  std::string out = run_command(fmt::format("/usr/bin/python3 '{}' --version 2>&1", script), status);
  out.erase(out.find_last_not_of(" \n") + 1);  // npos + 1 = 0: all blank
  if (status != 0)
    throw std::runtime_error(fmt::format("--torch {}: the PyTorch twin does not run, and it needs PyTorch "
                                         "(`apt-get install python3-torch`): {}", script, out.empty() ? "no output" : out));
}

}  // namespace tz::bench
