// The conformance suite, run on every registered model (a new model is checked the moment it is
// registered), and shown to catch two broken models: a custom op whose backward has a flipped
// sign, and a model one of whose parameters never receives a gradient.
#include <doctest/doctest.h>

#include "models/conformance.hpp"
#include "models/model.hpp"

using namespace tz;
using namespace tz::models;

TEST_CASE("every registered model passes the conformance suite") {
  REQUIRE(registry().size() >= 1);
  for (const ModelInfo& info : registry()) {
    for (const NamedCheck& c : run_conformance(info)) {
      INFO("model " << info.name << ", check " << c.name);
      CHECK_MESSAGE(c.result.ok, c.result.message);
    }
  }
}

namespace {

// y = x·x written as a "custom op" with a hand-made backward whose sign is flipped: gx += −2x·gy.
template <class T>
Var<T> broken_square(const Var<T>& x) {
  Tape<T>& t = x.tape();
  const std::uint32_t id = t.push(Op::square, {x}, [](Tape<T>& t, Node<T>& n) {
    t.accumulate(n.in[0], T(-2) * n.grad * t.val(n.in[0]));
  });
  t.node(id).value = t.val(x) * t.val(x);
  return t.finish(id);
}

// A one-parameter regression y ≈ x·w; `flipped` uses the broken op; `frozen` adds a parameter that
// is read only through detach(), so it never gets a gradient.
template <class T>
class Toy : public Model<T> {
 public:
  Toy(bool flipped, bool frozen) : flipped_(flipped), frozen_(frozen) {
    this->params_.add("w", Array<T>(xt::xarray<T>::from_shape({1, 1}) * T(0) + T(0.5)));
    this->params_.add("b", Array<T>{0.0});
  }
  Loss<T> loss(Tape<T>& t, const Batch<T>& batch, Rng&) override {
    Var<T> x = t.constant(narrow_cols(batch.x, 0)), y = t.constant(narrow_cols(batch.x, 1));
    Var<T> b = t.param(this->params_["b"]);
    if (frozen_) b = detach(b);
    Var<T> r = matmul(x, t.param(this->params_["w"])) + b - y;
    Var<T> sq = flipped_ ? broken_square(r) : square(r);
    return {mean(sq), {}};
  }
  Metrics evaluate(const Dataset&, Rng&) override { return {}; }

 private:
  static Array<T> narrow_cols(const Array<T>& x, std::size_t c) {
    Array<T> out = Array<T>::from_shape({x.shape()[0], 1});
    for (std::size_t i = 0; i < x.shape()[0]; ++i) out(i, 0) = x(i, c);
    return out;
  }
  bool flipped_, frozen_;
};

ModelInfo toy_info(bool flipped, bool frozen) {
  ModelInfo m;
  m.name = flipped ? "toy_flipped" : "toy_frozen";
  m.description = "a deliberately broken model";
  m.make_float = [=](const Config&, Rng&) { return std::make_unique<Toy<float>>(flipped, frozen); };
  m.make_double = [=](const Config&, Rng&) { return std::make_unique<Toy<double>>(flipped, frozen); };
  m.tiny_data = [](Rng& rng) {
    Dataset d;
    d.train_x = Array<float>::from_shape({64, 2});
    for (std::size_t i = 0; i < 64; ++i) {
      const double x = rng.normal();
      d.train_x(i, 0) = static_cast<float>(x);
      d.train_x(i, 1) = static_cast<float>(3 * x + 1);
    }
    d.test_x = d.train_x;
    return d;
  };
  m.conformance_lr = 0.05;
  return m;
}

}  // namespace

TEST_CASE("a correct toy model passes, so the broken ones below fail for their fault alone") {
  ModelInfo ok = toy_info(false, false);
  ok.name = "toy_ok";
  for (const NamedCheck& c : run_conformance(ok)) CHECK_MESSAGE(c.result.ok, c.result.message);
}

TEST_CASE("a custom op whose backward has a flipped sign fails gradcheck, naming model and check") {
  const ModelInfo bad = toy_info(true, false);
  CheckResult r = check_gradient(bad);
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("model 'toy_flipped'") != std::string::npos);
  CHECK(r.message.find("check 'gradient'") != std::string::npos);
  CHECK(r.message.find("parameter 'w'") != std::string::npos);
  CHECK(r.message.find("central difference") != std::string::npos);
}

TEST_CASE("a model whose parameter never receives a gradient fails the training check") {
  const ModelInfo bad = toy_info(false, true);
  CheckResult r = check_training(bad);
  CHECK_FALSE(r.ok);
  CHECK(r.message.find("model 'toy_frozen'") != std::string::npos);
  CHECK(r.message.find("check 'training'") != std::string::npos);
  CHECK(r.message.find("parameter 'b' never received a gradient") != std::string::npos);
}

TEST_CASE("Config: defaults, overrides, typed getters and errors that name the flag") {
  std::vector<FlagSpec> specs = {{"z", "10", "latent size"}, {"beta", "1.0", "KL weight"}, {"iwae", "1,10", "k values"}};
  Config c = Config::from(specs, {{"z", "2"}}, "vae");
  CHECK(c.integer("z") == 2);
  CHECK(c.real("beta") == 1.0);
  CHECK(c.integers("iwae") == std::vector<long>{1, 10});
  CHECK_THROWS_WITH(Config::from(specs, {{"zz", "2"}}, "vae"), doctest::Contains("unknown flag --zz"));
  CHECK_THROWS_WITH(Config::from(specs, {{"z", "two"}}, "vae").integer("z"), "--z: 'two' is not an integer");
  CHECK_THROWS_WITH(Config::from(specs, {{"beta", "1.5x"}}, "vae").real("beta"), "--beta: '1.5x' is not a number");
  Config back = Config::parse(c.serialize(), "test");
  CHECK(back.values() == c.values());
  CHECK_THROWS_WITH(find_model("no_such_model"), doctest::Contains("registered: ppca"));
}
