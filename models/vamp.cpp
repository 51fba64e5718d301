// tapezoo: the VampPrior. The model and its derivation are in models/vamp.hpp; all but the prior's
// components is the GMVAE's code (models/gmvae.cpp).
#include "models/vamp.hpp"

#include <algorithm>
#include <filesystem>

#include "io/png.hpp"
#include "models/vae_common.hpp"

namespace tz::models {

template <class T>
VampPrior<T>::VampPrior(const GMVAEOptions& options, Rng& rng) : GMVAE<T>(options, rng, "vamp") {
  const auto& o = this->options();
  // w ~ 0.05 + 0.01·N(0, 1), [K, x_dim]: nearly blank pseudo-images inside (0, 1) (models/vamp.hpp)
  Array<T> w = rng.normal<T>({o.components, o.x_dim});
  w = static_cast<T>(0.05) + static_cast<T>(0.01) * w;
  w_ = &this->params_.add("prior.pseudo_inputs", std::move(w));
}

template <class T>
Var<T> VampPrior<T>::pseudo_inputs(Tape<T>& tape) const {
  // u = hardtanh(w) = min(max(w, 0), 1)   (the paper's pseudo-input layer)
  return clamp(tape.param(*w_), 0.0, 1.0);
}

template <class T>
Gaussian<T> VampPrior<T>::prior(Tape<T>& tape) const {
  // μ_k = m_φ(u_k), σ_k² = v_φ(u_k): the encoder's posterior at each pseudo-input, [K, z] each
  return this->encode(tape, pseudo_inputs(tape));
}

template <class T>
void VampPrior<T>::write_pictures(const std::string& dir, const Dataset& data, Rng& rng) {
  GMVAE<T>::write_pictures(dir, data, rng);
  const std::size_t x_dim = this->options().x_dim, side = image_side(data, x_dim);
  Tape<T> tape;
  NoGrad<T> no_grad(tape);
  const Array<T> u = pseudo_inputs(tape).value();
  // pseudo_inputs.png: the first 100 u_k, ten to a row: what the prior's components encode
  const std::size_t n = std::min<std::size_t>(100, this->options().components);
  GridOptions grid{.nrow = 10, .padding = 2, .pad_value = 1.0f, .image_height = side, .image_width = side};
  save_image_grid((std::filesystem::path(dir) / "pseudo_inputs.png").string(), to_float<T>(rows_of<T>(u, 0, n)), grid);
}

template class VampPrior<float>;
template class VampPrior<double>;

// ---- flags and the registry entry ----------------------------------------------------------------

ModelInfo vamp_info() {
  ModelInfo info = gmvae_info();  // the same flags and tiny configuration; only the prior differs
  info.name = "vamp";
  info.description = "VAE with a VampPrior (Tomczak & Welling 2018): p(z) = (1/K) Σ_k q(z | u_k), K learned pseudo-inputs";
  for (FlagSpec& f : info.flags)
    if (f.name == "components") f.help = "pseudo-inputs K of the prior p(z) = (1/K) Σ_k q(z | u_k)";
  info.make_float = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<float>> {
    return std::make_unique<VampPrior<float>>(gmvae_options(c), rng);
  };
  info.make_double = [](const Config& c, Rng& rng) -> std::unique_ptr<Model<double>> {
    return std::make_unique<VampPrior<double>>(gmvae_options(c), rng);
  };
  return info;
}

}  // namespace tz::models
