// tapezoo coursework: the exerciser (coursework/exercise.hpp): marker parser, stub rewriter, and the
// writer of the student copy.
#include "coursework/exercise.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
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

bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The text with every comment and string or character literal blanked (newlines kept, so offsets
// and lines stay those of the text): what is left are the code's own braces, parentheses and names.
std::string code_only(const std::string& s) {
  std::string c = s;
  const auto npos = std::string::npos;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t end = npos;
    if (s.compare(i, 2, "//") == 0) {
      end = s.find('\n', i);
    } else if (s.compare(i, 2, "/*") == 0) {
      end = s.find("*/", i + 2);
      if (end != npos) end += 2;
    } else if (s.compare(i, 2, "R\"") == 0 && (i == 0 || !ident_char(s[i - 1]))) {
      const std::size_t open = s.find('(', i);
      std::string close = ")";  // )delim"   (appended, not ")" + …: g++ 12's -Wrestrict misfires on that)
      if (open != npos) close.append(s, i + 2, open - i - 2).push_back('"');
      end = open == npos ? npos : s.find(close, open);
      if (end != npos) end += close.size();
    } else if (s[i] == '"' || (s[i] == '\'' && (i == 0 || !ident_char(s[i - 1])))) {  // 1'000 is a number
      for (end = i + 1; end < s.size() && s[end] != s[i] && s[end] != '\n';) end += s[end] == '\\' ? 2 : 1;
      ++end;
    } else {
      ++i;
      continue;
    }
    end = std::min(end, s.size());
    for (; i < end; ++i)
      if (c[i] != '\n') c[i] = ' ';
  }
  return c;
}

// The offset of the bracket that matches the one at `at` in code, searching forward for an opening
// one and backward for a closing one; npos when there is none.
std::size_t matching(const std::string& code, std::size_t at) {
  const char a = code[at];
  const bool forward = a == '(' || a == '{';
  const char b = a == '(' ? ')' : a == ')' ? '(' : a == '{' ? '}' : '{';
  int depth = 0;
  for (std::size_t i = at; i < code.size(); forward ? ++i : --i) {
    depth += code[i] == a ? 1 : code[i] == b ? -1 : 0;
    if (depth == 0) return i;
    if (!forward && i == 0) break;
  }
  return std::string::npos;
}

// The named parameters of a parameter list `int a, const Var<T>& b = {}, Node<T>&`: {a, b}.
std::vector<std::string> parameter_names(const std::string& list) {
  static const std::regex last_name(R"(([A-Za-z_][A-Za-z0-9_]*)\s*$)");
  static const std::set<std::string> type_words = {"int", "long", "short", "unsigned", "signed", "char",
                                                   "double", "float", "bool", "auto", "const", "void"};
  std::vector<std::string> names, params(1);
  int depth = 0;
  for (char c : list) {
    depth += (c == '(' || c == '<' || c == '[' || c == '{') ? 1 : (c == ')' || c == '>' || c == ']' || c == '}') ? -1 : 0;
    if (c == ',' && depth == 0) params.emplace_back();
    else params.back() += c;
  }
  for (std::string p : params) {
    p = p.substr(0, p.find('='));  // a default argument
    std::smatch m;
    if (!std::regex_search(p, m, last_name)) continue;  // `Node<T>&`, `...`: unnamed
    const std::string type = trimmed(m.prefix().str());
    if (!type.empty() && type.back() != ':' && !type_words.count(m[1].str())) names.push_back(m[1].str());
  }
  return names;
}

// Whether `name` is used in code: as a word, not as a member (.name, ->name) or qualified (::name).
bool uses(const std::string& code, const std::string& name) {
  for (std::size_t i = code.find(name); i != std::string::npos; i = code.find(name, i + 1)) {
    if ((i > 0 && ident_char(code[i - 1])) || (i + name.size() < code.size() && ident_char(code[i + name.size()])))
      continue;
    std::size_t b = i;
    while (b > 0 && (code[b - 1] == ' ' || code[b - 1] == '\n')) --b;
    if (b > 0 && (code[b - 1] == '.' || (b > 1 && (code.compare(b - 2, 2, "->") == 0 || code.compare(b - 2, 2, "::") == 0))))
      continue;
    return true;
  }
  return false;
}

// The parameters of the function (or lambda) around the code at [from, to) of `code` that it
// uses nowhere else: once that code is a stub, the compiler would call them unused. A region in
// an if/for/while/switch block looks at the function around that block. Empty when the block
// around is no function (a struct, a namespace, a constructor's member initializers).
std::vector<std::string> unused_parameters(const std::string& code, std::size_t from, std::size_t to) {
  static const std::regex qualifiers(R"(\s*((const|noexcept|override|final|mutable)\s*)*(->[^;{}()]*)?)");
  static const std::set<std::string> control = {"if", "for", "while", "switch", "catch"};
  for (std::size_t at = from; at > 0;) {
    std::size_t open = std::string::npos;  // the innermost unclosed { before at
    for (std::size_t i = at, depth = 0; i-- > 0;) {
      if (code[i] == '}') ++depth;
      if (code[i] == '{' && depth-- == 0) {
        open = i;
        break;
      }
    }
    if (open == std::string::npos) return {};
    const std::size_t close_paren = code.find_last_of(')', open);
    if (close_paren == std::string::npos || !std::regex_match(code.substr(close_paren + 1, open - close_paren - 1), qualifiers))
      return {};
    const std::size_t open_paren = matching(code, close_paren);
    if (open_paren == std::string::npos) return {};
    std::size_t w = open_paren;
    while (w > 0 && code[w - 1] == ' ') --w;
    std::size_t ws = w;
    while (ws > 0 && ident_char(code[ws - 1])) --ws;
    if (control.count(code.substr(ws, w - ws))) {  // a block in the function: look further out
      at = ws;
      continue;
    }
    std::size_t before = ws;
    while (before > 0 && (code[before - 1] == ' ' || code[before - 1] == '\n')) --before;
    if (before > 0 && ws < w && (code[before - 1] == ',' || (code[before - 1] == ':' && (before < 2 || code[before - 2] != ':'))))
      return {};  // a member initializer's parentheses, not the parameter list
    const std::size_t close = matching(code, open);
    const std::string rest = code.substr(open + 1, from - open - 1) +
                             (close == std::string::npos || close < to ? "" : code.substr(to, close - to));
    std::vector<std::string> out;
    for (const std::string& p : parameter_names(code.substr(open_paren + 1, close_paren - open_paren - 1)))
      if (!uses(rest, p)) out.push_back(p);
    return out;
  }
  return {};
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
  std::string code;                 // code_only(text), made at the first stub
  std::vector<std::size_t> line_at;  // its offset of each line, and its size
  std::size_t next = 0;  // the next region
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (next < regions.size() && i + 1 == regions[next].begin) {
      const Region& r = regions[next++];
      if (part_of(r.id) <= upto) {  // handed out solved: copied as it is
        for (; i + 1 <= r.end; ++i) out.push_back(lines[i]);
        --i;
        continue;
      }
      // The marker, then every comment line of the region (the derivation, at the marker's
      // indentation), then the parameters the stub leaves unused, then the throw: the student
      // reads the formulas before the line to replace.
      const std::string indent = indent_of(lines[i]);
      out.push_back(lines[i]);
      for (++i; i + 1 < r.end; ++i) {
        const std::string t = trimmed(lines[i]);
        if (t.rfind("//", 0) == 0) out.push_back(indent + t);
      }
      if (code.empty()) {
        code = code_only(text);
        for (std::size_t k = 0, at = 0; k < lines.size(); ++k, at = code.find('\n', at) + 1) line_at.push_back(at);
        line_at.push_back(code.size());
      }
      std::string unused;
      for (const std::string& p : unused_parameters(code, line_at[r.begin - 1], line_at[r.end]))
        unused += (unused.empty() ? "(void)" : ", (void)") + p;
      if (!unused.empty()) out.push_back(indent + unused + ";  // unused by the stub: delete this line with the throw");
      out.push_back(indent + "throw ::tz::NotImplemented(\"" + r.id + "\", \"" + r.function + "\", \"" + file + "\");");
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
