#include "autograd/path.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace tz {

namespace {

Path from_environment() {
  const char* v = std::getenv("TAPEZOO_TEXTBOOK");
  return v != nullptr && std::strcmp(v, "1") == 0 ? Path::textbook : Path::fast;
}

// Initialised on first use, so that the environment is read before main's flags can override it.
std::atomic<Path>& current() {
  static std::atomic<Path> p{from_environment()};
  return p;
}

}  // namespace

Path path() { return current().load(std::memory_order_relaxed); }
void set_path(Path p) { current().store(p, std::memory_order_relaxed); }
const char* to_string(Path p) { return p == Path::textbook ? "textbook" : "fast"; }

}  // namespace tz
