// tapezoo coursework: the grader (coursework/grader.hpp): comparisons, hidden values, the run of the
// checks of each task, and the two reports.
#include "coursework/grader.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "autograd/path.hpp"
#include "coursework/checks/checks.hpp"
#include "coursework/not_implemented.hpp"

namespace tz::coursework {

std::vector<double> flat(const A& a) { return std::vector<double>(a.begin(), a.end()); }

std::string show(const std::vector<double>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + fmt::format("{:.17g}", v[i]);
  return s + "]";
}

void Checker::close(const std::string& what, const std::vector<double>& expected, const std::vector<double>& got,
                    double rtol, double atol) const {
  if (expected.size() != got.size())
    throw CheckFailure(fmt::format("{}: expected {} values, got {}", what, expected.size(), got.size()));
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double e = expected[i], g = got[i];
    const bool same_inf = std::isinf(e) && e == g;
    if (same_inf || std::fabs(g - e) <= atol + rtol * std::fabs(e)) continue;  // NaN fails here
    throw CheckFailure(fmt::format("{}: element {}: expected {:.17g}, got {:.17g} (tolerance {:g} + {:g}·|expected|)",
                                   what, i, e, g, atol, rtol));
  }
}

void Checker::hidden(const std::string& name, const std::string& what, const std::vector<double>& got, double rtol,
                     double atol) {
  std::string key = name;  // one word in the file: "1.6/sum(x,_axis=1)/grad0"
  for (char& ch : key)
    if (ch == ' ') ch = '_';
  if (regenerate_) {
    hidden_[key] = got;
    return;
  }
  const auto it = hidden_.find(key);
  if (it == hidden_.end())
    throw std::runtime_error("hidden value '" + key + "' is missing from coursework/hidden.txt (./zoo grade --regenerate in the solved project)");
  close(what + " [hidden]", it->second, got, rtol, atol);
}

Hidden read_hidden(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("grade: cannot read the hidden values " + path);
  Hidden h;
  std::string line;
  for (std::size_t no = 1; std::getline(in, line); ++no) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream s(line);
    std::string key;
    std::size_t n = 0;
    std::vector<double> v;
    if (!(s >> key >> n)) throw std::runtime_error(fmt::format("{}:{}: expected <key> <count> <values…>", path, no));
    v.resize(n);
    for (double& x : v) {
      std::string tok;
      if (!(s >> tok)) throw std::runtime_error(fmt::format("{}:{}: {} has fewer than {} values", path, no, key, n));
      x = std::stod(tok);  // reads inf and -inf too
    }
    h[key] = v;
  }
  return h;
}

void write_hidden(const std::string& path, const Hidden& values) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw std::runtime_error("grade --regenerate: cannot write " + path);
  out << "# tapezoo coursework: hidden reference values, computed from the solution by `./zoo grade --regenerate`\n"
         "# in the solved project (numbers only, never code). One line per key: <key> <count> <values>.\n";
  for (const auto& [k, v] : values) {
    out << k << ' ' << v.size();
    for (double x : v) out << ' ' << fmt::format("{:.17g}", x);
    out << '\n';
  }
}

std::vector<Check> all_checks() {
  std::vector<Check> all;
  for (auto part : {ops_checks, mle_checks, gmm_checks, dist_checks, model_checks}) {
    std::vector<Check> c = part();
    all.insert(all.end(), c.begin(), c.end());
  }
  return all;
}

namespace {

bool wanted(const Task& t, const std::vector<std::string>& selected) {
  if (selected.empty()) return true;
  for (const std::string& s : selected)
    if (s == t.id || s == std::to_string(part_of(t.id))) return true;
  return false;
}

TaskResult grade_task(const Task& t, const std::vector<Check>& checks, Hidden& hidden, bool regenerate) {
  // Every check runs the textbook path: the task regions hold the textbook code, and a fast path
  // beside a region (a fused op) would otherwise answer for a student's unwritten or wrong line.
  PathScope textbook_path(Path::textbook);
  TaskResult r{&t, 0, "ok", "", 0, 0};
  Checker c(hidden, regenerate);
  for (const Check& ch : checks) {
    if (ch.task != t.id) continue;
    ++r.checks;
    std::string failure;
    try {
      ch.run(c);
      ++r.passed;
      continue;
    } catch (const NotImplemented& e) {
      failure = e.what();
      if (r.status == "ok") r.status = "not written yet";
    } catch (const CheckFailure& e) {
      failure = e.what();
      if (r.status == "ok") r.status = "wrong";
    } catch (const std::exception& e) {
      failure = std::string("threw: ") + e.what();
      if (r.status == "ok") r.status = "error";
    }
    // a CheckFailure names the call and its input itself; the others get the check's name first
    const bool named = r.status == "wrong" && failure.rfind(ch.name, 0) != 0;
    if (r.message.empty()) r.message = (ch.visible ? "" : "hidden check: ") + (named ? "" : ch.name + ": ") + failure;
  }
  if (r.checks == 0) {
    r.status = "error";
    r.message = "task " + t.id + " has no checks (coursework/checks/)";
  }
  if (r.status == "ok") r.score = t.points;
  return r;
}

}  // namespace

std::vector<TaskResult> grade(const std::vector<std::string>& selected, Hidden& hidden, bool regenerate) {
  for (const std::string& s : selected) {
    bool any = false;
    for (const Task& t : tasks()) any = any || wanted(t, {s});
    if (!any) throw std::invalid_argument("grade: '" + s + "' is neither a task id (e.g. 6.1) nor a part (e.g. 6)");
  }
  const std::vector<Check> checks = all_checks();
  std::vector<TaskResult> out;
  for (const Task& t : tasks())
    if (wanted(t, selected)) out.push_back(grade_task(t, checks, hidden, regenerate));
  return out;
}

std::string report_text(const std::vector<TaskResult>& results) {
  std::string s;
  int total = 0, max = 0;
  for (const TaskResult& r : results) {
    s += fmt::format("task {:<5} {:>2}/{:<2}  {:<16} {}\n", r.task->id, r.score, r.task->points, r.status, r.task->title);
    if (!r.message.empty()) s += "            " + r.message + "\n";
    total += r.score;
    max += r.task->points;
  }
  s += "\nscore by part:\n";
  std::map<int, std::pair<int, int>> parts;
  for (const TaskResult& r : results) {
    auto& p = parts[part_of(r.task->id)];
    p.first += r.score;
    p.second += r.task->points;
  }
  for (const auto& [part, p] : parts) s += fmt::format("  part {}   {:>3}/{:<3}\n", part, p.first, p.second);
  s += fmt::format("total      {:>3}/{:<3}\n", total, max);
  return s;
}

namespace {
std::string json_string(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += static_cast<char>(c);
    else if (c == '\n') o += "\\n";
    else if (c < 0x20) o += fmt::format("\\u{:04x}", c);
    else o += static_cast<char>(c);
  }
  return o + "\"";
}
}  // namespace

std::string report_json(const std::vector<TaskResult>& results) {
  std::string s = "{\"tasks\": [";
  int total = 0, max = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const TaskResult& r = results[i];
    s += fmt::format("{}{{\"id\": {}, \"title\": {}, \"points\": {}, \"score\": {}, \"status\": {}, \"message\": {}}}",
                     i ? ", " : "", json_string(r.task->id), json_string(r.task->title), r.task->points, r.score,
                     json_string(r.status), json_string(r.message));
    total += r.score;
    max += r.task->points;
  }
  return s + fmt::format("], \"total\": {}, \"max\": {}}}", total, max);
}

}  // namespace tz::coursework
