// tapezoo: Gaussian mixture parameters to and from .npz files (see models/gmm.hpp).
#include <map>

#include "datasets/files.hpp"
#include "io/npz.hpp"
#include "models/gmm.hpp"

namespace tz::models::gmm {

void save_parameters(const std::string& path, const GaussianMixture& model) {
  if (model.means().size() == 0)
    throw std::logic_error("save_parameters: the model has no parameters yet: call fit() first");
  save_npz(path, std::vector<std::pair<std::string, xt::xarray<double>>>{
                     {"weights", model.weights()},
                     {"means", model.means()},
                     {"covariances", model.covariances()},
                     {"precisions_cholesky", model.precisions_cholesky()},
                 });
}

Parameters load_parameters(const std::string& path) {
  const std::map<std::string, NdArray> arrays = load_npz(path);
  auto get = [&](const std::string& name, std::size_t rank) {
    const auto it = arrays.find(name);
    if (it == arrays.end()) {
      std::string found;
      for (const auto& [n, a] : arrays) found += (found.empty() ? "" : ", ") + n;
      throw FileError(path + ": missing the array '" + name +
                      "' (a mixture needs weights, means and covariances; the file has " +
                      (found.empty() ? std::string("none") : found) + ")");
    }
    if (rank && it->second.shape.size() != rank)
      throw FileError(path + ": '" + name + "' has shape " + shape_string(it->second.shape) + " but must have " +
                      std::to_string(rank) + (rank == 1 ? " dimension" : " dimensions") +
                      (name == "weights" ? " ([k])" : " ([k, d])"));
    return it->second.to_double();
  };
  Parameters p;
  const xt::xarray<double> weights = get("weights", 1);
  const xt::xarray<double> means = get("means", 2);
  p.weights = Vector::from_shape({weights.shape(0)});
  std::copy(weights.begin(), weights.end(), p.weights.begin());
  p.means = Matrix::from_shape({means.shape(0), means.shape(1)});
  std::copy(means.begin(), means.end(), p.means.begin());
  p.covariances = get("covariances", 0);
  return p;
}

}  // namespace tz::models::gmm
