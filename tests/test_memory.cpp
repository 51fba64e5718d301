// Memory stays flat over many training steps (PITFALLS 23, autodiff#160): the tape is cleared every
// step and recycles its nodes' storage, and parameters keep one gradient buffer each. A small MLP
// trains for 2,000 steps; the current RSS at step 2,000 must be within 5% of the RSS at step 200,
// and the bytes held from malloc must not grow (beyond glibc's wobble). The full-size run
// (784-300-300-20, 10,000 steps) is `build/bench/tape_overhead --memory-steps 10000`.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"
#include "bench/memory_usage.hpp"  // the same measurements as bench/tape_overhead --memory-steps

using namespace tz;

TEST_CASE("2,000 training steps of a small MLP: RSS and heap stay flat, the tape is recycled") {
  const std::vector<std::size_t> sizes = {64, 32, 32, 8};
  const std::size_t batch = 16;
  Rng rng(7);
  std::vector<Param<float>> W, b;
  for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
    const float a = 1.0f / std::sqrt(static_cast<float>(sizes[l]));
    W.emplace_back("W", rng.uniform<float>({sizes[l], sizes[l + 1]}, -a, a));
    b.emplace_back("b", rng.uniform<float>({sizes[l + 1]}, -a, a));
  }
  Array<float> x = rng.normal<float>({batch, sizes[0]});

  Tape<float> tape;
  long rss_200 = 0, rss_2000 = 0, heap_200 = 0, heap_2000 = 0;
  std::size_t nodes_first = 0;
  bool same_nodes = true;
  float loss_first = 0, loss_last = 0;
  for (int step = 1; step <= 2000; ++step) {
    rng.fill_normal(x);  // new data each step, into the same buffer
    Var<float> h = tape.constant(x);
    for (std::size_t l = 0; l < W.size(); ++l) {
      h = linear(h, tape.param(W[l]), tape.param(b[l]));
      if (l + 1 < W.size()) h = elu(h);
    }
    Var<float> loss = mean(square(h));
    tape.backward(loss);
    if (step == 1) {
      nodes_first = tape.size();
      loss_first = loss.item();
    }
    same_nodes = same_nodes && tape.size() == nodes_first;  // the same ops every step
    loss_last = loss.item();
    for (auto* group : {&W, &b})
      for (auto& p : *group) {
        for (std::size_t i = 0; i < p.value.size(); ++i) p.value.data()[i] -= 0.05f * p.grad.data()[i];
        p.zero_grad();
      }
    tape.clear();
    if (step == 200) {
      rss_200 = tz::bench::current_rss_bytes();
      heap_200 = tz::bench::heap_in_use_bytes();
    }
    if (step == 2000) {
      rss_2000 = tz::bench::current_rss_bytes();
      heap_2000 = tz::bench::heap_in_use_bytes();
    }
  }
  INFO("RSS at step 200: ", rss_200, " bytes; at step 2000: ", rss_2000, " bytes");
  INFO("heap in use at step 200: ", heap_200, " bytes; at step 2000: ", heap_2000, " bytes");
  REQUIRE(rss_200 > 0);
  CHECK(static_cast<double>(rss_2000) <= 1.05 * static_cast<double>(rss_200));
  CHECK(static_cast<double>(rss_2000) >= 0.95 * static_cast<double>(rss_200));
  // Steady state: the same allocations every step. glibc's count wobbles by a few dozen bytes from
  // step to step (free chunks held in its caches count as in use); a leak of even 3 bytes per
  // step would add 5 KiB over these 1,800 steps, a leaked [16,32] float buffer 3.6 MiB.
  CHECK(heap_2000 <= heap_200 + 4096);
  CHECK(same_nodes);
  CHECK(tape.size() == 0);
  CHECK(loss_last < loss_first);  // it trained (the loss is mean(y²), driven toward 0)
}
