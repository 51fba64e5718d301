// tapezoo: raw cblas calls, kept in this one file (docs/pitfalls.md#linking-openblas).
#include "autograd/blas.hpp"

#include <cblas.h>

#include <atomic>
#include <cctype>
#include <cstdio>

extern "C" {
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int);
}

namespace tz::blas {

static CBLAS_TRANSPOSE flag(bool t) { return t ? CblasTrans : CblasNoTrans; }

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* A,
          std::size_t lda, const float* B, std::size_t ldb, float beta, float* C, std::size_t ldc) {
  cblas_sgemm(CblasRowMajor, flag(ta), flag(tb), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* A,
          std::size_t lda, const double* B, std::size_t ldb, double beta, double* C, std::size_t ldc) {
  cblas_dgemm(CblasRowMajor, flag(ta), flag(tb), static_cast<int>(m), static_cast<int>(n),
              static_cast<int>(k), alpha, A, static_cast<int>(lda), B, static_cast<int>(ldb), beta, C,
              static_cast<int>(ldc));
}

std::string core_name() {
  const char* s = openblas_get_corename();
  return s ? std::string(s) : std::string("unknown");
}

int threads() { return openblas_get_num_threads(); }
void set_threads(int n) { openblas_set_num_threads(n < 1 ? 1 : n); }

bool cpu_has_avx2() { return __builtin_cpu_supports("avx2"); }
bool cpu_has_avx512() { return __builtin_cpu_supports("avx512f"); }

std::string kernel_hint() {
  std::string core = core_name();
  for (auto& c : core) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (core != "prescott") return "";
  if (cpu_has_avx512())
    return "hint: OpenBLAS runs its generic 'Prescott' kernels on this AVX-512 CPU; "
           "OPENBLAS_CORETYPE=SkylakeX makes matrix products about 4x faster";
  if (cpu_has_avx2())
    return "hint: OpenBLAS runs its generic 'Prescott' kernels on this AVX2 CPU; "
           "OPENBLAS_CORETYPE=Haswell makes matrix products several times faster";
  return "";
}

void print_kernel_hint_once() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  const std::string h = kernel_hint();
  if (!h.empty()) std::fprintf(stderr, "%s\n", h.c_str());
}

}  // namespace tz::blas
