// tapezoo: the thin layer over BLAS (OpenBLAS). Row-major gemm with transposes passed as flags,
// never as copies (docs/pitfalls.md#blas-transposes), plus OpenBLAS's thread count and kernel name.
// Raw cblas lives in blas.cpp alone: <cblas.h> and xtensor-blas clash in one file (docs/pitfalls.md#linking-openblas).
#pragma once

#include <cstddef>
#include <string>

namespace tz::blas {

// C = alpha·op(A)·op(B) + beta·C, all row-major; op(X) = Xᵀ when trans_x. op(A) is m×k,
// op(B) is k×n, C is m×n. lda/ldb/ldc are the row strides of A, B, C as stored.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc);
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* A, std::size_t lda, const double* B, std::size_t ldb, double beta, double* C,
          std::size_t ldc);

// OpenBLAS's name for the kernels it chose ("SkylakeX", "Haswell", "Prescott", …).
std::string core_name();
int threads();
void set_threads(int n);

// OpenBLAS at n threads while it lives; the count before it is restored when it goes, even by an
// exception (train()'s steps: docs/threads.md#training).
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : before_(threads()) { set_threads(n); }
  ~ScopedThreads() { set_threads(before_); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int before_;
};

// The CPU's own SIMD level, from cpuid.
bool cpu_has_avx2();
bool cpu_has_avx512();

// A one-line hint when OpenBLAS runs its generic 'Prescott' kernels on a CPU with AVX2 or
// AVX-512 (OpenBLAS 0.3.21 does not know newer Xeons: docs/pitfalls.md#openblas-kernels); empty otherwise.
std::string kernel_hint();
// Prints kernel_hint() to stderr once per process, if there is one.
void print_kernel_hint_once();

}  // namespace tz::blas
