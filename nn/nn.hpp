// tapezoo nn: named parameters, Linear and MLP layers, initialised as PyTorch does.
//
//   nn::ParamSet<float> params;
//   nn::MLP<float> enc(params, "enc", {784, 300, 300, 20}, nn::Activation::elu, rng);
//   Var<float> h = enc(tape, x);   // records linear, elu, linear, elu, linear (the textbook path)
//                                  // or linear_elu, linear_elu, linear (the fast path, the default:
//                                  // the ELU fused into its layer's node; autograd/path.hpp)
//
// Parameters live in the ParamSet (name -> Param), outside any tape, and keep their gradients
// until zero_grad(). Layers hold pointers into the set; a ParamSet never moves its Params.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.hpp"
#include "autograd/random.hpp"

namespace tz::nn {

// An ordered, named collection of parameters: the model's state for optimizers and checkpoints.
template <class T>
class ParamSet {
 public:
  Param<T>& add(const std::string& name, Array<T> value);
  Param<T>& operator[](const std::string& name);  // throws, listing the names, if absent
  const Param<T>& operator[](const std::string& name) const;
  bool contains(const std::string& name) const;
  void zero_grad();
  std::size_t size() const { return params_.size(); }
  std::size_t numel() const;  // total number of scalars
  std::vector<Param<T>*> all();
  std::vector<const Param<T>*> all() const;

 private:
  std::vector<std::unique_ptr<Param<T>>> params_;  // unique_ptr: addresses stay put
};

enum class Activation { none, relu, elu, tanh, sigmoid };
Activation parse_activation(const std::string& name);  // "relu", "elu", … (throws on others)
template <class T>
Var<T> activate(const Var<T>& x, Activation a);

// y = x W + b with W [in, out], b [out] ~ U(-1/√in, 1/√in) (PyTorch's nn.Linear default).
template <class T>
class Linear {
 public:
  Linear() = default;
  Linear(ParamSet<T>& params, const std::string& name, std::size_t in, std::size_t out, Rng& rng);
  Var<T> operator()(Tape<T>& tape, const Var<T>& x) const;
  Var<T> linear_elu(Tape<T>& tape, const Var<T>& x) const;  // elu(x W + b) as one node (the fast path)
  std::size_t in() const { return W_->value.shape()[0]; }
  std::size_t out() const { return W_->value.shape()[1]; }
  Param<T>& W() const { return *W_; }
  Param<T>& b() const { return *b_; }

 private:
  Param<T>* W_ = nullptr;
  Param<T>* b_ = nullptr;
};

// Linear layers of the given sizes with an activation between them (none after the last).
// Parameters are named "<name>.l<i>.W" and "<name>.l<i>.b".
template <class T>
class MLP {
 public:
  MLP() = default;
  MLP(ParamSet<T>& params, const std::string& name, const std::vector<std::size_t>& sizes, Activation act,
      Rng& rng);
  Var<T> operator()(Tape<T>& tape, const Var<T>& x) const;
  const std::vector<Linear<T>>& layers() const { return layers_; }

 private:
  std::vector<Linear<T>> layers_;
  Activation act_ = Activation::elu;
};

}  // namespace tz::nn
