// bench/zoo_floor.hpp: the matrix products of a normal_pairs or normal_mix node
// (autograd/ops_fused_zoo.cpp), for bench/zoo_step's GEMM floor. z [n, d] against K components,
// with zc = [z̃², z̃] [n, 2d] and mc = [1/v, −2m̃/v] [K, 2d] the op's own scratch:
//   forward  y [n, K] += −½ zc @ mcᵀ        (normal_mix: its table L, scratch too)
//   backward the same product again          (normal_mix only, and only when another normal_mix
//                                             was recorded after it: the last one's backward finds
//                                             its forward's table still there)
//            S [K, 2d] = Gᵀ @ zc            when m or v wants a gradient,
//            H [n, 2d] = G @ [1/v, m̃/v]     when z does,
// in the sweep's order. Every operand gets a buffer of its own, keyed inside the node.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

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

}  // namespace tz::bench
