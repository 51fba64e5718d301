// tapezoo optimizers. The update loops are plain and contiguous, so g++ vectorises them.
#include "nn/optim.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace tz::nn {

template <class T>
SGD<T>::SGD(std::vector<Param<T>*> params, Options opt) : params_(std::move(params)), opt_(opt) {
  for (auto* p : params_) velocity_.push_back(xt::zeros<T>(p->value.shape()));
}

template <class T>
void SGD<T>::step() {
  const T lr = static_cast<T>(opt_.lr), mu = static_cast<T>(opt_.momentum), wd = static_cast<T>(opt_.weight_decay);
  for (std::size_t k = 0; k < params_.size(); ++k) {
    T* theta = params_[k]->value.data();
    const T* g = params_[k]->grad.data();
    T* v = velocity_[k].data();
    const std::size_t n = params_[k]->value.size();
    for (std::size_t i = 0; i < n; ++i) {
      T d = g[i] + wd * theta[i];
      if (mu != T(0)) {
        v[i] = first_ ? d : mu * v[i] + d;  // PyTorch starts the buffer at the first gradient
        d = v[i];
      }
      theta[i] -= lr * d;
    }
  }
  first_ = false;
}

template <class T>
Adam<T>::Adam(std::vector<Param<T>*> params, Options opt) : params_(std::move(params)), opt_(opt) {
  for (auto* p : params_) {
    m_.push_back(xt::zeros<T>(p->value.shape()));
    v_.push_back(xt::zeros<T>(p->value.shape()));
  }
}

template <class T>
void Adam<T>::step() {
  begin_step();
  for (std::size_t k = 0; k < params_.size(); ++k) update(k, false);
}

template <class T>
void Adam<T>::backward_step(Tape<T>& tape, const Var<T>& loss) {
  begin_step();
  updated_.assign(params_.size(), false);
  tape.backward(loss, [this](Param<T>& p) {
    // A handful of parameters: a linear search. A parameter this optimizer does not own is left alone.
    for (std::size_t k = 0; k < params_.size(); ++k)
      if (params_[k] == &p) {
        update(k, true);
        updated_[k] = true;
        return;
      }
  });
  for (std::size_t k = 0; k < params_.size(); ++k)
    if (!updated_[k]) update(k, true);  // not on the tape: its gradient is whatever it holds (zero)
}

template <class T>
void Adam<T>::restore(long steps, std::vector<Array<T>> m, std::vector<Array<T>> v) {
  if (steps < 0) throw std::invalid_argument(fmt::format("Adam::restore: step count {} is negative", steps));
  if (m.size() != params_.size() || v.size() != params_.size())
    throw std::invalid_argument(fmt::format("Adam::restore: {} and {} moments for {} parameters", m.size(), v.size(),
                                            params_.size()));
  for (std::size_t k = 0; k < params_.size(); ++k)
    if (m[k].shape() != params_[k]->value.shape() || v[k].shape() != params_[k]->value.shape())
      throw std::invalid_argument(fmt::format("Adam::restore: the moments of '{}' do not have its shape", params_[k]->name));
  t_ = steps;
  m_ = std::move(m);
  v_ = std::move(v);
}

template <class T>
void Adam<T>::begin_step() {
  ++t_;
  const double bc1 = 1 - std::pow(opt_.beta1, static_cast<double>(t_));
  const double bc2 = 1 - std::pow(opt_.beta2, static_cast<double>(t_));
  step_size_ = static_cast<T>(opt_.lr / bc1);
  inv_sqrt_bc2_ = static_cast<T>(1 / std::sqrt(bc2));
}

namespace {
// One parameter's Adam update, the formula of Adam's comment in nn/optim.hpp element by element:
//   g ← g + λθ (weight decay), m ← β1 m + (1−β1) g, v ← β2 v + (1−β2) g²,
//   θ ← θ − step_size · m / (√v · inv_sqrt_bc2 + ε),  step_size = lr/(1−β1^t), inv_sqrt_bc2 = 1/√(1−β2^t)
// and, when asked, g ← 0. The flags are template parameters so that each of the four loops is
// branch-free; the loop streams θ, g, m and v, and that memory traffic is what it costs
// (docs/fast-paths.md). θ, m and v were last touched a whole step ago, so they come from far
// caches: the loop runs in blocks of kBlock elements and, before each, asks for the cache lines
// kAhead elements further on, which the hardware prefetcher (it stops at every 4 KiB page) does
// not fetch soon enough by itself. The arithmetic and its order are the same with or without it.
template <bool kDecay, bool kZeroGrad, class T>
void adam_update(T* theta, T* grad, T* m, T* v, std::size_t n, T b1, T b2, T eps, T wd, T step_size,
                 T inv_sqrt_bc2) {
  constexpr std::size_t kBlock = 128, kAhead = 512, kLine = 64 / sizeof(T);
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t e = std::min(n, b + kBlock);
    for (std::size_t q = b + kAhead; q < std::min(n, e + kAhead); q += kLine)
      for (T* a : {theta, grad, m, v}) __builtin_prefetch(a + q, 1);
    for (std::size_t i = b; i < e; ++i) {
      const T g = kDecay ? grad[i] + wd * theta[i] : grad[i];
      m[i] = b1 * m[i] + (T(1) - b1) * g;
      v[i] = b2 * v[i] + (T(1) - b2) * g * g;
      theta[i] -= step_size * m[i] / (std::sqrt(v[i]) * inv_sqrt_bc2 + eps);
      if (kZeroGrad) grad[i] = T(0);
    }
  }
}
}  // namespace

template <class T>
void Adam<T>::update(std::size_t k, bool zero_grad) {
  const T b1 = static_cast<T>(opt_.beta1), b2 = static_cast<T>(opt_.beta2), eps = static_cast<T>(opt_.eps);
  const T wd = static_cast<T>(opt_.weight_decay);
  Param<T>& p = *params_[k];
  if (p.grad.shape() != p.value.shape()) p.grad = xt::zeros<T>(p.value.shape());  // never seen a backward
  T* args[] = {p.value.data(), p.grad.data(), m_[k].data(), v_[k].data()};
  const std::size_t n = p.value.size();
  auto run = [&](auto update) { update(args[0], args[1], args[2], args[3], n, b1, b2, eps, wd, step_size_, inv_sqrt_bc2_); };
  if (wd != T(0))
    zero_grad ? run(adam_update<true, true, T>) : run(adam_update<true, false, T>);
  else
    zero_grad ? run(adam_update<false, true, T>) : run(adam_update<false, false, T>);
}

template <class T>
double clip_grad_norm(const std::vector<Param<T>*>& params, double max_norm) {
  double sq = 0;
  for (auto* p : params)
    for (std::size_t i = 0; i < p->grad.size(); ++i) sq += static_cast<double>(p->grad.data()[i]) * p->grad.data()[i];
  const double norm = std::sqrt(sq);
  if (norm > max_norm && norm > 0) {
    const T scale = static_cast<T>(max_norm / (norm + 1e-6));
    for (auto* p : params) p->grad *= scale;
  }
  return norm;
}

double LrSchedule::at(long t) const {
  switch (kind) {
    case Kind::constant: return lr;
    case Kind::step: return lr * std::pow(gamma, static_cast<double>(t / std::max(1L, step_size)));
    case Kind::cosine: {
      const double frac = std::min(1.0, static_cast<double>(t) / static_cast<double>(std::max(1L, total)));
      return min_lr + 0.5 * (lr - min_lr) * (1 + std::cos(M_PI * frac));
    }
  }
  return lr;
}

LrSchedule LrSchedule::parse(const std::string& spec, double lr, long total) {
  LrSchedule s;
  s.lr = lr;
  s.total = total;
  s.step_size = std::max(1L, total / 3);
  if (spec == "constant") s.kind = Kind::constant;
  else if (spec == "step") s.kind = Kind::step;
  else if (spec == "cosine") s.kind = Kind::cosine;
  else throw std::invalid_argument(fmt::format("--lr-schedule '{}': expected constant, step or cosine", spec));
  return s;
}

template class SGD<float>;
template class SGD<double>;
template class Adam<float>;
template class Adam<double>;
template double clip_grad_norm(const std::vector<Param<float>*>&, double);
template double clip_grad_norm(const std::vector<Param<double>*>&, double);

}  // namespace tz::nn
