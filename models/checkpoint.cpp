// tapezoo: checkpoint files. What train() writes and `./zoo eval|sample` and --resume read
// (models/train.hpp describes the files; models/train_state.hpp the training state inside them).
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "datasets/files.hpp"
#include "io/npz.hpp"
#include "models/train.hpp"
#include "models/train_state.hpp"

namespace tz::models {

// ---- parameters: layout 1, all that `./zoo eval` and `./zoo sample` need ---------------------------

NamedArrays checkpoint_arrays(const ModelInfo& info, const Config& config, const Model<float>& model) {
  NamedArrays arrays;
  arrays.emplace_back("__model__", text_array(info.name));
  arrays.emplace_back("__config__", text_array(config.serialize()));
  for (const Param<float>* p : model.params().all()) arrays.emplace_back(p->name, NdArray::from(p->value));
  return arrays;
}

void save_checkpoint(const std::string& path, const ModelInfo& info, const Config& config, const Model<float>& model) {
  save_npz(path, checkpoint_arrays(info, config, model));
}

void load_parameters(const std::string& path, const std::map<std::string, NdArray>& file, nn::ParamSet<float>& params) {
  std::vector<std::string> problems;
  for (const Param<float>* p : params.all()) {
    auto it = file.find(p->name);
    if (it == file.end()) {
      problems.push_back(fmt::format("missing '{}'", p->name));
      continue;
    }
    const auto& fs = it->second.shape;
    Shape want(p->value.shape().begin(), p->value.shape().end());
    if (fs != want)
      problems.push_back(fmt::format("'{}' has shape {} in the file but {} in the model", p->name, shape_str(fs),
                                     shape_str(want)));
  }
  for (const auto& [name, arr] : file)
    if (name.rfind("__", 0) != 0 && !params.contains(name)) problems.push_back(fmt::format("unexpected '{}'", name));
  if (!problems.empty()) {
    std::string msg = fmt::format("checkpoint {}: ", path);
    for (std::size_t i = 0; i < problems.size(); ++i) msg += (i ? "; " : "") + problems[i];
    throw FileError(msg);
  }
  for (Param<float>* p : params.all()) {
    p->value = file.at(p->name).to_float();
    p->value.reshape(Shape(file.at(p->name).shape));
    p->zero_grad();
  }
}

void load_parameters(const std::string& path, nn::ParamSet<float>& params) {
  load_parameters(path, load_npz(path), params);
}

Loaded load_checkpoint(const std::string& path) {
  const auto file = load_npz(path);
  Loaded out;
  out.info = &find_model(text_entry(path, file, "__model__"));
  out.config = Config::parse(text_entry(path, file, "__config__"), path);
  Rng rng(0);
  out.model = out.info->make_float(out.config, rng);
  load_parameters(path, file, out.model->params());
  return out;
}

std::string checkpoint_path(const std::string& dir) { return dir + "/checkpoint.npz"; }

// ---- resuming: the run a checkpoint of layout 2 continues --------------------------------------------

void require_checkpoint_file(const std::string& path, const std::string& resume) {
  if (!path_exists(path))
    throw FileError(fmt::format("--resume {}: there is no checkpoint {} (a run writes it with --out {})", resume,
                                path, resume));
}

void check_checkpoint_model(const std::string& path, const std::map<std::string, NdArray>& file, const ModelInfo& info,
                            const std::string& resume) {
  const std::string model = text_entry(path, file, "__model__");
  if (model != info.name)
    throw FileError(fmt::format("checkpoint {}: it holds a '{}' model, but '{}' was asked for (resume it with "
                                "`train {} --resume {}`)", path, model, info.name, model, resume));
  check_train_layout(path, file);
}

namespace {

// A flag value typed again agrees with the stored one if the text is the same or both are the same number.
bool same_value(const std::string& a, const std::string& b) {
  if (a == b) return true;
  char *ea = nullptr, *eb = nullptr;
  const double x = std::strtod(a.c_str(), &ea), y = std::strtod(b.c_str(), &eb);
  return !a.empty() && !b.empty() && *ea == '\0' && *eb == '\0' && x == y;
}

}  // namespace

ResumePlan resume_options(const ModelInfo& info, const TrainOptions& opt, const std::set<std::string>& typed,
                          const std::map<std::string, std::string>& model_flags) {
  const std::string path = checkpoint_path(opt.resume);
  require_checkpoint_file(path, opt.resume);
  if (typed.count("out") &&
      std::filesystem::weakly_canonical(opt.out) != std::filesystem::weakly_canonical(opt.resume))
    throw std::invalid_argument(fmt::format("--out {} with --resume {}: a resumed run writes into the folder it "
                                            "resumes from (leave --out out)", opt.out, opt.resume));
  const auto file = load_npz(path);
  check_checkpoint_model(path, file, info, opt.resume);
  // The stored options, with those typed again in their place; train() checks that they agree.
  Config merged = Config::parse(text_entry(path, file, "__train__/options"), path);
  const Config given = options_config(opt, info);
  for (const auto& [flag, value] : given.values())
    if (typed.count(flag)) merged.set(flag, value);
  ResumePlan plan{Config::parse(text_entry(path, file, "__config__"), path), options_from(merged, path)};
  for (const auto& [flag, value] : model_flags)
    if (!plan.config.has(flag) || !same_value(plan.config.str(flag), value)) plan.config.set(flag, value);
  plan.opt.out = plan.opt.resume = opt.resume;
  plan.opt.json = opt.json;
  plan.opt.quiet = opt.quiet;
  return plan;
}

}  // namespace tz::models
