// tapezoo fit gmm: a Gaussian mixture on a matrix of points, by EM (or gradient ascent).
//
//   tapezoo fit gmm --data points.csv --k 3
//   tapezoo fit gmm --data x.npy --k 10 --cov diag --n-init 5 --out gmm.npz --json
//   tapezoo fit gmm --data x.npy --k 10 --init-from start.npz --tol 0 --iters 100
//   tapezoo fit gmm --data points.csv --k 3 --textbook   # EM's textbook steps (models/gmm_em.cpp)
//
// --out writes weights, means, covariances and precisions_cholesky (.npz, atomically); --init-from
// reads weights, means and covariances from such a file. With --json the last line of stdout is
// one JSON object (k, d, n, iters, converged, avg_loglik, bic, ms_per_iter, …).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>
#include <string>

#include "app/commands.hpp"
#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "autograd/path.hpp"
#include "datasets/files.hpp"
#include "datasets/matrix.hpp"
#include "io/flags.hpp"
#include "io/json.hpp"
#include "models/gmm.hpp"

namespace {

struct FitGmmFlags {
  std::string data, cov = "full", init = "kmeans++", init_from, method = "em", optimizer = "adam", out;
  std::size_t k = 0, iters = 100, n_init = 1;
  double tol = 1e-3, reg_covar = 1e-6, lr = 0.05;
  std::uint64_t seed = 0;
  int threads = 1;
  bool json = false;
  bool textbook = false;  // --textbook (or TAPEZOO_TEXTBOOK=1): the textbook E- and M-steps
  bool tol_given = false;  // --method gd defaults to GradientOptions' tol (1e-6), not EM's 1e-3
};

std::string shape_of(const tz::models::gmm::Matrix& m) {
  return "[" + std::to_string(m.shape(0)) + ", " + std::to_string(m.shape(1)) + "]";
}

void run_fit_gmm(const FitGmmFlags& f) {
  namespace gmm = tz::models::gmm;
  tz::use_threads(f.threads);  // the E-step's and M-step's blocks on the pool (autograd/parallel.hpp)
  if (f.textbook) tz::set_path(tz::Path::textbook);
  if (!f.out.empty()) tz::flags::check_output_file(f.out, "--out");

  // a FileError names the file (and the line and column of a bad CSV cell); add the flag
  auto from_flag = [](const char* flag, auto&& load) {
    try {
      return load();
    } catch (const tz::FileError& e) {
      throw tz::FileError(std::string(flag) + ": " + e.what());
    }
  };
  const gmm::Matrix x = from_flag("--data", [&] { return tz::load_matrix(f.data); });
  gmm::Options opt;
  opt.n_components = f.k;
  opt.covariance_type = gmm::parse_covariance_type(f.cov);
  opt.tol = f.tol;
  opt.reg_covar = f.reg_covar;
  opt.max_iter = f.iters;
  opt.n_init = f.n_init;
  opt.init = gmm::parse_init(f.init);
  opt.seed = f.seed;
  if (!f.init_from.empty()) {
    gmm::Parameters p = from_flag("--init-from", [&] { return gmm::load_parameters(f.init_from); });
    if (p.means.dimension() == 2 && p.means.shape(1) != x.shape(1))
      throw std::invalid_argument("--init-from " + f.init_from + ": its means have d = " +
                                  std::to_string(p.means.shape(1)) + " columns (shape " + shape_of(p.means) +
                                  ") but --data " + f.data + " has d = " + std::to_string(x.shape(1)));
    opt.init_parameters = std::move(p);
  }

  std::unique_ptr<gmm::GaussianMixture> model;
  try {
    model = std::make_unique<gmm::GaussianMixture>(opt);  // checks --init-from's shapes against --k, --cov
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    const std::string prefix = "init parameters: ";
    if (msg.rfind(prefix, 0) == 0) throw std::invalid_argument("--init-from " + f.init_from + ": " + msg.substr(prefix.size()));
    throw;
  }
  try {
    if (f.method == "em") {
      model->fit(x);
    } else {
      gmm::GradientOptions gd;
      gd.max_iter = f.iters;
      gd.learning_rate = f.lr;
      gd.optimizer = f.optimizer;
      if (f.tol_given) gd.tol = f.tol;
      model->fit_gradient(x, gd);
    }
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("--data " + f.data + ": " + e.what());
  }

  if (!f.out.empty()) gmm::save_parameters(f.out, *model);

  const double avg = model->score(x), bic = model->bic(x), aic = model->aic(x);
  const std::size_t n = x.shape(0), d = x.shape(1);
  if (!model->converged() && f.tol > 0)
    std::fprintf(stderr, "fit gmm: warning: not converged after %zu iterations: raise --iters or --tol\n",
                 model->n_iter());
  if (f.json) {
    tz::JsonLine j;
    j.add("model", "gmm")
        .add("method", f.method)
        .add("path", tz::to_string(tz::path()))
        .add("cov", f.cov)
        .add("k", f.k)
        .add("d", d)
        .add("n", n)
        .add("iters", model->n_iter())
        .add("converged", model->converged())
        .add("avg_loglik", avg)
        .add("lower_bound", model->lower_bound())
        .add("bic", bic)
        .add("aic", aic)
        .add("n_parameters", model->n_parameters())
        .add("ms_per_iter", model->ms_per_iter())
        .add("n_init", f.init_from.empty() ? f.n_init : std::size_t{1})
        .add("seed", f.seed)
        .add("data", f.data);
    if (!f.out.empty()) j.add("out", f.out);
    j.print();
    return;
  }
  std::printf("fit gmm: k = %zu, %s covariances, %s, on %s (n = %zu, d = %zu)\n", f.k, f.cov.c_str(),
              f.method == "em" ? (tz::textbook() ? "EM (textbook path)" : "EM") : "gradient ascent", f.data.c_str(), n, d);
  std::printf("  %s after %zu iterations (%.3g ms/iter)\n", model->converged() ? "converged" : "NOT converged",
              model->n_iter(), model->ms_per_iter());
  std::printf("  mean log-likelihood %.6f   BIC %.2f   AIC %.2f   (%zu parameters)\n", avg, bic, aic,
              model->n_parameters());
  std::printf("  weights:");
  for (double w : model->weights()) std::printf(" %.4f", w);
  std::printf("\n");
  if (d <= 6) {
    for (std::size_t c = 0; c < f.k; ++c) {
      std::printf("  mean %zu:", c);
      for (std::size_t j = 0; j < d; ++j) std::printf(" %9.4f", model->means()(c, j));
      std::printf("\n");
    }
  }
  if (!f.out.empty()) std::printf("  wrote %s (weights, means, covariances, precisions_cholesky)\n", f.out.c_str());
}

}  // namespace

void add_fit_gmm_command(CLI::App& fit) {
  auto f = std::make_shared<FitGmmFlags>();
  CLI::App* cmd = fit.add_subcommand("gmm", "fit a Gaussian mixture by EM (scikit-learn's GaussianMixture)");
  cmd->add_option("--data", f->data, "the points: an [n, d] .npy or .csv file")->required();
  cmd->add_option("--k", f->k, "number of components")->required()->check(tz::flags::positive_integer());
  cmd->add_option("--cov", f->cov, "covariance type")
      ->capture_default_str()
      ->check(tz::flags::one_of({"full", "tied", "diag", "spherical"}));
  cmd->add_option("--iters", f->iters, "maximum iterations (EM or gradient steps)")
      ->capture_default_str()
      ->check(tz::flags::positive_integer());
  cmd->add_option("--tol", f->tol,
                  "converged when the mean log-likelihood changes by less (0: run all --iters; gd's default 1e-6)")
      ->capture_default_str()
      ->check(tz::flags::nonnegative_number());
  cmd->add_option("--reg-covar", f->reg_covar, "added to the diagonal of each covariance")
      ->capture_default_str()
      ->check(tz::flags::nonnegative_number());
  auto* init = cmd->add_option("--init", f->init, "initialisation of the responsibilities")
                   ->capture_default_str()
                   ->check(tz::flags::one_of({"kmeans++", "random"}));
  cmd->add_option("--init-from", f->init_from, "start from weights, means, covariances in this .npz")
      ->check(CLI::ExistingFile)
      ->excludes(init);
  cmd->add_option("--n-init", f->n_init, "initialisations; the best run is kept")
      ->capture_default_str()
      ->check(tz::flags::positive_integer());
  cmd->add_option("--seed", f->seed, "seed of the initialisation")
      ->capture_default_str()
      ->check(tz::flags::nonnegative_integer());
  cmd->add_option("--method", f->method, "em, or gd (gradient ascent on the log-likelihood, on the autograd tape)")
      ->capture_default_str()
      ->check(tz::flags::one_of({"em", "gd"}));
  cmd->add_option("--optimizer", f->optimizer, "optimizer of --method gd")
      ->capture_default_str()
      ->check(tz::flags::one_of({"adam", "sgd"}));
  cmd->add_option("--lr", f->lr, "learning rate of --method gd")->capture_default_str()->check(tz::flags::positive_number());
  cmd->add_option("--out", f->out, "write the fitted parameters to this .npz");
  cmd->add_option("--threads", f->threads,
                  "threads for EM's fast E- and M-steps, blocks of points in parallel (the same fit for every N)")
      ->capture_default_str()
      ->check(tz::flags::positive_integer());
  cmd->add_flag("--json", f->json, "print one JSON object as the last line");
  cmd->add_flag("--textbook", f->textbook,
                "run EM's textbook steps (plain loops, models/gmm_em.cpp) instead of the fast kernels; also TAPEZOO_TEXTBOOK=1");
  cmd->callback([f, cmd] {
    f->tol_given = cmd->count("--tol") > 0;
    run_fit_gmm(*f);
  });
}
