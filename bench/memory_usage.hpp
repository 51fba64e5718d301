// tapezoo: how much memory the process holds right now, for bench/tape_overhead --memory-steps and
// tests/test_memory.cpp (memory must stay flat over training steps: docs/pitfalls.md#flat-memory). Linux and glibc.
#pragma once

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace tz::bench {

// Current resident set size in bytes: the second field of /proc/self/statm, in pages (not the peak).
// -1 if it cannot be read.
inline long current_rss_bytes() {
  long size = 0, resident = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  const int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

// Bytes the program holds from malloc right now (glibc: arena in use + mmapped blocks; xtensor's
// aligned allocator goes through malloc too). Unlike RSS it does not depend on when freed pages go
// back to the system, so a leak shows as any growth.
inline long heap_in_use_bytes() {
  const struct mallinfo2 mi = mallinfo2();
  return static_cast<long>(mi.uordblks + mi.hblkhd);
}

}  // namespace tz::bench
