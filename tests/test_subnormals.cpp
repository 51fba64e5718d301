// Tests of autograd/subnormals.hpp, the training steps' flush of subnormal numbers to zero
// (docs/pitfalls.md#subnormals): what the guard changes, in plain arithmetic and in OpenBLAS's
// products, that it gives the thread its previous mode back, that train()'s steps hold it (and
// --keep-subnormals lifts it), and that train()'s option survives a checkpoint.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "autograd/blas.hpp"
#include "autograd/subnormals.hpp"
#include "models/model.hpp"
#include "models/train.hpp"
#include "models/template/ppca.hpp"
#include "models/train_state.hpp"

using tz::FlushSubnormals;

namespace {
// Through volatile, so that the compiler cannot fold the arithmetic at compile time, where the
// thread's mode does not apply.
float times(float a, float b) {
  volatile float x = a, y = b;
  return x * y;
}
}  // namespace

#if defined(__x86_64__) || defined(__i386__)
TEST_CASE("FlushSubnormals: results and inputs below 2^-126 are 0 while it lives, IEEE's again after") {
  const float tiny = std::numeric_limits<float>::denorm_min() * 1000;  // about 1.4e-42, subnormal
  REQUIRE(std::fpclassify(tiny) == FP_SUBNORMAL);
  CHECK_FALSE(FlushSubnormals::active());
  CHECK(times(1e-30f, 1e-10f) != 0.0f);  // 1e-40: gradual underflow keeps a subnormal
  CHECK(times(tiny, 1.0f) == tiny);
  const float normal = times(1e-19f, 1e-18f);  // 1e-37, above 2^-126 ≈ 1.18e-38
  {
    const FlushSubnormals flush;
    CHECK(FlushSubnormals::active());
    CHECK(times(1e-30f, 1e-10f) == 0.0f);     // FTZ: a subnormal result is written as 0
    CHECK(times(tiny, 1.0f) == 0.0f);         // DAZ: a subnormal input is read as 0
    CHECK(times(1e-19f, 1e-18f) == normal);  // a normal result is untouched
    {
      const FlushSubnormals off(false);  // asks for nothing: the mode it found stays
      CHECK(FlushSubnormals::active());
    }
    CHECK(FlushSubnormals::active());
  }
  CHECK_FALSE(FlushSubnormals::active());
  CHECK(times(tiny, 1.0f) == tiny);
}

TEST_CASE("FlushSubnormals: OpenBLAS's products in this thread obey it") {
  // C = A B with A = tiny·I and B = I: each entry of C is one subnormal term, tiny·1 (+ 0·0),
  // tiny under IEEE's rules and 0 when the thread flushes.
  const float tiny = std::numeric_limits<float>::denorm_min() * 1000;
  const float A[4] = {tiny, 0, 0, tiny}, B[4] = {1, 0, 0, 1};
  float C[4] = {0, 0, 0, 0};
  tz::blas::gemm(false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
  CHECK(C[0] == tiny);
  CHECK(C[3] == tiny);
  {
    const FlushSubnormals flush;
    tz::blas::gemm(false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
  }
  CHECK(C[0] == 0.0f);
  CHECK(C[3] == 0.0f);
}
#endif

TEST_CASE("train's keep_subnormals goes into the checkpoint's options and back; an older checkpoint means flush") {
  const tz::models::ModelInfo& info = tz::models::find_model("vae");
  tz::models::TrainOptions o;
  CHECK_FALSE(o.keep_subnormals);  // the default: the steps flush
  o.keep_subnormals = true;
  tz::models::Config stored = tz::models::options_config(o, info);
  CHECK(stored.str("keep-subnormals") == "true");
  CHECK(tz::models::options_from(stored, "test").keep_subnormals);
  o.keep_subnormals = false;
  CHECK_FALSE(tz::models::options_from(tz::models::options_config(o, info), "test").keep_subnormals);
  // A checkpoint written before the option existed has no such entry: it resumes flushing.
  const tz::models::Config now = tz::models::options_config(o, info);
  tz::models::Config old;
  for (const auto& [k, v] : now.values())
    if (k != "keep-subnormals") old.set(k, v);
  CHECK_FALSE(old.has("keep-subnormals"));
  CHECK_FALSE(tz::models::options_from(old, "test").keep_subnormals);
}

#if defined(__x86_64__) || defined(__i386__)
namespace {
// ppca, noting in each loss() whether its thread flushes subnormals: the loss is computed inside
// the training step, so this sees the mode Run::step set for the step (models/train.cpp).
struct FlushProbe : tz::models::Ppca<float> {
  using tz::models::Ppca<float>::Ppca;
  static inline std::vector<bool> seen;
  tz::models::Loss<float> loss(tz::Tape<float>& tape, const tz::models::Batch<float>& batch, tz::Rng& rng) override {
    seen.push_back(FlushSubnormals::active());
    return tz::models::Ppca<float>::loss(tape, batch, rng);
  }
};

std::vector<bool> flush_in_steps(bool keep_subnormals) {
  tz::models::ModelInfo info = tz::models::find_model("ppca");
  info.make_float = [](const tz::models::Config& c, tz::Rng& r) -> std::unique_ptr<tz::models::Model<float>> {
    return std::make_unique<FlushProbe>(tz::models::ppca_options(c), r);
  };
  tz::models::TrainOptions o;
  o.iters = 3;
  o.batch = 16;
  o.eval = 20;
  o.quiet = true;
  o.keep_subnormals = keep_subnormals;
  FlushProbe::seen.clear();
  tz::models::train(info, tz::models::Config::from(info.flags, info.tiny_flags, info.name), o);
  return FlushProbe::seen;
}
}  // namespace

TEST_CASE("train() flushes subnormals in every step, keeps them with keep_subnormals, and restores the thread's mode") {
  // A step without the flush runs the SSVAE six times slower once q(y|x) underflows
  // (docs/pitfalls.md#subnormals): a refactor of Run::step that drops the guard fails here.
  REQUIRE_FALSE(FlushSubnormals::active());
  const std::vector<bool> flushed = flush_in_steps(false);
  REQUIRE(flushed.size() == 3);  // one loss() per step; the evaluation calls none
  CHECK(flushed == std::vector<bool>{true, true, true});
  CHECK_FALSE(FlushSubnormals::active());  // the thread's own mode again after train()
  CHECK(flush_in_steps(true) == std::vector<bool>{false, false, false});
}
#endif
