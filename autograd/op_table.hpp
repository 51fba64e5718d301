// tapezoo: the table of every op, one line each (after PyTorch's derivatives.yaml).
//
// gy is the upstream gradient dL/dy, gx the input's, y the saved result. Every backward
// accumulates (+=). Binary ops broadcast by NumPy's rules, and their backward reduces the
// gradient to each input's shape with sum_to (autograd/ops.hpp).
//
// Adding an op: docs/adding-an-op.md. In short: 1. an enum value and a row here, 2. its definition
// in autograd/ops_*.cpp under a formula comment that repeats this row, "// name: forward  backward"
// (tests/test_op_table.cpp compares the two), and its name in that file's instantiation list,
// 3. its declaration in autograd/ops.hpp, 4. a gradcheck case in tests/test_ops_gradcheck.cpp (the
// test iterates this table and fails for any op without one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace tz {

enum class Op : std::uint8_t {
  // sources
  leaf, constant, param,
  // elementwise, derivative from x
  neg, add_scalar, mul_scalar, rsub_scalar, rdiv_scalar, pow_scalar, log, log1p, square, abs,
  relu, elu, softplus, log_sigmoid, clamp,
  // elementwise, derivative from y
  exp, sqrt, tanh, sigmoid,
  // binary (broadcasting)
  add, sub, mul, div,
  // reductions
  sum, sum_axis, mean, mean_axis, logsumexp, max_axis,
  // shape
  reshape, transpose, concat, narrow, gather_rows, tile, broadcast_to, detach,
  // linear algebra
  matmul, linear,
  // normalisation along an axis
  softmax, log_softmax,
  // fused: fast paths, each equal to a composite of the ops above (autograd/ops_fused.cpp)
  log_bernoulli, linear_elu,
  // fused for the SSVAE's fast path (autograd/ops_fused_ssvae.cpp)
  onehot_elu,
  // fused for the Gaussian mixtures of the model zoo's fast paths (autograd/ops_fused_zoo.cpp)
  normal_pairs, normal_mix,
  // fused for the GMVAE's fast path (autograd/ops_fused_gmvae.cpp)
  softplus_rows,
  // fused for every VAE's Gaussian latent (autograd/ops_fused_gaussian.cpp)
  reparam, kl_std_normal,
  count_
};

struct OpInfo {
  Op op;
  std::string_view name;
  std::string_view group;
  std::string_view forward;
  std::string_view backward;
};

// clang-format off
inline constexpr OpInfo kOps[] = {
  {Op::leaf,        "leaf",        "source",      "y = x (requires grad)",                 "gx = gy, read with var.grad()"},
  {Op::constant,    "constant",    "source",      "y = c (data, noise, labels)",           "none"},
  {Op::param,       "param",       "source",      "y = θ (read in place)",                 "θ.grad += gy"},

  {Op::neg,         "neg",         "elementwise", "y = -x",                                "gx += -gy"},
  {Op::add_scalar,  "add_scalar",  "elementwise", "y = x + c",                             "gx += gy"},
  {Op::mul_scalar,  "mul_scalar",  "elementwise", "y = c·x",                               "gx += c·gy"},
  {Op::rsub_scalar, "rsub_scalar", "elementwise", "y = c - x",                             "gx += -gy"},
  {Op::rdiv_scalar, "rdiv_scalar", "elementwise", "y = c / x",                             "gx += -gy·c / x²"},
  {Op::pow_scalar,  "pow_scalar",  "elementwise", "y = x^p",                               "gx += gy·p·x^(p-1)"},
  {Op::log,         "log",         "elementwise", "y = log x",                             "gx += gy / x"},
  {Op::log1p,       "log1p",       "elementwise", "y = log(1 + x)",                        "gx += gy / (1 + x)"},
  {Op::square,      "square",      "elementwise", "y = x²",                                "gx += 2·gy·x"},
  {Op::abs,         "abs",         "elementwise", "y = |x|",                               "gx += gy·sign(x)   (0 at 0)"},
  {Op::relu,        "relu",        "elementwise", "y = max(x, 0)",                         "gx += gy·[x > 0]"},
  {Op::elu,         "elu",         "elementwise", "y = x if x > 0 else e^x - 1",           "gx += gy·(x > 0 ? 1 : e^x)"},
  {Op::softplus,    "softplus",    "elementwise", "y = max(x,0) + log1p(e^-|x|)",          "gx += gy·sigmoid(x)"},
  {Op::log_sigmoid, "log_sigmoid", "elementwise", "y = -softplus(-x)",                     "gx += gy·sigmoid(-x)"},
  {Op::clamp,       "clamp",       "elementwise", "y = min(max(x, lo), hi)",               "gx += gy·[lo ≤ x ≤ hi]"},

  {Op::exp,         "exp",         "elementwise", "y = e^x",                               "gx += gy·y"},
  {Op::sqrt,        "sqrt",        "elementwise", "y = √x",                                "gx += gy / (2y)"},
  {Op::tanh,        "tanh",        "elementwise", "y = tanh x",                            "gx += gy·(1 - y²)"},
  {Op::sigmoid,     "sigmoid",     "elementwise", "y = 1 / (1 + e^-x)",                    "gx += gy·y·(1 - y)"},

  {Op::add,         "add",         "binary",      "y = a + b",                             "ga += sum_to(gy), gb += sum_to(gy)"},
  {Op::sub,         "sub",         "binary",      "y = a - b",                             "ga += sum_to(gy), gb += sum_to(-gy)"},
  {Op::mul,         "mul",         "binary",      "y = a ⊙ b",                             "ga += sum_to(gy·b), gb += sum_to(gy·a)"},
  {Op::div,         "div",         "binary",      "y = a / b",                             "ga += sum_to(gy / b), gb += sum_to(-gy·y / b)"},

  {Op::sum,         "sum",         "reduction",   "y = Σ_i x_i",                           "gx += gy (broadcast)"},
  {Op::sum_axis,    "sum_axis",    "reduction",   "y = Σ_axis x",                          "gx += broadcast(gy) along axis"},
  {Op::mean,        "mean",        "reduction",   "y = (1/n) Σ_i x_i",                     "gx += gy / n"},
  {Op::mean_axis,   "mean_axis",   "reduction",   "y = (1/n) Σ_axis x",                    "gx += broadcast(gy) / n"},
  {Op::logsumexp,   "logsumexp",   "reduction",   "y = m + log Σ_axis e^(x-m), m = max",  "gx += gy·softmax(x)   (0 for an all -inf row)"},
  {Op::max_axis,    "max_axis",    "reduction",   "y = max_axis x",                        "gx += gy at the (first) argmax"},

  {Op::reshape,     "reshape",     "shape",       "y = x viewed as a new shape",           "gx += reshape(gy, shape x)"},
  {Op::transpose,   "transpose",   "shape",       "y = xᵀ (2-D)",                          "gx += gyᵀ"},
  {Op::concat,      "concat",      "shape",       "y = [x1, x2, …] along axis",            "gx_i += the slice of gy that x_i filled"},
  {Op::narrow,      "narrow",      "shape",       "y = x[start : start+len] along axis",   "gx[start : start+len] += gy"},
  {Op::gather_rows, "gather_rows", "shape",       "y_i = x[idx_i]",                        "gx[idx_i] += gy_i   (scatter-add)"},
  {Op::tile,        "tile",        "shape",       "y = [x; x; …; x] (k copies on axis 0)", "gx += Σ_copies gy"},
  {Op::broadcast_to,"broadcast_to","shape",       "y = x broadcast to a shape",            "gx += sum_to(gy, shape x)"},
  {Op::detach,      "detach",      "shape",       "y = x, cut from the graph",             "none"},

  {Op::matmul,      "matmul",      "linalg",      "y = a @ b (BLAS gemm)",                 "ga += gy @ bᵀ, gb += aᵀ @ gy"},
  {Op::linear,      "linear",      "linalg",      "y = x @ W + b (bias fused)",            "gx += gy @ Wᵀ, gW += xᵀ @ gy, gb += Σ_rows gy"},

  {Op::softmax,     "softmax",     "normalise",   "y = e^x / Σ_axis e^x",                  "gx += y·(gy - Σ_axis gy·y)"},
  {Op::log_softmax, "log_softmax", "normalise",   "y = x - logsumexp_axis(x)",             "gx += gy - softmax(x)·Σ_axis gy"},

  {Op::log_bernoulli,"log_bernoulli","fused",     "y = Σ_last x·l − softplus(l) (fused)",  "gl += gy·(x − σ(l)), gx += gy·l"},
  {Op::linear_elu,  "linear_elu",  "fused",       "h = elu(x @ W + b) (bias, activation fused)", "gy = gh·(h > 0 ? 1 : h + 1), then linear's"},
  {Op::onehot_elu,  "onehot_elu",  "fused_ssvae", "h_r = elu(x_(r mod n) @ W[:in] + W[in + y_r] + b)", "g = gh·(h > 0 ? 1 : h + 1); gx += Σ_copies g @ W[:in]ᵀ, gW[:in] += xᵀ @ Σ_copies g, gW[in + y_r] += g_r, gb += Σ_rows g"},
  {Op::normal_pairs,"normal_pairs","fused_zoo", "y_ik = −½ Σ_d [log 2π + log v_kd + (z_id − m_kd)²/v_kd]", "gz_i += Σ_k gy_ik (m_k − z_i)/v_k, gm_k += Σ_i gy_ik (z_i − m_k)/v_k, gv_k += Σ_i gy_ik ½[(z_i − m_k)²/v_k² − 1/v_k]"},
  {Op::normal_mix,  "normal_mix",  "fused_zoo", "y_i = logsumexp_k [log w_k + log N(z_i; m_k, v_k)] (fused)", "r_ik = e^(log w_k + log N(z_i; m_k, v_k) − y_i), then normal_pairs' with gy_ik = gy_i·r_ik; glog_w_k += Σ_i gy_i·r_ik"},
  {Op::softplus_rows,"softplus_rows","fused_gmvae", "y = softplus(x[start : start+len] along axis) + c (fused)", "gx[start : start+len] += gy·sigmoid(x), 0 elsewhere"},
  {Op::reparam,     "reparam",     "fused_gaussian", "y = m + √v ⊙ ε (fused)", "gm += gy, gv += gy·ε / (2√v), gε += gy·√v"},
  {Op::kl_std_normal,"kl_std_normal","fused_gaussian", "y = ½ [Σ_last (v − log v + m²) − d] (fused)", "gm += gy·m, gv += ½·gy·(1 − 1/v)"},
};
// clang-format on

static_assert(sizeof(kOps) / sizeof(kOps[0]) == static_cast<std::size_t>(Op::count_),
              "every Op needs exactly one row in kOps");

constexpr bool op_table_in_order() {
  for (std::size_t i = 0; i < static_cast<std::size_t>(Op::count_); ++i)
    if (static_cast<std::size_t>(kOps[i].op) != i) return false;
  return true;
}
static_assert(op_table_in_order(), "kOps rows must follow the order of enum Op");

constexpr const OpInfo& op_info(Op op) { return kOps[static_cast<std::size_t>(op)]; }
constexpr std::string_view op_name(Op op) { return op_info(op).name; }
constexpr bool is_source(Op op) { return op == Op::leaf || op == Op::constant || op == Op::param; }

// How many rows of kOps lie in the given groups. Each ops_*.cpp checks its list of ops against it.
constexpr std::size_t ops_in_groups(std::initializer_list<std::string_view> groups) {
  std::size_t n = 0;
  for (const OpInfo& row : kOps)
    for (std::string_view g : groups) n += row.group == g ? 1 : 0;
  return n;
}

// The whole table as text, grouped as above: one line per op, name, forward, backward
// (`tapezoo ops`, tutorial 00). Defined in autograd/tape.cpp.
std::string op_table_text();

}  // namespace tz
