// tapezoo: the command-line program behind ./zoo (train, eval, sample, fit, list, new-model).
//
//   tapezoo train vae --data mnist --iters 5000 --json
//   tapezoo train vae --textbook       (the textbook path: autograd/path.hpp, docs/fast-paths.md)
//   tapezoo eval vae --checkpoint out/vae/checkpoint.npz --iwae 1,10
//   tapezoo sample vae --checkpoint out/vae/checkpoint.npz --out samples.png
//   tapezoo fit gmm --data points.csv --k 3
//   tapezoo list
//   tapezoo new-model ppca2
//
// A model's own flags (--z, --beta, …) come from its ModelInfo, so `train <model> --help` lists
// them next to the loop's flags.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "app/commands.hpp"
#include "autograd/blas.hpp"
#include "autograd/parallel.hpp"
#include "autograd/path.hpp"
#include "datasets/files.hpp"
#include "io/flags.hpp"
#include "io/json.hpp"
#include "io/png.hpp"
#include "models/train.hpp"

#ifndef TAPEZOO_SOURCE_ROOT
#define TAPEZOO_SOURCE_ROOT "."
#endif

namespace fs = std::filesystem;
using namespace tz;
using namespace tz::models;

namespace {

// --textbook: the whole run on the textbook path (autograd/path.hpp, docs/fast-paths.md).
void add_path_flag(CLI::App& cmd) {
  cmd.add_flag_callback("--textbook", [] { set_path(Path::textbook); },
                        "run the textbook path (linear then elu; backward, step, zero_grad) instead of "
                        "the fast one");
}

// The loop's flags, shared by train and eval.
void add_loop_flags(CLI::App& cmd, TrainOptions& o, bool training) {
  using namespace tz::flags;
  cmd.add_option("--data", o.data, "fashion-mnist, mnist, a folder of IDX files, a .npy/.csv matrix, or the model's own");
  if (training) {
    cmd.add_option("--iters", o.iters, "training iterations")->capture_default_str()->check(nonnegative_integer());
    cmd.add_option("--batch", o.batch, "minibatch size")->capture_default_str()->check(positive_integer());
    cmd.add_option("--lr", o.lr, "Adam learning rate (default: the model's own, 1e-3 for most)")
        ->check(positive_number());
    cmd.add_option("--lr-schedule", o.lr_schedule, "constant, step or cosine")
        ->capture_default_str()
        ->check(one_of({"constant", "step", "cosine"}));
    cmd.add_option("--clip", o.clip, "clip the gradient norm to this (0: off)")
        ->capture_default_str()
        ->check(nonnegative_number());
    cmd.add_option("--log-every", o.log_every, "iterations per metrics.csv row")
        ->capture_default_str()
        ->check(positive_integer());
    cmd.add_option("--out", o.out, "folder for checkpoint.npz, metrics.csv and pictures");
    cmd.add_option("--save-every", o.save_every, "also write the checkpoint every N iterations (needs --out)")
        ->check(nonnegative_integer());
    cmd.add_option("--resume", o.resume, "continue the run in DIR from its checkpoint, with its flags");
    cmd.add_flag("--keep-subnormals", o.keep_subnormals,
                 "keep subnormal numbers in the training steps instead of flushing them to zero, at their cost "
                 "(docs/pitfalls.md#subnormals)");
  }
  cmd.add_option("--seed", o.seed, "the run's seed")->capture_default_str()->check(nonnegative_integer());
  cmd.add_option("--threads", o.threads,
                 "threads for the evaluation (test metrics, IWAE-k: bit for bit the same for every N)")
      ->capture_default_str()
      ->check(positive_integer());
  if (training)
    cmd.add_option("--step-threads", o.step_threads,
                   "OpenBLAS threads for the training steps' products: faster on free cores, much slower on busy "
                   "ones; the same bits for the same N (docs/threads.md#training)")
        ->capture_default_str()
        ->check(positive_integer());
  cmd.add_option("--eval", o.eval, "test rows to evaluate on (0: all)")
      ->capture_default_str()
      ->check(nonnegative_integer());
  cmd.add_flag("--json", o.json, "print one JSON object as the last line");
  cmd.add_flag("--quiet", o.quiet, "no progress bar");
  add_path_flag(cmd);
}

// The model's flags as string options; the values given are collected into `given`.
void add_model_flags(CLI::App& cmd, const ModelInfo& info, std::map<std::string, std::string>& given) {
  for (const FlagSpec& f : info.flags) {
    cmd.add_option_function<std::string>("--" + f.name, [&given, name = f.name](const std::string& v) { given[name] = v; },
                                         fmt::format("{} (default {})", f.help, f.default_value));
  }
}

// How the user runs tapezoo, for the command that resumes an interrupted run: ./zoo when it
// started the program (it sets TAPEZOO_ROOT), else the program's own path.
std::string front_end(const char* argv0) {
  const char* root = std::getenv("TAPEZOO_ROOT");
  if (!root || !*root) return argv0;
  std::error_code ec;
  return fs::equivalent(root, fs::current_path(), ec) ? "./zoo" : (fs::path(root) / "zoo").string();
}

// The flags typed on the command line, by name without dashes.
std::set<std::string> typed_flags(const CLI::App& cmd) {
  std::set<std::string> names;
  for (const CLI::Option* o : cmd.get_options())
    if (o->count() > 0)
      for (const std::string& n : o->get_lnames()) names.insert(n);
  return names;
}

void print_metrics(const Metrics& m) {
  for (const auto& [k, v] : m) std::printf("  %-18s %.6g\n", k.c_str(), v);
}

std::string tutorial_description(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  for (int i = 0; i < 5 && std::getline(in, line); ++i) {
    const auto pos = line.find("// tutorial:");
    if (pos != std::string::npos) return line.substr(pos + 12 + (line.size() > pos + 12 && line[pos + 12] == ' '));
  }
  return "";
}

int cmd_list() {
  std::printf("Models (./zoo train <model>):\n");
  for (const ModelInfo& m : registry()) std::printf("  %-12s %s\n", m.name.c_str(), m.description.c_str());
  std::printf("\nTutorials (./zoo run <tutorial>):\n");
  std::vector<fs::path> files;
  const fs::path dir = fs::path(TAPEZOO_SOURCE_ROOT) / "tutorials";
  if (fs::is_directory(dir))
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".cpp" && e.path().stem().string().size() > 3 && std::isdigit(e.path().stem().string()[0]))
        files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) std::printf("  %-16s %s\n", f.stem().string().c_str(), tutorial_description(f).c_str());
  return 0;
}

// ./zoo new-model NAME: copies the template (models/template/ppca.{hpp,cpp}) to models/NAME.{hpp,cpp},
// renames it, and registers it (one line in each of models/registry.cpp and models/meson.build).
// The copy is the template with its names changed: Ppca → Name (PpcaOptions → NameOptions),
// ppca_info/ppca_options → NAME_info/NAME_options, "ppca" → "NAME", models/template/ppca.hpp →
// models/NAME.hpp, and a first line that says where it came from.
std::string renamed_template(std::string text, const std::string& name) {
  std::string Name = name;
  Name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(Name[0])));
  text = std::regex_replace(text, std::regex("models/template/ppca\\.hpp"), "models/" + name + ".hpp");
  text = std::regex_replace(text, std::regex("zoo train ppca\\b"), "zoo train " + name);
  text = std::regex_replace(text, std::regex("\\bPpca"), Name);
  text = std::regex_replace(text, std::regex("\\bppca_(info|options)\\b"), name + "_$1");
  text = std::regex_replace(text, std::regex("\"ppca([\":])"), "\"" + name + "$1");
  text = std::regex_replace(text, std::regex("// tapezoo model template: probabilistic PCA trained by the ELBO\\."),
                            "// tapezoo model " + name + ": (copied from the template, probabilistic PCA by the ELBO; ✎ describe yours)");
  return std::regex_replace(text, std::regex("m\\.description = \"[^\"]*\""),
                            "m.description = \"" + name + ": a new model (copied from the ppca template)\"");
}

int cmd_new_model(const std::string& name) {
  if (!std::regex_match(name, std::regex("[a-z][a-z0-9_]*")))
    throw std::invalid_argument(fmt::format("new-model: '{}' is not a valid name (lower case letters, digits and "
                                            "_, starting with a letter)", name));
  for (const ModelInfo& m : registry())
    if (m.name == name) throw std::invalid_argument(fmt::format("new-model: a model named '{}' already exists", name));
  const fs::path root(TAPEZOO_SOURCE_ROOT);
  const fs::path dst = root / "models" / (name + ".cpp"), dst_h = root / "models" / (name + ".hpp");
  for (const fs::path& p : {dst, dst_h})
    if (fs::exists(p)) throw std::invalid_argument(fmt::format("new-model: {} already exists", p.string()));
  const std::string text = renamed_template(read_file((root / "models" / "template" / "ppca.cpp").string()), name);
  const std::string header = renamed_template(read_file((root / "models" / "template" / "ppca.hpp").string()), name);

  auto insert_before = [](const fs::path& file, const std::string& marker, const std::string& line) {
    std::string s = read_file(file.string());
    const auto pos = s.find(marker);
    if (pos == std::string::npos)
      throw std::runtime_error(fmt::format("new-model: {} has no line '{}' to add the model above", file.string(), marker));
    const auto bol = s.rfind('\n', pos) + 1;
    s.insert(bol, line + "\n");
    write_file_atomic(file.string(), s);
  };
  write_file_atomic(dst_h.string(), header);
  write_file_atomic(dst.string(), text);
  insert_before(root / "models" / "registry.cpp", "// new models go above this line",
                fmt::format("      [] {{ extern ModelInfo {0}_info(); return {0}_info(); }}(),", name));
  insert_before(root / "models" / "meson.build", "# new models go above this line",
                fmt::format("  '{}.cpp',", name));
  std::printf("new-model: wrote %s and %s and registered '%s' in models/registry.cpp and models/meson.build.\n"
              "Next: edit the parts marked ✎ (docs/adding-a-model.md), then ./zoo test and ./zoo train %s.\n",
              dst_h.string().c_str(), dst.string().c_str(), name.c_str(), name.c_str());
  return 0;
}

// train, eval and sample: the model's name comes first, to know its flags.
int run_model_command(const std::string& sub, int argc, char** argv) {
  if (argc < 3 || argv[2][0] == '-') {
    std::string names;
    for (const ModelInfo& m : registry()) names += (names.empty() ? "" : ", ") + m.name;
    std::fprintf(stderr, "usage: tapezoo %s <model> [flags]   (models: %s; `tapezoo %s <model> --help` lists the flags)\n",
                 sub.c_str(), names.c_str(), sub.c_str());
    return 2;
  }
  const ModelInfo& info = find_model(argv[2]);
  TrainOptions opt;
  std::map<std::string, std::string> given;
  std::string checkpoint, png;
  std::size_t n_samples = 100;
  CLI::App cmd(fmt::format("tapezoo {} {}: {}", sub, info.name, info.description), "tapezoo " + sub + " " + info.name);
  if (sub == "train") {
    add_loop_flags(cmd, opt, true);
    add_model_flags(cmd, info, given);
  } else if (sub == "eval") {
    add_loop_flags(cmd, opt, false);
    cmd.add_option("--checkpoint", checkpoint, "a checkpoint.npz written by train --out")->required();
    add_model_flags(cmd, info, given);  // evaluation settings such as --iwae override the stored ones
  } else {
    cmd.add_option("--checkpoint", checkpoint, "a checkpoint.npz written by train --out")->required();
    cmd.add_option("--out", png, "the PNG to write")->required();
    cmd.add_option("--n", n_samples, "number of samples")->capture_default_str()->check(flags::positive_integer());
    cmd.add_option("--seed", opt.seed, "seed")->capture_default_str()->check(flags::nonnegative_integer());
    add_path_flag(cmd);
  }
  try {
    cmd.parse(argc - 2, argv + 2);
  } catch (const CLI::ParseError& e) {
    return cmd.exit(e);
  }
  blas::print_kernel_hint_once();
  if (sub == "train") {
    if (cmd.count("--lr") == 0) opt.lr = info.default_lr;
    Config config = Config::from(info.flags, given, info.name);
    if (!opt.resume.empty()) {  // the checkpoint's flags, and those typed again
      ResumePlan plan = resume_options(info, opt, typed_flags(cmd), given);
      config = plan.config;
      opt = plan.opt;
    }
    StopOnSignal stop;  // SIGINT, SIGTERM: finish the step, save the checkpoint, exit 128 + the signal
    TrainResult r = train(info, config, opt);
    if (r.stopped_by != 0) {
      std::fprintf(stderr, "%s\n", interrupted_message(front_end(argv[0]), info, opt, r).c_str());
      return 128 + r.stopped_by;
    }
    if (!opt.json) {
      std::printf("%s: %ld iterations in %.1f s (%.2f ms/iter, %s path)%s\n", info.name.c_str(), r.iters - r.first_iter,
                  r.train_s, r.ms_per_iter, to_string(path()),
                  r.first_iter > 0 ? fmt::format(", resumed at {}", r.first_iter).c_str() : "");
      print_metrics(r.metrics);
      if (!opt.out.empty()) std::printf("wrote %s/{checkpoint.npz, metrics.csv, curves.png, …}\n", opt.out.c_str());
    } else {
      std::printf("%s\n", result_json(info, opt, r).c_str());
    }
    return 0;
  }
  if (sub == "sample") flags::check_output_file(png, "--out");  // before the work, not after it
  Loaded loaded = load_checkpoint(checkpoint);
  if (loaded.info != &info)
    throw std::invalid_argument(fmt::format("--checkpoint {}: it holds a '{}' model, not '{}'", checkpoint,
                                            loaded.info->name, info.name));
  Rng rng(opt.seed + 1);
  if (sub == "eval") {
    if (!given.empty()) {  // rebuild with the overrides, then load the parameters again
      Config c = loaded.config;
      for (const auto& [k, v] : given) c.set(k, v);
      Rng init(0);
      loaded.model = info.make_float(c, init);
      load_parameters(checkpoint, loaded.model->params());
    }
    use_threads(opt.threads);  // the evaluation's chunks on the pool (autograd/parallel.hpp)
    Dataset data = first_test_rows(load_dataset(info, opt.data.empty() ? info.default_data : opt.data, rng), opt.eval);
    Metrics m = loaded.model->evaluate(data, rng);
    if (opt.json) {
      JsonLine j;
      j.add("model", info.name).add("checkpoint", checkpoint);
      for (const auto& [k, v] : m) j.add(k, v);
      std::printf("%s\n", j.str().c_str());
    } else {
      print_metrics(m);
    }
    return 0;
  }
  if (!loaded.model->can_sample())
    throw std::invalid_argument(fmt::format("sample: model '{}' does not draw samples", info.name));
  Array<float> x = loaded.model->sample(n_samples, rng);
  save_image_grid(png, x, {.nrow = 10});
  std::printf("wrote %s (%zu samples)\n", png.c_str(), n_samples);
  return 0;
}

int run(int argc, char** argv) {
  const std::string sub = argc > 1 ? argv[1] : "";
  if (sub == "train" || sub == "eval" || sub == "sample") return run_model_command(sub, argc, argv);

  CLI::App app("tapezoo: a reverse-mode autodiff tape and a model zoo from MLE to variational inference", "tapezoo");
  app.require_subcommand(1);
  app.add_subcommand("list", "the registered models and the tutorials");
  std::string model_name;
  auto* nm = app.add_subcommand("new-model", "copy the template model and register it under NAME");
  nm->add_option("name", model_name, "the new model's name")->required();
  auto* fit = app.add_subcommand("fit", "fit a classical model (gmm)");
  fit->require_subcommand(1);
  add_fit_gmm_command(*fit);
  add_ops_command(app);
  add_claims_command(app);
  add_coursework_commands(app);  // exercise and grade (docs/teaching.md)
  app.add_subcommand("diagnose", "diagnose <model> --checkpoint FILE [--snr] [--active-units]: gradient SNR, active units");
  app.add_subcommand("train", "train <model> [flags]: train a registered model");
  app.add_subcommand("eval", "eval <model> --checkpoint FILE: evaluate a saved model");
  app.add_subcommand("sample", "sample <model> --checkpoint FILE --out PNG: draw samples");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.got_subcommand("list")) return cmd_list();
  if (app.got_subcommand("new-model")) return cmd_new_model(model_name);
  return 0;  // fit's callback ran
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc > 1 && std::string(argv[1]) == "diagnose") return run_diagnose(argc, argv);  // app/cmd_diagnose.cpp
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tapezoo: error: %s\n", e.what());
    return 1;
  }
}
