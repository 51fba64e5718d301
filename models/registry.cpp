// tapezoo models: the registry. One line per model; its ModelInfo function lives in
// models/<name>.cpp (declared right here in the line, so nothing else needs editing).
// `./zoo new-model NAME` adds the line for you. Order is the order of `./zoo list`.
#include "models/model.hpp"

namespace tz::models {

const std::vector<ModelInfo>& registry() {
  static const std::vector<ModelInfo> models = {
      [] { extern ModelInfo ppca_info(); return ppca_info(); }(),
      [] { extern ModelInfo vae_info(); return vae_info(); }(),
      [] { extern ModelInfo iwae_info(); return iwae_info(); }(),
      [] { extern ModelInfo beta_vae_info(); return beta_vae_info(); }(),
      [] { extern ModelInfo gmvae_info(); return gmvae_info(); }(),
      [] { extern ModelInfo vamp_info(); return vamp_info(); }(),
      [] { extern ModelInfo ssvae_info(); return ssvae_info(); }(),
      [] { extern ModelInfo fsvae_info(); return fsvae_info(); }(),
      [] { extern ModelInfo gmm_gd_info(); return gmm_gd_info(); }(),
      // new models go above this line
  };
  return models;
}

}  // namespace tz::models
