// bench/zoo_floor.hpp: bench/zoo_step's GEMM floor, every matrix product of one recorded step
// replayed on buffers of its own (GemmFloor), and the products of a normal_pairs or normal_mix node
// (autograd/ops_fused_zoo.cpp) in it. z [n, d] against K components,
// with zc = [z̃², z̃] [n, 2d] and mc = [1/v, −2m̃/v] [K, 2d] the op's own scratch:
//   forward  y [n, K] += −½ zc @ mcᵀ        (normal_mix: its table L, scratch too)
//   backward the same product again          (normal_mix only, and only when another normal_mix
//                                             was recorded after it: the last one's backward finds
//                                             its forward's table still there)
//            S [K, 2d] = Gᵀ @ zc            when m or v wants a gradient,
//            H [n, 2d] = G @ [1/v, m̃/v]     when z does,
// in the sweep's order. Every operand gets a buffer of its own, keyed inside the node.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "autograd/blas.hpp"
#include "autograd/tape.hpp"

namespace tz::bench {

// Gemm is zoo_step's {ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc}; buffers its map from a key to
// a buffer (filled with 0.01, as zoo_step's own).
template <class Gemm>
void normal_pairs_floor(const Tape<float>& tape, std::uint32_t i, std::vector<Gemm>& forward,
                        std::vector<Gemm>& backward, std::map<const void*, std::vector<float>>& buffers) {
  auto buffer = [&](const void* key, std::size_t size) {
    std::vector<float>& b = buffers[key];
    if (b.size() < size) b.assign(size, 0.01f);
    return b.data();
  };
  const Node<float>& nd = tape.node(i);
  const std::size_t n = tape.val(nd.in[0]).shape()[0], d2 = 2 * tape.val(nd.in[0]).shape()[1];
  const std::size_t K = tape.val(nd.in[1]).shape()[0];
  const char* key = reinterpret_cast<const char*>(&nd.saved);
  float* zc = buffer(key, n * d2);
  float* mc = buffer(key + 1, K * d2);
  float* G = buffer(key + 5, n * K);  // gy, or normal_mix's gy_i·r_ik (scratch)
  float* y = buffer(key + 4, n * K);  // normal_pairs' value, or normal_mix's table L (scratch)
  forward.push_back({false, true, n, K, d2, zc, d2, mc, d2, 1.0f, y, K});
  std::vector<Gemm> back;
  bool later_mix = false;
  for (std::uint32_t j = i + 1; j < tape.size(); ++j) later_mix = later_mix || tape.node(j).op == Op::normal_mix;
  if (nd.op == Op::normal_mix && later_mix) back.push_back(forward.back());  // its backward takes L again
  if (tape.wants_grad(nd.in[1]) || tape.wants_grad(nd.in[2]))
    back.push_back({true, false, K, d2, n, G, K, zc, d2, 0.0f, buffer(key + 2, K * d2), d2});
  if (tape.wants_grad(nd.in[0]))
    back.push_back({false, false, n, d2, K, G, K, mc, d2, 0.0f, buffer(key + 3, n * d2), d2});
  backward.insert(backward.begin(), back.begin(), back.end());
}

// The median of v, the mean of the middle two for an even count.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The ops whose nodes call gemm (normal_pairs and normal_mix: normal_pairs_floor above).
inline bool is_product(Op op) {
  return op == Op::matmul || op == Op::linear || op == Op::linear_elu || op == Op::onehot_elu;
}

// ---- the GEMM floor, read off a recorded tape ------------------------------------------------------

// Every product of one step (forward in tape order, then the backward sweep's in reverse order), on
// buffers of their own: one per node value and one per gradient, shared wherever the tape shares them.
class GemmFloor {
 public:
  explicit GemmFloor(const Tape<float>& tape) {
    // The sweep's first contribution to a non-parameter gradient overwrites it (beta = 0): it comes
    // from the last node that reads it (Tape::grad_dest). Parameter gradients always accumulate.
    std::vector<std::uint32_t> last_reader(tape.size(), 0);
    for (std::uint32_t i = 0; i < tape.size(); ++i)
      for (std::uint32_t in : tape.node(i).in) last_reader[in] = i;
    auto beta = [&](std::uint32_t id, std::uint32_t reader) {
      return tape.node(id).param || last_reader[id] != reader ? 1.0f : 0.0f;
    };
    std::vector<Gemm> backward;
    for (std::uint32_t i = 0; i < tape.size(); ++i) {
      const Node<float>& nd = tape.node(i);
      if (nd.op == Op::normal_pairs || nd.op == Op::normal_mix) normal_pairs_floor(tape, i, gemms_, backward, buffers_);
      if (!is_product(nd.op) || nd.in.size() < 2) continue;  // a product of constants has no inputs
      const std::uint32_t a = nd.in[0], b = nd.in[1];
      const auto& sa = tape.val(a).shape();
      const std::size_t m = sa[0], k = sa[1], n = tape.val(b).shape()[1];
      float* A = value(tape, a);
      float* B = value(tape, b);
      float* gy = grad(tape, i);
      // y [m,n] = a [m,k] @ b [k,n]; linear's bias is written first and the product added (beta = 1)
      gemms_.push_back({false, false, m, n, k, A, k, B, n, nd.op == Op::matmul ? 0.0f : 1.0f, value(tape, i), n});
      std::vector<Gemm> back;
      if (tape.wants_grad(a))  // ga [m,k] += gy @ bᵀ
        back.push_back({false, true, m, k, n, gy, n, B, n, beta(a, i), grad(tape, a), k});
      if (tape.wants_grad(b))  // gb [k,n] += aᵀ @ gy
        back.push_back({true, false, k, n, m, A, k, gy, n, beta(b, i), grad(tape, b), n});
      backward.insert(backward.begin(), back.begin(), back.end());  // the sweep runs in reverse
    }
    forward_count_ = gemms_.size();
    gemms_.insert(gemms_.end(), backward.begin(), backward.end());
  }

  void run() {
    for (const Gemm& g : gemms_)
      tz::blas::gemm(g.ta, g.tb, g.m, g.n, g.k, 1.0f, g.A, g.lda, g.B, g.ldb, g.beta, g.C, g.ldc);
  }
  std::size_t count() const { return gemms_.size(); }

  // Each product called alone `reps` times on its buffers, in the floor's order: its median ms.
  struct Timed {
    bool backward, ta, tb;
    std::size_t m, n, k;
    float beta;
    double ms;
  };
  template <class Clock>
  std::vector<Timed> time_each(const Clock& now, int reps) {
    std::vector<Timed> out;
    for (std::size_t i = 0; i < gemms_.size(); ++i) {
      const Gemm& g = gemms_[i];
      std::vector<double> ms;
      for (int r = 0; r < reps; ++r) {
        const double t0 = now();
        tz::blas::gemm(g.ta, g.tb, g.m, g.n, g.k, 1.0f, g.A, g.lda, g.B, g.ldb, g.beta, g.C, g.ldc);
        ms.push_back(now() - t0);
      }
      out.push_back({i >= forward_count_, g.ta, g.tb, g.m, g.n, g.k, g.beta, median(ms)});
    }
    return out;
  }
  double mflop() const {  // 2·m·n·k each
    double f = 0;
    for (const Gemm& g : gemms_) f += 2e-6 * static_cast<double>(g.m * g.n * g.k);
    return f;
  }

 private:
  struct Gemm {  // C = op(A) op(B) + beta·C, in tz::blas::gemm's terms
    bool ta, tb;
    std::size_t m, n, k;
    const float *A;  std::size_t lda;
    const float *B;  std::size_t ldb;
    float beta;
    float *C;  std::size_t ldc;
  };
  float* buffer(const void* key, std::size_t size) {
    std::vector<float>& b = buffers_[key];
    if (b.size() < size) b.assign(size, 0.01f);  // small values: no denormals, no overflow over the rounds
    return b.data();
  }
  float* value(const Tape<float>& t, std::uint32_t id) { return buffer(&t.val(id), t.val(id).size()); }
  float* grad(const Tape<float>& t, std::uint32_t id) {
    const Node<float>& nd = t.node(id);
    return buffer(nd.param ? static_cast<const void*>(nd.param) : static_cast<const void*>(&nd.grad), t.val(id).size());
  }
  std::map<const void*, std::vector<float>> buffers_;
  std::vector<Gemm> gemms_;
  std::size_t forward_count_ = 0;
};

}  // namespace tz::bench
