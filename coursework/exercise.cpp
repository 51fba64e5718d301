// tapezoo coursework: the exerciser (coursework/exercise.hpp): marker parser, stub rewriter, and the
// writer of the student copy.
#include "coursework/exercise.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "coursework/tasks.hpp"

namespace fs = std::filesystem;

namespace tz::coursework {

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string line;
  std::istringstream in(text);
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string trimmed(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

std::string indent_of(const std::string& s) { return s.substr(0, s.find_first_not_of(" \t")); }

std::string where(const std::string& file, std::size_t line) { return file + ":" + std::to_string(line) + ": "; }

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

bool is_end(const std::string& t) { return t == "// END TASK"; }
bool is_open(const std::string& t) { return t.rfind("// TASK ", 0) == 0 || t == "// TASK"; }

// The table row must name this region: its function, in this file.
void check_against_table(const Region& r) {
  const Task* task = find_task(r.id);
  if (!task)
    throw MarkerError(where(r.file, r.begin) + "TASK " + r.id + " is not in the task table (coursework/tasks.cpp)");
  for (std::size_t i = 0; i < task->functions.size(); ++i)
    if (task->functions[i] == r.function && task->files[i] == r.file) return;
  throw MarkerError(where(r.file, r.begin) + "TASK " + r.id + " " + r.function + ": the table row of task " + r.id +
                    " names the function(s) " + joined(task->functions) + " in " + joined(task->files) +
                    ", not " + r.function + " in " + r.file);
}

}  // namespace

bool scanned_for_markers(const std::string& file) {
  const bool cxx = file.ends_with(".cpp") || file.ends_with(".hpp");
  return cxx && !file.starts_with("coursework/") && file != "tests/test_coursework.cpp";
}

std::vector<Region> parse_regions(const std::string& file, const std::string& text) {
  static const std::regex open(R"(// TASK ([0-9]+\.[0-9]+) ([A-Za-z_][A-Za-z0-9_]*): \S.*)");
  std::vector<Region> out;
  const std::vector<std::string> lines = split_lines(text);
  bool inside = false;
  Region cur;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string t = trimmed(lines[i]);
    const std::size_t line = i + 1;
    if (is_end(t)) {
      if (!inside) throw MarkerError(where(file, line) + "// END TASK with no // TASK open above it");
      cur.end = line;
      out.push_back(cur);
      inside = false;
    } else if (is_open(t)) {
      std::smatch m;
      if (!std::regex_match(t, m, open))
        throw MarkerError(where(file, line) + "malformed marker '" + t +
                          "': expected // TASK <part.n> <function>: <what to write>");
      if (inside)
        throw MarkerError(where(file, line) + "TASK " + m[1].str() + " opens inside TASK " + cur.id + " (opened at line " +
                          std::to_string(cur.begin) + "): close that one with // END TASK first");
      cur = Region{file, m[1].str(), m[2].str(), line, 0};
      check_against_table(cur);
      inside = true;
    }
  }
  if (inside)
    throw MarkerError(where(file, cur.begin) + "TASK " + cur.id + " " + cur.function +
                      " is never closed: add // END TASK after its code");
  return out;
}

std::string stub_text(const std::string& file, const std::string& text, int upto) {
  const std::vector<Region> regions = parse_regions(file, text);
  const std::vector<std::string> lines = split_lines(text);
  std::vector<std::string> out;
  bool stubbed_any = false;
  std::size_t next = 0;  // the next region
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (next < regions.size() && i + 1 == regions[next].begin) {
      const Region& r = regions[next++];
      if (part_of(r.id) <= upto) {  // handed out solved: copied as it is
        for (; i + 1 <= r.end; ++i) out.push_back(lines[i]);
        --i;
        continue;
      }
      const std::string stub = "throw ::tz::NotImplemented(\"" + r.id + "\", \"" + r.function + "\", \"" + file + "\");";
      out.push_back(lines[i]);  // the marker and its formula
      bool thrown = false;
      for (++i; i + 1 < r.end; ++i) {
        const std::string t = trimmed(lines[i]);
        if (t.rfind("//", 0) == 0) {
          out.push_back(lines[i]);  // comment lines are the derivation: kept
        } else if (!t.empty() && !thrown) {
          out.push_back(indent_of(lines[i]) + stub);
          thrown = true;
        }
      }
      if (!thrown) out.push_back(indent_of(lines[r.begin - 1]) + stub);
      out.push_back(lines[i]);  // // END TASK
      stubbed_any = true;
      continue;
    }
    out.push_back(lines[i]);
  }
  if (stubbed_any) {
    auto first_include = std::find_if(out.begin(), out.end(), [](const std::string& l) { return l.rfind("#include", 0) == 0; });
    if (first_include == out.end())
      throw MarkerError(file + ": has task regions but no #include line to add coursework/not_implemented.hpp above");
    out.insert(first_include, "#include \"coursework/not_implemented.hpp\"  // the stubs' exception");
  }
  std::string result;
  for (const std::string& l : out) result += l + "\n";
  if (!text.empty() && text.back() != '\n') result.pop_back();
  return result;
}

namespace {

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("exercise: cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::vector<std::string> tracked_files(const std::string& root) {
  FILE* p = popen(("git -C " + shell_quote(root) + " ls-files -z --cached --others --exclude-standard").c_str(), "r");
  if (!p) throw std::runtime_error("exercise: cannot run git ls-files in " + root);
  std::vector<std::string> files;
  std::string cur;
  for (int c; (c = std::fgetc(p)) != EOF;) {
    if (c == 0) {
      files.push_back(cur);
      cur.clear();
    } else {
      cur += static_cast<char>(c);
    }
  }
  if (pclose(p) != 0 || files.empty())
    throw std::runtime_error("exercise: `git ls-files` failed in " + root + " (the project must be a git checkout)");
  return files;
}

// Writes text to dir/file when it differs from what is there (so ninja rebuilds only what changed).
bool write_if_changed(const fs::path& dst, const std::string& text, fs::perms perms) {
  if (fs::exists(dst) && read_all(dst) == text) return false;
  fs::create_directories(dst.parent_path());
  std::ofstream(dst, std::ios::binary | std::ios::trunc) << text;
  fs::permissions(dst, perms);
  return true;
}

// Every (task, function, file) of the table has its region, and every task has at least one.
void check_table_covered(const std::vector<Region>& regions) {
  std::set<std::string> seen;
  for (const Region& r : regions) seen.insert(r.id + " " + r.function + " " + r.file);
  for (const Task& t : tasks())
    for (std::size_t i = 0; i < t.functions.size(); ++i)
      if (!seen.count(t.id + " " + t.functions[i] + " " + t.files[i]))
        throw MarkerError("task " + t.id + ": the table names " + t.functions[i] + " in " + t.files[i] +
                          ", but that file has no // TASK " + t.id + " " + t.functions[i] + ": region");
}

}  // namespace

ExerciseReport write_exercise(const ExerciseOptions& o) {
  const fs::path dir(o.dir), root(o.root);
  if (fs::exists(dir) && !o.update && !fs::is_empty(dir))
    throw std::runtime_error("exercise new: " + o.dir + " exists and is not empty (use --update to regenerate it in place)");
  if (o.update && !fs::is_directory(dir))
    throw std::runtime_error("exercise new --update: " + o.dir + " is not a folder written by exercise new");
  ExerciseReport rep;
  std::vector<Region> all;
  for (const std::string& f : tracked_files(o.root)) {
    const fs::path src = root / f;
    if (fs::is_symlink(src) || !fs::is_regular_file(src)) continue;
    std::string text = read_all(src);
    if (scanned_for_markers(f)) {
      const std::vector<Region> rs = parse_regions(f, text);
      for (const Region& r : rs) (part_of(r.id) <= o.upto ? rep.solved_regions : rep.stubbed_regions) += 1;
      all.insert(all.end(), rs.begin(), rs.end());
      if (!rs.empty()) text = stub_text(f, text, o.upto);
    }
    if (f == "README.md") text = read_all(root / "coursework" / "README.student.md") + "\n" + text;
    ++rep.files;
    rep.written += write_if_changed(dir / f, text, fs::status(src).permissions());
  }
  check_table_covered(all);
  if (!o.update) {
    const std::string q = shell_quote(o.dir);
    const std::string cmd = "git -C " + q + " init -q && git -C " + q + " add -A && git -C " + q +
                            " -c user.name=tapezoo -c user.email=tapezoo@localhost commit -q -m " +
                            shell_quote("coursework: tasks of parts > " + std::to_string(o.upto) + " to write");
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("exercise new: git init/commit failed in " + o.dir);
  }
  return rep;
}

}  // namespace tz::coursework
