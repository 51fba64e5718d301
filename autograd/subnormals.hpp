// tapezoo: subnormal floats flushed to zero in this thread while a guard lives, for the training
// steps (models/train.cpp). Why, and what it changes: docs/pitfalls.md#subnormals.
//
//   {
//     const tz::FlushSubnormals flush;   // this thread: results below 2⁻¹²⁶ become 0, and so do inputs
//     ... one training step ...
//   }                                    // the thread's previous mode again
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>  // _mm_getcsr, _mm_setcsr
#endif

namespace tz {

// On x86 the SSE/AVX control register MXCSR decides, per thread, for float and double alike: FTZ
// (bit 15) writes 0 where a result would be subnormal, DAZ (bit 6) reads a subnormal input as 0.
// OpenBLAS's kernels run in the calling thread (training uses one thread) and obey the same
// register. Elsewhere the guard does nothing and subnormals keep their IEEE meaning.
class FlushSubnormals {
 public:
  explicit FlushSubnormals(bool on = true) {
#if defined(__x86_64__) || defined(__i386__)
    saved_ = _mm_getcsr();
    if (on) _mm_setcsr(saved_ | kFtz | kDaz);
#else
    (void)on;
#endif
  }
  ~FlushSubnormals() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(saved_);
#endif
  }
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

  // Whether this thread flushes now (false where the guard does nothing).
  static bool active() {
#if defined(__x86_64__) || defined(__i386__)
    return (_mm_getcsr() & (kFtz | kDaz)) == (kFtz | kDaz);
#else
    return false;
#endif
  }

 private:
  static constexpr unsigned kFtz = 1u << 15, kDaz = 1u << 6;
  unsigned saved_ = 0;
};

}  // namespace tz
