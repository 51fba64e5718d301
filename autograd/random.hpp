// tapezoo: one seeded random generator, passed explicitly (docs/pitfalls.md#random-is-global: xt::random is lazy and global).
//
//   Rng rng(42);
//   auto eps = rng.normal<float>({100, 10});   // a container, drawn once
//   size_t k = rng.categorical(weights);
//
// The bit generator is xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64, and written
// here so that the same seed gives the same numbers on every machine and standard library.
// Normals use the Box-Muller transform; uniforms take the top 53 bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>
#ifdef XTENSOR_USE_XSIMD
#include <xsimd/xsimd.hpp>
#endif

namespace tz {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t x = seed;
    for (auto& s : s_) s = splitmix64(x);
    has_spare_ = false;
  }

  // Everything that decides the numbers still to come: the four xoshiro words and the second
  // Box-Muller value kept for the next normal(). A checkpoint stores it, so a resumed run draws
  // exactly what the uninterrupted one would have.
  struct State {
    std::uint64_t words[4];
    bool has_spare;
    double spare;
  };
  State state() const { return {{s_[0], s_[1], s_[2], s_[3]}, has_spare_, spare_}; }
  void set_state(const State& st) {
    for (int i = 0; i < 4; ++i) s_[i] = st.words[i];
    has_spare_ = st.has_spare;
    spare_ = st.has_spare ? st.spare : 0;
  }

  // Raw 64 random bits (xoshiro256**).
  std::uint64_t next_u64() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // U[0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // N(0, 1) by Box-Muller; the second value of each pair is kept for the next call.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double theta = 2.0 * M_PI * u2;
    spare_ = r * std::sin(theta);
    has_spare_ = true;
    return r * std::cos(theta);
  }
  double normal(double mean, double std) { return mean + std * normal(); }

  // Uniform integer in [0, n).
  std::size_t below(std::size_t n) {
    if (n == 0) throw std::invalid_argument("Rng::below: n must be positive");
    // Lemire's nearly-divisionless method would be faster; rejection keeps it exact and simple.
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t x;
    do x = next_u64();
    while (x >= limit);
    return static_cast<std::size_t>(x % n);
  }

  bool bernoulli(double p) { return uniform() < p; }

  // Index k with probability w_k / Σ w (weights need not be normalised).
  template <class Weights>
  std::size_t categorical(const Weights& w) {
    double total = 0;
    for (auto v : w) {
      if (!(v >= 0)) throw std::invalid_argument("Rng::categorical: weights must be >= 0 and not NaN");
      total += static_cast<double>(v);
    }
    if (!(total > 0)) throw std::invalid_argument("Rng::categorical: weights sum to zero");
    double u = uniform() * total;
    std::size_t k = 0, last = 0;
    for (auto v : w) {
      if (v > 0) last = k;
      u -= static_cast<double>(v);
      if (u < 0) return k;
      ++k;
    }
    return last;  // rounding left u >= 0: take the last nonzero weight
  }

  // A uniformly random permutation of 0..n-1 (Fisher-Yates).
  std::vector<std::size_t> permutation(std::size_t n) {
    std::vector<std::size_t> p(n);
    std::iota(p.begin(), p.end(), std::size_t{0});
    for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[below(i)]);
    return p;
  }

  // Containers filled once (never lazy).
  template <class T>
  xt::xarray<T> normal(const std::vector<std::size_t>& shape, T mean = 0, T std = 1) {
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    fill_normal(a, mean, std);
    return a;
  }
  template <class T>
  xt::xarray<T> uniform(const std::vector<std::size_t>& shape, T lo = 0, T hi = 1) {
    xt::xarray<T> a = xt::xarray<T>::from_shape(shape);
    fill_uniform(a, lo, hi);
    return a;
  }
  // x_i ~ Bernoulli(p_i), elementwise; the result has p's shape and holds 0 or 1.
  template <class E>
  auto bernoulli(const E& p) {
    using T = typename E::value_type;
    xt::xarray<T> a = xt::xarray<T>::from_shape(p.shape());
    auto it = p.begin();
    for (auto& v : a) v = uniform() < static_cast<double>(*it++) ? T(1) : T(0);
    return a;
  }

  // a_i = mean + std·N(0, 1), the draws in normal()'s order. For float (training's ε) the pairs are
  // drawn the same way, a block at a time, and transformed together (box_muller below): the same
  // numbers, since only the rounding of log, cos and sin in double can differ, far below float's.
  template <class A>
  void fill_normal(A& a, typename A::value_type mean = 0, typename A::value_type std = 1) {
    using T = typename A::value_type;
    if constexpr (std::is_same_v<T, float>) {
      fill_normal_float(a.data(), a.size(), mean, std);
    } else {
      for (auto& v : a) v = static_cast<T>(mean + std * normal());
    }
  }
  template <class A>
  void fill_uniform(A& a, typename A::value_type lo = 0, typename A::value_type hi = 1) {
    for (auto& v : a) v = static_cast<typename A::value_type>(uniform(lo, hi));
  }

 private:
  // normal()'s draws for n values: the kept value first, then pairs (u1 > 0, u2), the block's pairs
  // drawn one after another as normal() would draw them and then transformed at once; an odd n keeps
  // the last pair's second value for the next normal().
  void fill_normal_float(float* out, std::size_t n, float mean, float std) {
    std::size_t i = 0;
    if (n > 0 && has_spare_) {
      out[i++] = static_cast<float>(mean + std * spare_);
      has_spare_ = false;
    }
    constexpr std::size_t kBlock = 256;  // pairs: four 2 KiB arrays on the stack
    double u1[kBlock], u2[kBlock], c[kBlock], s[kBlock];
    while (i < n) {
      const std::size_t pairs = std::min(kBlock, (n - i + 1) / 2);
      for (std::size_t p = 0; p < pairs; ++p) {
        double u = uniform();
        while (u <= 0.0) u = uniform();
        u1[p] = u;
        u2[p] = uniform();
      }
      box_muller(u1, u2, c, s, pairs);
      for (std::size_t p = 0; p < pairs; ++p) {
        out[i++] = static_cast<float>(mean + std * c[p]);
        if (i < n) {
          out[i++] = static_cast<float>(mean + std * s[p]);
        } else {  // kept as a double: the scalar formulas, so that it is normal()'s value to the bit
          spare_ = std::sqrt(-2.0 * std::log(u1[p])) * std::sin(2.0 * M_PI * u2[p]);
          has_spare_ = true;
        }
      }
    }
  }

  // r = √(−2 log u1), θ = 2π u2:  c = r cos θ, s = r sin θ, normal()'s formulas, in xsimd's batches
  // of doubles where the build has them (log, sin and cos there round within an ulp or two of libm's).
  static void box_muller(const double* u1, const double* u2, double* c, double* s, std::size_t n) {
    std::size_t p = 0;
#ifdef XTENSOR_USE_XSIMD
    using B = xsimd::batch<double>;
    for (; p + B::size <= n; p += B::size) {
      const B r = xsimd::sqrt(B(-2.0) * xsimd::log(B::load_unaligned(u1 + p)));
      const auto [sin_t, cos_t] = xsimd::sincos(B(2.0 * M_PI) * B::load_unaligned(u2 + p));
      (r * cos_t).store_unaligned(c + p);
      (r * sin_t).store_unaligned(s + p);
    }
#endif
    for (; p < n; ++p) {
      const double r = std::sqrt(-2.0 * std::log(u1[p]));
      const double theta = 2.0 * M_PI * u2[p];
      c[p] = r * std::cos(theta);
      s[p] = r * std::sin(theta);
    }
  }

  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t s_[4];
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace tz
