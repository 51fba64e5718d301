// tapezoo coursework: the checks of part 5, the distributions (distributions/distributions.cpp), on
// fixed inputs against their closed forms computed here on plain doubles, in float64. rtol 1e-6
// (plus atol 1e-9 for values near 0) is far above the rounding of these short sums.
#include <algorithm>
#include <cmath>

#include "autograd/path.hpp"
#include "coursework/checks/checks.hpp"
#include "distributions/distributions.hpp"

namespace tz::coursework {

namespace {

using Fn = std::function<V(Tape<double>&, const std::vector<V>&)>;

std::vector<double> value_of(const Fn& f, const std::vector<A>& inputs) {
  Tape<double> tape;
  std::vector<V> xs;
  for (const A& a : inputs) xs.push_back(tape.constant(a));
  return flat(f(tape, xs).value());
}

std::string args(const std::vector<std::string>& names, const std::vector<A>& in) {
  std::string s;
  for (std::size_t i = 0; i < in.size(); ++i) s += (i ? ", " : "") + names[i] + " = " + show(flat(in[i]));
  return s;
}

double softplus_ref(double l) { return std::max(l, 0.0) + std::log1p(std::exp(-std::fabs(l))); }

// Row sums over the last axis of [n, d] arrays of f(a_ij, b_ij, …).
template <class F>
std::vector<double> rows(const std::vector<A>& in, F f) {
  const std::size_t n = in[0].shape()[0], d = in[0].shape()[1];
  std::vector<double> out(n, 0.0);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j) out[i] += f(in, i * d + j);
  return out;
}

struct DistCase {
  std::string task, name;
  std::vector<std::string> arg_names;
  Fn fn;
  std::function<std::vector<double>(const std::vector<A>&)> reference;
  std::vector<A> inputs, hidden_inputs;
};

double at(const std::vector<A>& in, std::size_t i, std::size_t k) { return in[i].data()[k]; }

const A kM{{0.5, -1.0, 2.0}, {0.0, 3.0, -0.25}};
const A kV{{0.25, 4.0, 1.5}, {2.0, 0.01, 9.0}};
const A kE{{1.0, -0.5, 2.0}, {-1.5, 0.75, 0.3}};

std::vector<DistCase> dist_cases() {
  return {
      {"5.1", "sample_gaussian", {"m", "v", "ε"},
       [](Tape<double>&, const std::vector<V>& x) { return sample_gaussian(x[0], x[1], x[2]); },
       [](const std::vector<A>& in) {
         std::vector<double> z;
         for (std::size_t k = 0; k < in[0].size(); ++k) z.push_back(at(in, 0, k) + std::sqrt(at(in, 1, k)) * at(in, 2, k));
         return z;
       },
       {kM, kV, kE}, {A{{1.0, 2.0}}, A{{0.09, 16.0}}, A{{-0.4, 1.1}}}},
      {"5.2", "log_normal", {"x", "m", "v"},
       [](Tape<double>&, const std::vector<V>& x) { return log_normal(x[0], x[1], x[2]); },
       [](const std::vector<A>& in) {
         return rows(in, [](const std::vector<A>& a, std::size_t k) {
           const double d = at(a, 0, k) - at(a, 1, k), v = at(a, 2, k);
           return -0.5 * (kLog2Pi + std::log(v) + d * d / v);
         });
       },
       {kE, kM, kV}, {A{{3.0, -2.0}}, A{{1.0, 0.5}}, A{{0.5, 7.0}}}},
      {"5.3", "kl_normal", {"qm", "qv", "pm", "pv"},
       [](Tape<double>&, const std::vector<V>& x) { return kl_normal(x[0], x[1], x[2], x[3]); },
       [](const std::vector<A>& in) {
         return rows(in, [](const std::vector<A>& a, std::size_t k) {
           const double qv = at(a, 1, k), pv = at(a, 3, k), d = at(a, 0, k) - at(a, 2, k);
           return 0.5 * (std::log(pv / qv) + qv / pv + d * d / pv - 1);
         });
       },
       {kM, kV, kE, A{{1.0, 0.5, 2.0}, {0.3, 3.0, 1.0}}}, {A{{0.2, -0.1}}, A{{1.5, 0.2}}, A{{0.0, 0.0}}, A{{1.0, 1.0}}}},
      {"5.4", "log_mean_exp(x, axis=1)", {"x"},
       [](Tape<double>&, const std::vector<V>& x) { return log_mean_exp(x[0], 1); },
       [](const std::vector<A>& in) {
         std::vector<double> out;
         for (std::size_t i = 0; i < in[0].shape()[0]; ++i) {
           const std::size_t d = in[0].shape()[1];
           double m = -INFINITY, s = 0;
           for (std::size_t j = 0; j < d; ++j) m = std::max(m, at(in, 0, i * d + j));
           for (std::size_t j = 0; j < d; ++j) s += std::exp(at(in, 0, i * d + j) - m);
           out.push_back(m + std::log(s / static_cast<double>(d)));
         }
         return out;
       },
       // log weights of ±1000, as an IWAE's are: e^1000 is inf, e^−1000 is 0 in float64
       {A{{1000.0, 999.0, 1001.5}, {-1000.0, -1002.0, -999.0}, {0.5, -0.5, 1.0}}}, {A{{-650.0, -651.0}, {3.0, 2.0}}}},
      {"7.1", "log_normal_mixture (uniform)", {"z", "m", "v"},
       [](Tape<double>&, const std::vector<V>& x) { return log_normal_mixture(x[0], x[1], x[2]); },
       [](const std::vector<A>& in) {
         std::vector<double> out;  // log (1/k) Σ_i N(z; m_i, v_i) by max + log mean e^{· − max}
         const std::size_t n = in[0].shape()[0], k = in[1].shape()[0], d = in[0].shape()[1];
         for (std::size_t r = 0; r < n; ++r) {
           std::vector<double> lp(k, 0.0);
           for (std::size_t i = 0; i < k; ++i)
             for (std::size_t j = 0; j < d; ++j) {
               const double dz = at(in, 0, r * d + j) - at(in, 1, i * d + j), v = at(in, 2, i * d + j);
               lp[i] += -0.5 * (kLog2Pi + std::log(v) + dz * dz / v);
             }
           const double mx = *std::max_element(lp.begin(), lp.end());
           double s = 0;
           for (double x : lp) s += std::exp(x - mx);
           out.push_back(mx + std::log(s / static_cast<double>(k)));
         }
         return out;
       },
       // a z 40 away from every component: each density underflows to 0 in float64 (log space only)
       {A{{0.5, -1.0, 2.0}, {40.0, -40.0, 40.0}}, kM, kV}, {A{{1.0, 2.0}}, A{{0.0, 0.0}, {1.0, 3.0}, {-2.0, 0.5}}, A{{1.0, 2.0}, {0.5, 0.5}, {3.0, 0.2}}}},
      {"5.5", "log_bernoulli_with_logits (textbook path)", {"x", "logits"},
       [](Tape<double>&, const std::vector<V>& x) {
         PathScope textbook(Path::textbook);
         return log_bernoulli_with_logits(x[0], x[1]);
       },
       [](const std::vector<A>& in) {
         return rows(in, [](const std::vector<A>& a, std::size_t k) { return at(a, 0, k) * at(a, 1, k) - softplus_ref(at(a, 1, k)); });
       },
       // logits ±1000: σ(−1000) = 0 in float64, so log σ(l) gives −inf where the answer is −1000
       {A{{1.0, 0.0, 1.0}, {0.0, 1.0, 0.0}}, A{{1000.0, 1000.0, -1000.0}, {-1000.0, 0.5, -2.0}}},
       {A{{1.0, 0.0}}, A{{-800.0, 3.0}}}},
  };
}

}  // namespace

std::vector<Check> dist_checks() {
  std::vector<Check> out;
  for (const DistCase& c : dist_cases()) {
    out.push_back({c.task, c.name + " against its closed form", true, [c](Checker& ck) {
                     ck.close(c.name + "(" + args(c.arg_names, c.inputs) + ")", c.reference(c.inputs),
                              value_of(c.fn, c.inputs), 1e-6, 1e-9);
                   }});
    out.push_back({c.task, c.name + " at stored values", false, [c](Checker& ck) {
                     ck.hidden(c.task + "/" + c.name, c.name + "(" + args(c.arg_names, c.hidden_inputs) + ")",
                               value_of(c.fn, c.hidden_inputs), 1e-6, 1e-9);
                   }});
  }
  // KL(q ‖ q) = 0 for any q: the constant −1 and the ½ must be where the formula puts them
  out.push_back({"5.3", "kl_normal(q, q) = 0", true, [](Checker& ck) {
                   ck.close("kl_normal(qm = pm = " + show(flat(kM)) + ", qv = pv = " + show(flat(kV)) + ")", {0.0, 0.0},
                            value_of([](Tape<double>&, const std::vector<V>& x) { return kl_normal(x[0], x[1], x[0], x[1]); },
                                     {kM, kV}),
                            0, 1e-12);
                 }});
  return out;
}

}  // namespace tz::coursework
