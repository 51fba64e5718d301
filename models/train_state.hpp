// tapezoo: the training state a checkpoint holds so that --resume continues a run bit for bit
// (models/train.hpp describes the flags; this file, the entries), and the checkpoint helpers that
// the loop (models/train.cpp) shares with the checkpoint files (models/checkpoint.cpp).
//
// A checkpoint of layout 2 is today's checkpoint.npz (the parameters by name, "__model__" and
// "__config__") plus these entries, every one readable by numpy.load:
//   __layout__                    "2" (uint8 text). Without it a file holds parameters only
//                                 (layout 1): `./zoo eval` and `./zoo sample` read both.
//   __train__/options             the loop's flags, one "name=value" line each (uint8 text)
//   __train__/iteration           int64: steps done
//   __train__/rng                 int64 [4]: the xoshiro256** words, as bit patterns
//                                 (numpy: ck["__train__/rng"].view("<u8"))
//   __train__/rng_spare           float64 [0] or [1]: the Box-Muller value kept for the next normal
//   __train__/batch_order         int64 [n]: this epoch's order of the training rows
//   __train__/batch_position      int64: how many of them the batcher has handed out
//   __train__/terms               "loss,nelbo,kl,rec": the loss terms (empty before the first step)
//   __train__/window              float64 [K]: each term's sum since the last metrics row
//   __train__/window_count        int64: steps in those sums
//   __train__/log_iterations      float64 [P]   the P metrics.csv rows so far: their iteration,
//   __train__/log_means           float64 [P, K]  the K means and
//   __train__/log_seconds         float64 [P]   the seconds column
//   __train__/seconds             float64: training seconds before this checkpoint
//   __adam__/step                 int64: Adam's t
//   __adam__/m/<name>, __adam__/v/<name>   float32: the moments of parameter <name>, its shape
#pragma once

#include <map>
#include <string>
#include <vector>

#include "autograd/random.hpp"
#include "io/npz.hpp"
#include "models/model.hpp"

namespace tz::models {

struct TrainOptions;

inline constexpr const char* kTrainLayout = "2";

struct TrainState {
  long iteration = 0;
  Rng::State rng{};
  std::vector<std::size_t> batch_order;
  std::size_t batch_position = 0;
  std::vector<std::string> terms;
  std::vector<double> window;
  long window_count = 0;
  std::vector<double> log_iterations, log_seconds;
  std::vector<std::vector<double>> log_means;  // [P][K]
  double seconds = 0;
  long adam_steps = 0;
  std::vector<Array<float>> adam_m, adam_v;  // one per parameter, in ParamSet order
};

// uint8 text, as "__model__" and "__config__" are stored.
NdArray text_array(const std::string& s);
// The text of entry `key`; a FileError naming `path` if it is missing or not uint8.
std::string text_entry(const std::string& path, const std::map<std::string, NdArray>& file, const std::string& key);

// Throws a FileError naming `path` unless the file holds layout 2; the message says what it holds.
void check_train_layout(const std::string& path, const std::map<std::string, NdArray>& file);

// Appends the state's entries (all but the parameters, __model__ and __config__).
void append_train_state(NamedArrays& out, const TrainState& s, const std::string& options_text,
                        const std::vector<const Param<float>*>& params);
// Reads them back; each entry's dtype and shape is checked, and the moments against `params`.
TrainState read_train_state(const std::string& path, const std::map<std::string, NdArray>& file,
                            const std::vector<Param<float>*>& params);

// The loop's options by flag name ("batch" → "100"), as __train__/options stores them; numbers
// in a form that reads back exactly. `data` is resolved to the model's default when empty.
Config options_config(const TrainOptions& opt, const ModelInfo& info);
// Back from that form; `source` names the file in errors.
TrainOptions options_from(const Config& c, const std::string& source);

// The flags whose values decide the numbers, which a resumed run must share with its checkpoint.
// (--iters, --threads, --step-threads and --save-every may change; --quiet and --json are not stored.)
const std::vector<std::string>& options_that_must_agree();

// ---- checkpoint entries the loop (train.cpp) and the checkpoint files (checkpoint.cpp) share -------

// Layout 1: "__model__" (info.name), "__config__" (config.serialize()) and the parameters by name.
NamedArrays checkpoint_arrays(const ModelInfo& info, const Config& config, const Model<float>& model);
// The parameters from a checkpoint already read: every missing, unexpected or misshapen one is
// listed in one FileError naming `path`, and then nothing has changed. Gradients are zeroed.
void load_parameters(const std::string& path, const std::map<std::string, NdArray>& file, nn::ParamSet<float>& params);

// For --resume DIR: a FileError unless `path` (DIR/checkpoint.npz) exists, saying what writes it.
void require_checkpoint_file(const std::string& path, const std::string& resume);
// A FileError unless the file holds a model called info.name (the message says how to resume the
// one it holds) and the training state of layout 2.
void check_checkpoint_model(const std::string& path, const std::map<std::string, NdArray>& file, const ModelInfo& info,
                            const std::string& resume);

}  // namespace tz::models
