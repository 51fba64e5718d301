// The one file that defines doctest's main (PITFALLS 27).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
