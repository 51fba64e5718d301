// The one file that defines doctest's main (docs/pitfalls.md#doctest-main).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
