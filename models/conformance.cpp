// tapezoo: the conformance suite.
#include "models/conformance.hpp"

#include <cmath>
#include <filesystem>
#include <memory>
#include <type_traits>
#include <unistd.h>

#include <fmt/format.h>

#include "models/train.hpp"
#include "nn/optim.hpp"

namespace tz::models {

namespace {

CheckResult fail(std::string msg) { return {false, std::move(msg)}; }
CheckResult threw(const std::string& what, const std::exception& e) {
  return fail(fmt::format("{}: threw: {}", what, e.what()));
}

Config tiny_config(const ModelInfo& info) { return Config::from(info.flags, info.tiny_flags, info.name); }

// Where a check starts: a model of the configuration cfg, built with rng, and the model's tiny data
// (drawn with rng after it), prepared by the model.
template <class T>
struct TinyModel {
  std::unique_ptr<Model<T>> model;
  Dataset data;
};

template <class T>
TinyModel<T> tiny_model(const ModelInfo& info, const Config& cfg, Rng& rng) {
  TinyModel<T> out;
  if constexpr (std::is_same_v<T, double>)
    out.model = info.make_double(cfg, rng);
  else
    out.model = info.make_float(cfg, rng);
  out.data = info.tiny_data(rng);
  out.model->prepare_data(out.data, rng);
  return out;
}

// The first rows of the tiny data as a batch of scalar type T, prepared once with a fixed seed.
template <class T>
Batch<T> fixed_batch(const Dataset& d, std::size_t rows, Model<T>& model) {
  rows = std::min(rows, d.train_x.shape()[0]);
  const std::size_t dim = d.train_x.shape()[1];
  Batch<T> b;
  b.x = Array<T>::from_shape({rows, dim});
  for (std::size_t i = 0; i < rows * dim; ++i) b.x.data()[i] = static_cast<T>(d.train_x.data()[i]);
  if (!d.train_y.empty()) b.y.assign(d.train_y.begin(), d.train_y.begin() + static_cast<long>(rows));
  Rng rng(11);
  model.prepare_batch(b, rng);
  return b;
}

template <class T>
double loss_at(Model<T>& model, const Batch<T>& b, unsigned seed) {
  Tape<T> tape;
  NoGrad<T> guard(tape);
  Rng rng(seed);
  return model.loss(tape, b, rng).value.item();
}

}  // namespace

CheckResult gradcheck_params(const std::string& what, nn::ParamSet<double>& params,
                             const std::function<Var<double>(Tape<double>&)>& loss, std::size_t per_param,
                             double rtol) {
  params.zero_grad();
  double l0;
  {
    Tape<double> tape;
    Var<double> L = loss(tape);
    l0 = L.item();
    tape.backward(L);
  }
  if (!std::isfinite(l0)) return fail(fmt::format("{}: the loss is {} at the initial parameters", what, l0));
  auto eval = [&]() {
    Tape<double> tape;
    NoGrad<double> guard(tape);
    return loss(tape).item();
  };
  Rng pick(99);
  const double atol = 1e-7 * std::max(1.0, std::abs(l0));
  for (Param<double>* p : params.all()) {
    const std::size_t n = p->value.size();
    std::vector<std::size_t> elems;
    if (n <= per_param) {
      for (std::size_t k = 0; k < n; ++k) elems.push_back(k);
    } else {
      for (std::size_t k = 0; k < per_param; ++k) elems.push_back(pick.below(n));
    }
    for (std::size_t k : elems) {
      double& x = p->value.data()[k];
      const double x0 = x, h = 1e-6 * std::max(1.0, std::abs(x0));
      x = x0 + h;
      const double fp = eval();
      x = x0 - h;
      const double fm = eval();
      x = x0;
      const double expected = (fp - fm) / (2 * h), got = p->grad.data()[k];
      const double err = std::abs(expected - got);
      if (!(err <= atol + rtol * std::max(std::abs(expected), std::abs(got))))
        return fail(fmt::format("{}: parameter '{}' element {}: expected {:.10g} (central difference), got {:.10g} "
                                "(autograd); |error| {:.3g}. A backward formula is wrong, or the loss is not a "
                                "deterministic function of the parameters.",
                                what, p->name, k, expected, got, err));
    }
  }
  return {};
}

CheckResult check_gradient(const ModelInfo& info) {
  const std::string what = fmt::format("model '{}', check 'gradient' (float64 gradcheck of its loss)", info.name);
  try {
    Rng rng(1);
    auto [model, d] = tiny_model<double>(info, tiny_config(info), rng);
    model->set_iteration(0);
    Batch<double> b = fixed_batch<double>(d, 8, *model);
    return gradcheck_params(what, model->params(), [&](Tape<double>& tape) {
      Rng noise(7);  // the same ε on every evaluation
      return model->loss(tape, b, noise).value;
    });
  } catch (const std::exception& e) {
    return threw(what, e);
  }
}

CheckResult check_training(const ModelInfo& info, int steps) {
  const std::string what = fmt::format("model '{}', check 'training' ({} Adam steps must lower the loss)", info.name, steps);
  try {
    Rng rng(2);
    auto [model, d] = tiny_model<float>(info, tiny_config(info), rng);
    model->set_iteration(0);
    Batch<float> fixed = fixed_batch<float>(d, 64, *model);
    const double before = loss_at(*model, fixed, 13);
    nn::ParamSet<float>& params = model->params();
    std::vector<bool> touched(params.size(), false);
    nn::Adam<float> adam(params.all(), {.lr = info.conformance_lr});
    Tape<float> tape;
    Batch<float> b;
    const std::size_t n = d.train_x.shape()[0], bs = std::min<std::size_t>(32, n);
    for (int t = 0; t < steps; ++t) {
      std::vector<std::size_t> idx(bs);
      for (auto& i : idx) i = rng.below(n);
      b.x = Array<float>::from_shape({bs, d.train_x.shape()[1]});
      for (std::size_t r = 0; r < bs; ++r)
        std::copy_n(d.train_x.data() + idx[r] * d.train_x.shape()[1], d.train_x.shape()[1], b.x.data() + r * d.train_x.shape()[1]);
      b.y.clear();
      for (std::size_t r = 0; r < bs && !d.train_y.empty(); ++r) b.y.push_back(d.train_y[idx[r]]);
      model->prepare_batch(b, rng);
      model->set_iteration(t);
      tape.clear();
      params.zero_grad();
      Loss<float> L = model->loss(tape, b, rng);
      tape.backward(L.value);
      auto all = params.all();
      for (std::size_t k = 0; k < all.size(); ++k)
        for (float g : all[k]->grad)
          if (g != 0.f) {
            touched[k] = true;
            break;
          }
      adam.step();
    }
    auto all = params.all();
    for (std::size_t k = 0; k < all.size(); ++k)
      if (!touched[k])
        return fail(fmt::format("{}: parameter '{}' never received a gradient in {} steps: it does not take part "
                                "in the loss, or its gradient is cut (detach, a constant, a no_grad block)",
                                what, all[k]->name, steps));
    const double after = loss_at(*model, fixed, 13);
    if (!(after < before))
      return fail(fmt::format("{}: the loss on a fixed batch went from {:.6g} to {:.6g}; it should fall. Check the "
                              "sign of the loss (it is minimised) and conformance_lr ({})",
                              what, before, after, info.conformance_lr));
    return {};
  } catch (const std::exception& e) {
    return threw(what, e);
  }
}

CheckResult check_roundtrip(const ModelInfo& info) {
  const std::string what = fmt::format("model '{}', check 'roundtrip' (save, load, same loss)", info.name);
  const std::string path = (std::filesystem::temp_directory_path() /
                            fmt::format("tapezoo-conformance-{}-{}.npz", info.name, ::getpid())).string();
  try {
    Rng rng(3);
    const Config cfg = tiny_config(info);
    auto [a, d] = tiny_model<float>(info, cfg, rng);
    // A few steps away from the initialisation, so that loading must really replace values.
    nn::Adam<float> adam(a->params().all(), {.lr = 1e-2});
    Batch<float> b = fixed_batch<float>(d, 16, *a);
    for (int t = 0; t < 3; ++t) {
      Tape<float> tape;
      a->params().zero_grad();
      Rng noise(t);
      tape.backward(a->loss(tape, b, noise).value);
      adam.step();
    }
    const double la = loss_at(*a, b, 21);
    save_checkpoint(path, info, cfg, *a);
    // A fresh model with another initialisation, then the saved parameters on top.
    Rng other(12345);
    auto loaded = info.make_float(cfg, other);
    load_parameters(path, loaded->params());
    std::filesystem::remove(path);
    loaded->prepare_data(d, rng);
    const double lb = loss_at(*loaded, b, 21);
    if (la != lb)
      return fail(fmt::format("{}: the loss was {:.9g} before saving and {:.9g} after loading", what, la, lb));
    return {};
  } catch (const std::exception& e) {
    std::filesystem::remove(path);
    return threw(what, e);
  }
}

CheckResult check_flags(const ModelInfo& info) {
  const std::string what = fmt::format("model '{}', check 'flags'", info.name);
  try {
    for (const FlagSpec& f : info.flags)
      if (f.name.empty() || f.help.empty() || f.name.find(' ') != std::string::npos)
        return fail(fmt::format("{}: flag '{}' needs a name without spaces and a help text", what, f.name));
    Rng rng(4);
    auto m = info.make_float(Config::from(info.flags, {}, info.name), rng);  // defaults build a model
    (void)m;
    try {
      Config::from(info.flags, {{"no-such-flag", "1"}}, info.name);
      return fail(fmt::format("{}: an unknown flag --no-such-flag was accepted", what));
    } catch (const std::invalid_argument& e) {
      if (std::string(e.what()).find("--no-such-flag") == std::string::npos)
        return fail(fmt::format("{}: the error for an unknown flag does not name it: {}", what, e.what()));
    }
    return {};
  } catch (const std::exception& e) {
    return threw(what, e);
  }
}

std::vector<NamedCheck> run_conformance(const ModelInfo& info) {
  return {{"flags", check_flags(info)},
          {"gradient", check_gradient(info)},
          {"training", check_training(info)},
          {"roundtrip", check_roundtrip(info)}};
}

}  // namespace tz::models
