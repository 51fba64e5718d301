// tapezoo: the one evaluation loop of the VAE family and the template. A bound of n test rows is
// summed over chunks of them, so that evaluating 10,000 images (or 100 importance samples of each)
// takes the memory of one chunk:
//
//   const auto [nelbo, kl, rec] = sum_over_chunks<T>(n, 500, [&](Tape<T>& tape, std::size_t b, std::size_t e) {
//     Bound bound = negative_elbo_bound(tape, tape.constant(rows_as<T>(x_test, b, e)), rng);
//     return std::array{bound.nelbo, bound.kl, bound.rec};   // each per example: [e − b]
//   });
//   // test_nelbo = nelbo / n, …
//
// Each term is summed in double (docs/pitfalls.md#double-accumulators), one row after another in
// the order of the rows: the sequence of additions is the same for every chunk size, so the sums
// are bit for bit the same whenever the per-row values are (tests/test_model_vae.cpp checks chunks
// of 1, 7 and n).
//
// With a generator, sum_over_chunks(n, chunk, rng, bound) spreads the chunks over the pool of
// --threads (autograd/parallel.hpp): chunk c gets its own tape and its own generator
// chunk_rng(seed, c), seed being one draw from rng, and the per-row values are added in row order
// once every chunk is done. The chunk size is the caller's constant, never derived from the thread
// count, so the sums are bit for bit the same for every --threads (tests/test_parallel.cpp).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include <fmt/format.h>

#include "autograd/parallel.hpp"
#include "autograd/random.hpp"
#include "autograd/tape.hpp"

namespace tz::models {

namespace detail {

// The per-example values of every term of one chunk [begin, end), each checked to hold end − begin.
template <class T, std::size_t N, class Terms>
std::array<std::vector<double>, N> chunk_values(const Terms& terms, std::size_t begin, std::size_t end) {
  std::array<std::vector<double>, N> out;
  for (std::size_t q = 0; q < N; ++q) {
    const Array<T>& v = terms[q].value();
    if (v.size() != end - begin)
      throw std::invalid_argument(fmt::format("sum_over_chunks: term {} has {} values for the {} rows [{}, {}): a "
                                              "bound must be per example", q, v.size(), end - begin, begin, end));
    out[q].assign(v.data(), v.data() + v.size());  // float → double, exactly
  }
  return out;
}

}  // namespace detail

// Σ_{i < n} term_q(x_i) for every term q of bound(tape, begin, end), which gives a std::array of
// per-example values [end − begin] for the rows [begin, end). The chunks [0, chunk), [chunk, 2·chunk),
// … cover [0, n); each runs on a cleared tape under a no-grad guard (docs/pitfalls.md#constants-and-no-grad).
template <class T, class F>
auto sum_over_chunks(std::size_t n, std::size_t chunk, F&& bound) {
  using Terms = std::remove_cvref_t<std::invoke_result_t<F&, Tape<T>&, std::size_t, std::size_t>>;
  constexpr std::size_t N = std::tuple_size_v<Terms>;
  if (chunk == 0) throw std::invalid_argument("sum_over_chunks: the chunk must hold at least one row");
  std::array<double, N> sums{};
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  for (std::size_t begin = 0; begin < n; begin += chunk) {
    const std::size_t end = std::min(n, begin + chunk);
    tape.clear();
    const auto values = detail::chunk_values<T, N>(bound(tape, begin, end), begin, end);
    for (std::size_t q = 0; q < N; ++q)
      for (double v : values[q]) sums[q] += v;
  }
  return sums;
}

// The same sums with the chunks on the pool: bound(tape, chunk_rng, begin, end), chunk_rng drawing
// only for the rows [begin, end). bound runs concurrently for different chunks: it may read the
// model's parameters but must not write to the model (draw ε into the chunk's own array).
template <class T, class F>
auto sum_over_chunks(std::size_t n, std::size_t chunk, Rng& rng, F&& bound) {
  using Terms = std::remove_cvref_t<std::invoke_result_t<F&, Tape<T>&, Rng&, std::size_t, std::size_t>>;
  constexpr std::size_t N = std::tuple_size_v<Terms>;
  if (chunk == 0) throw std::invalid_argument("sum_over_chunks: the chunk must hold at least one row");
  const std::uint64_t seed = rng.next_u64();
  std::vector<std::array<std::vector<double>, N>> values(chunk_count(n, chunk));
  parallel_for(values.size(), [&](std::size_t c) {
    const std::size_t begin = c * chunk, end = std::min(n, begin + chunk);
    Tape<T> tape;
    NoGrad<T> no_grad(tape);
    Rng chunk_generator = chunk_rng(seed, c);
    values[c] = detail::chunk_values<T, N>(bound(tape, chunk_generator, begin, end), begin, end);
  });
  std::array<double, N> sums{};
  for (const auto& chunk_terms : values)  // row order: chunk after chunk, row after row
    for (std::size_t q = 0; q < N; ++q)
      for (double v : chunk_terms[q]) sums[q] += v;
  return sums;
}

}  // namespace tz::models
