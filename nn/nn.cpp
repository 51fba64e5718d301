// tapezoo nn: ParamSet, Linear and MLP.
#include "nn/nn.hpp"

#include <cmath>

#include <fmt/format.h>

#include "autograd/path.hpp"

namespace tz::nn {

template <class T>
Param<T>& ParamSet<T>::add(const std::string& name, Array<T> value) {
  if (contains(name)) throw std::invalid_argument(fmt::format("ParamSet: a parameter named '{}' already exists", name));
  params_.push_back(std::make_unique<Param<T>>(name, std::move(value)));
  return *params_.back();
}

template <class T>
bool ParamSet<T>::contains(const std::string& name) const {
  for (const auto& p : params_)
    if (p->name == name) return true;
  return false;
}

template <class T>
Param<T>& ParamSet<T>::operator[](const std::string& name) {
  for (auto& p : params_)
    if (p->name == name) return *p;
  std::string names;
  for (const auto& p : params_) names += (names.empty() ? "" : ", ") + p->name;
  throw std::out_of_range(fmt::format("ParamSet: no parameter named '{}' (have: {})", name, names));
}

template <class T>
const Param<T>& ParamSet<T>::operator[](const std::string& name) const {
  return const_cast<ParamSet<T>&>(*this)[name];
}

template <class T>
void ParamSet<T>::zero_grad() {
  for (auto& p : params_) p->zero_grad();
}

template <class T>
std::size_t ParamSet<T>::numel() const {
  std::size_t n = 0;
  for (const auto& p : params_) n += p->value.size();
  return n;
}

template <class T>
std::vector<Param<T>*> ParamSet<T>::all() {
  std::vector<Param<T>*> out;
  for (auto& p : params_) out.push_back(p.get());
  return out;
}

template <class T>
std::vector<const Param<T>*> ParamSet<T>::all() const {
  std::vector<const Param<T>*> out;
  for (const auto& p : params_) out.push_back(p.get());
  return out;
}

Activation parse_activation(const std::string& name) {
  if (name == "none") return Activation::none;
  if (name == "relu") return Activation::relu;
  if (name == "elu") return Activation::elu;
  if (name == "tanh") return Activation::tanh;
  if (name == "sigmoid") return Activation::sigmoid;
  throw std::invalid_argument(fmt::format("unknown activation '{}': expected none, relu, elu, tanh or sigmoid", name));
}

template <class T>
Var<T> activate(const Var<T>& x, Activation a) {
  switch (a) {
    case Activation::relu: return relu(x);
    case Activation::elu: return elu(x);
    case Activation::tanh: return tanh(x);
    case Activation::sigmoid: return sigmoid(x);
    case Activation::none: break;
  }
  return x;
}

// W, b ~ U(-k, k), k = 1/√fan_in: PyTorch's nn.Linear (kaiming_uniform with a = √5 gives the same
// bound for W), so that results compare with PyTorch.
template <class T>
Linear<T>::Linear(ParamSet<T>& params, const std::string& name, std::size_t in, std::size_t out, Rng& rng) {
  const T k = T(1) / static_cast<T>(std::sqrt(static_cast<double>(in)));
  W_ = &params.add(name + ".W", rng.uniform<T>({in, out}, -k, k));
  b_ = &params.add(name + ".b", rng.uniform<T>({out}, -k, k));
}

template <class T>
Var<T> Linear<T>::operator()(Tape<T>& tape, const Var<T>& x) const {
  return linear(x, tape.param(*W_), tape.param(*b_));
}

template <class T>
Var<T> Linear<T>::linear_elu(Tape<T>& tape, const Var<T>& x) const {
  return tz::linear_elu(x, tape.param(*W_), tape.param(*b_));
}

template <class T>
MLP<T>::MLP(ParamSet<T>& params, const std::string& name, const std::vector<std::size_t>& sizes, Activation act,
            Rng& rng)
    : act_(act) {
  if (sizes.size() < 2) throw std::invalid_argument(fmt::format("MLP '{}': needs at least two sizes", name));
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
    layers_.emplace_back(params, fmt::format("{}.l{}", name, i + 1), sizes[i], sizes[i + 1], rng);
}

// The textbook path records each layer as the formula reads, h ← act(h W + b): a `linear` node,
// then the activation's own node (none after the last layer). The fast path records an ELU hidden
// layer as one `linear_elu` node (autograd/ops_fused.cpp), which replaces exactly that pair;
// tests/test_fast_paths.cpp compares the two. Other activations have no fused op.
template <class T>
Var<T> MLP<T>::operator()(Tape<T>& tape, const Var<T>& x) const {
  Var<T> h = x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    const bool hidden = i + 1 < layers_.size();
    if (tz::textbook() || !hidden || act_ != Activation::elu) {
      h = layers_[i](tape, h);             // linear: h W + b
      if (hidden) h = activate(h, act_);   // then the activation, e.g. elu
    } else {
      h = layers_[i].linear_elu(tape, h);  // fast path: elu(h W + b) in one node
    }
  }
  return h;
}

template class ParamSet<float>;
template class ParamSet<double>;
template class Linear<float>;
template class Linear<double>;
template class MLP<float>;
template class MLP<double>;
template Var<float> activate(const Var<float>&, Activation);
template Var<double> activate(const Var<double>&, Activation);

}  // namespace tz::nn
