// tapezoo optimizers: SGD with momentum, and Adam with PyTorch's defaults and bias correction.
// Each step reads p.grad and updates p.value in one loop per parameter; the caller
// zeroes the gradients (params.zero_grad()) before the next backward.
//
//   nn::Adam<float> opt(params.all(), {.lr = 1e-3});
//   for (…) { tape.clear(); params.zero_grad(); tape.backward(loss(tape)); opt.step(); }
//
// That loop is the textbook path of models/train.cpp: tape.backward(loss); adam.step();
// params.zero_grad(). Its fast path runs Adam inside the backward sweep (backward_step): each
// parameter is updated, and its gradient zeroed, as soon as its gradient is complete, while it is
// still in cache; the optimizer's pass over θ, g, m and v is the costliest part of a VAE step after
// the matrix products. Bit for bit the same parameters (tests/test_fast_paths.cpp, tests/test_nn.cpp).
#pragma once

#include <string>
#include <vector>

#include "autograd/tape.hpp"

namespace tz::nn {

// θ ← θ − lr·(v), v ← μ·v + g + λθ   (PyTorch's SGD: momentum μ, weight decay λ, no dampening)
template <class T>
class SGD {
 public:
  struct Options {
    double lr = 1e-2;
    double momentum = 0;
    double weight_decay = 0;
  };
  SGD(std::vector<Param<T>*> params, Options opt);
  void step();
  void set_lr(double lr) { opt_.lr = lr; }
  double lr() const { return opt_.lr; }

 private:
  std::vector<Param<T>*> params_;
  std::vector<Array<T>> velocity_;
  Options opt_;
  bool first_ = true;
};

// Adam (Kingma & Ba 2015, Algorithm 1), as torch.optim.Adam:
//   m ← β1 m + (1−β1) g,  v ← β2 v + (1−β2) g²
//   θ ← θ − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε)
template <class T>
class Adam {
 public:
  struct Options {
    double lr = 1e-3;
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0;  // L2 added to the gradient, as torch.optim.Adam
  };
  Adam(std::vector<Param<T>*> params, Options opt);
  void step();
  // The fast path of tape.backward(loss); step(); params.zero_grad(): each parameter's update (and
  // the zeroing of its gradient) is done inside the sweep as soon as its gradient is complete,
  // while it is still in cache. The same numbers, bit for bit; a parameter that was not on the tape
  // is updated at the end. Not with gradient clipping, which needs every gradient first.
  void backward_step(Tape<T>& tape, const Var<T>& loss);
  void set_lr(double lr) { opt_.lr = lr; }
  double lr() const { return opt_.lr; }
  long steps() const { return t_; }
  // The moments m and v, one array per parameter in the order given to the constructor, and the
  // step count t: with the parameters, all a checkpoint needs to continue bit for bit.
  const std::vector<Array<T>>& first_moments() const { return m_; }
  const std::vector<Array<T>>& second_moments() const { return v_; }
  // Puts back what the three accessors returned; every moment must have its parameter's shape
  // (std::invalid_argument naming the parameter otherwise), and nothing changes unless all do.
  void restore(long steps, std::vector<Array<T>> m, std::vector<Array<T>> v);

 private:
  void begin_step();                           // t ← t + 1 and the bias-correction factors
  void update(std::size_t k, bool zero_grad);  // the update of parameter k with this step's factors

  std::vector<Param<T>*> params_;
  std::vector<Array<T>> m_, v_;
  std::vector<bool> updated_;  // backward_step: which parameters the sweep has updated
  Options opt_;
  long t_ = 0;
  T step_size_ = 0, inv_sqrt_bc2_ = 0;  // lr / (1−β1^t) and 1 / √(1−β2^t)
};

// Scales all gradients so that their joint L2 norm is at most max_norm; returns the norm before
// clipping (torch.nn.utils.clip_grad_norm_).
template <class T>
double clip_grad_norm(const std::vector<Param<T>*>& params, double max_norm);

// Learning-rate schedules: lr(t) for iteration t = 0, 1, ….
struct LrSchedule {
  enum class Kind { constant, step, cosine } kind = Kind::constant;
  double lr = 1e-3;
  long step_size = 1000;  // step: multiply by gamma every step_size iterations
  double gamma = 0.1;
  long total = 1;         // cosine: anneal from lr to min_lr over total iterations
  double min_lr = 0;
  double at(long t) const;
  static LrSchedule parse(const std::string& spec, double lr, long total);  // "constant", "step", "cosine"
};

}  // namespace tz::nn
