// Tests of --save-every, --resume and the signal handling of the shared training loop
// (models/train.hpp): a run stopped and resumed gives the same bits as one run straight through
// (parameters, Adam's moments, the generator, the data order, metrics.csv but for its wall-clock
// column, the final metrics), for the VAE and the SSVAE; checkpoints of another layout or another
// model, and flags that disagree, are errors that name the file or flag and what was expected; and
// a real `tapezoo train --save-every 50` killed by SIGINT, SIGTERM or SIGKILL exits with 130, 143 or
// by the signal, and resumes from its last checkpoint to the straight run's bits.
#include <doctest/doctest.h>

#include "tests/read_text.hpp"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autograd/blas.hpp"
#include "datasets/idx.hpp"
#include "datasets/npy.hpp"
#include "io/npz.hpp"
#include "models/vae_common.hpp"  // tiny_stroke_images
#include "models/train.hpp"
#include "models/train_state.hpp"  // options_config, options_from
#include "tests/test_helpers.hpp"

using namespace tz;
using namespace tz::models;
using tz::test::contains;
using tz::test::TempDir;

namespace {

// ---- tiny runs ----------------------------------------------------------------------------------------

// The conformance suite's tiny images (200 training and 100 test rows of 28×28 strokes, 10 classes)
// as a folder of IDX files, which `--data DIR` reads like MNIST.
std::string write_tiny_images(const TempDir& tmp) {
  const std::string dir = tmp / "data";
  std::filesystem::create_directories(dir);
  Rng rng(11);
  const Dataset d = tiny_stroke_images(rng);
  auto write = [&](const Array<float>& x, const std::vector<int>& y, const std::string& images,
                   const std::string& labels) {
    IdxImages im;
    im.count = x.shape()[0];
    im.rows = im.cols = 28;
    for (float v : x) im.pixels.push_back(static_cast<std::uint8_t>(std::lround(v * 255)));
    write_idx_images(dir + "/" + images, im);
    write_idx_labels(dir + "/" + labels, std::vector<std::uint8_t>(y.begin(), y.end()));
  };
  write(d.train_x, d.train_y, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
  write(d.test_x, d.test_y, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
  return dir;
}

// A model's own tiny data set on disk, in a form `--data` reads: a folder of IDX files for labelled
// 28×28 images, else a .npy matrix of the training rows then the test rows (the loader keeps the
// last tenth for testing).
std::string write_tiny_data(const ModelInfo& info, const TempDir& tmp) {
  Rng rng(12);
  const Dataset d = info.tiny_data(rng);
  if (d.rows == 28 && d.cols == 28 && !d.train_y.empty()) return write_tiny_images(tmp);
  const std::size_t n = d.train_x.shape()[0], m = d.test_x.shape()[0], dim = d.train_x.shape()[1];
  xt::xarray<double> x = xt::xarray<double>::from_shape({n + m, dim});
  for (std::size_t i = 0; i < n * dim; ++i) x.data()[i] = d.train_x.data()[i];
  for (std::size_t i = 0; i < m * dim; ++i) x.data()[n * dim + i] = d.test_x.data()[i];
  const std::string path = tmp / (info.name + ".npy");
  save_npy(path, x);
  return path;
}

Config tiny_config(const ModelInfo& info) { return Config::from(info.flags, info.tiny_flags, info.name); }

// metrics.csv rows at 25, 50, …: 100 is one of them, so a run of 100 ends on a full window.
TrainOptions tiny_options(const std::string& data, const std::string& out, long iters) {
  TrainOptions o;
  o.data = data;
  o.out = out;
  o.iters = iters;
  o.batch = 16;
  o.seed = 5;
  o.eval = 50;
  o.log_every = 25;
  o.quiet = true;
  return o;
}

// ---- comparisons, element by element ------------------------------------------------------------------

// Every parameter of a and b holds the same bits.
void check_same_parameters(const Model<float>& a, const Model<float>& b) {
  const auto pa = a.params().all(), pb = b.params().all();
  REQUIRE(pa.size() == pb.size());
  for (std::size_t k = 0; k < pa.size(); ++k) {
    CAPTURE(pa[k]->name);
    REQUIRE(pa[k]->value.shape() == pb[k]->value.shape());
    std::size_t differ = 0, first = 0;
    for (std::size_t i = 0; i < pa[k]->value.size(); ++i)
      if (std::memcmp(&pa[k]->value.data()[i], &pb[k]->value.data()[i], sizeof(float)) != 0 && differ++ == 0) first = i;
    CHECK_MESSAGE(differ == 0, differ << " elements differ, the first at " << first << ": "
                                      << pa[k]->value.data()[first] << " vs " << pb[k]->value.data()[first]);
  }
}

// The two checkpoints hold the same entries with the same bytes, except the wall-clock ones.
void check_same_checkpoint(const std::string& a, const std::string& b) {
  const auto fa = load_npz(a), fb = load_npz(b);
  std::vector<std::string> na, nb;
  for (const auto& [k, v] : fa) na.push_back(k);
  for (const auto& [k, v] : fb) nb.push_back(k);
  REQUIRE(na == nb);
  CHECK(fa.count("__adam__/step") == 1);  // the training state is there
  for (const auto& [name, x] : fa) {
    if (name == "__train__/seconds" || name == "__train__/log_seconds") continue;
    CAPTURE(name);
    const NdArray& y = fb.at(name);
    CHECK(x.dtype == y.dtype);
    CHECK(x.shape == y.shape);
    if (x.bytes == y.bytes) continue;
    std::size_t first = 0;
    while (first < x.bytes.size() && first < y.bytes.size() && x.bytes[first] == y.bytes[first]) ++first;
    FAIL_CHECK("the bytes differ from byte " << first << " of " << x.bytes.size());
  }
}

// metrics.csv without its last column (seconds of wall clock), line by line.
std::vector<std::string> metrics_rows(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), path << " is missing");
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(line.substr(0, line.rfind(',')));
  return rows;
}

long stored_iteration(const std::string& checkpoint) {
  const auto file = load_npz(checkpoint);
  const NdArray& a = file.at("__train__/iteration");
  REQUIRE(a.dtype == DType::i8);
  std::int64_t v = 0;
  std::memcpy(&v, a.bytes.data(), sizeof v);
  return static_cast<long>(v);
}

// A straight run and a run stopped then resumed agree on everything.
void check_same_runs(const TrainResult& straight, const TrainResult& resumed, const Model<float>& a,
                     const Model<float>& b, const std::string& dir_a, const std::string& dir_b) {
  check_same_parameters(a, b);
  check_same_checkpoint(checkpoint_path(dir_a), checkpoint_path(dir_b));
  const auto rows_a = metrics_rows(dir_a + "/metrics.csv"), rows_b = metrics_rows(dir_b + "/metrics.csv");
  CHECK(rows_a == rows_b);
  REQUIRE(straight.metrics.size() == resumed.metrics.size());
  for (std::size_t k = 0; k < straight.metrics.size(); ++k) {
    CAPTURE(straight.metrics[k].first);
    CHECK(straight.metrics[k].first == resumed.metrics[k].first);
    CHECK(std::memcmp(&straight.metrics[k].second, &resumed.metrics[k].second, sizeof(double)) == 0);
  }
  CHECK(straight.curve_iter == resumed.curve_iter);
  CHECK(straight.curves == resumed.curves);
  CHECK(straight.final_train == resumed.final_train);
}

// 200 iterations straight, and 100, then --resume to 200.
void check_resume_is_exact(const std::string& model) {
  const ModelInfo& info = find_model(model);
  const Config config = tiny_config(info);
  TempDir tmp;
  const std::string data = write_tiny_images(tmp);
  std::unique_ptr<Model<float>> a, b;
  const TrainResult straight = train(info, config, tiny_options(data, tmp / "straight", 200), &a);

  TrainOptions first = tiny_options(data, tmp / "resumed", 100);
  const TrainResult part = train(info, config, first);
  CHECK(part.iters == 100);
  CHECK(metrics_rows(tmp / "resumed/metrics.csv").size() == 1 + 4);
  TrainOptions second = tiny_options(data, tmp / "resumed", 200);
  second.resume = tmp / "resumed";
  const TrainResult resumed = train(info, config, second, &b);
  CHECK(resumed.first_iter == 100);
  CHECK(resumed.iters == 200);
  CHECK(metrics_rows(tmp / "resumed/metrics.csv").size() == 1 + 8);
  check_same_runs(straight, resumed, *a, *b, tmp / "straight", tmp / "resumed");
}

}  // namespace

TEST_CASE("resume: vae, 100 iterations then --resume to 200 give the bits of 200 in one go") {
  check_resume_is_exact("vae");
}

TEST_CASE("resume: ssvae, 100 iterations then --resume to 200 give the bits of 200 in one go") {
  check_resume_is_exact("ssvae");
}

TEST_CASE("resume: every registered model, 60 iterations then --resume to 120, gives the bits of 120 in one go") {
  for (const ModelInfo& info : registry()) {
    CAPTURE(info.name);
    if (!info.tiny_data) {
      MESSAGE("skipped " << info.name << ": it has no tiny_data");
      continue;
    }
    const Config config = tiny_config(info);
    TempDir tmp;
    const std::string data = write_tiny_data(info, tmp);
    TrainOptions opt = tiny_options(data, tmp / "straight", 120);
    opt.lr = info.conformance_lr;
    opt.log_every = 20;
    std::unique_ptr<Model<float>> a, b;
    const TrainResult straight = train(info, config, opt, &a);
    opt.out = tmp / "resumed";
    opt.iters = 60;
    train(info, config, opt);
    opt.iters = 120;
    opt.resume = opt.out;
    const TrainResult resumed = train(info, config, opt, &b);
    CHECK(resumed.first_iter == 60);
    CHECK(metrics_rows(tmp / "resumed/metrics.csv").size() == 1 + 6);
    check_same_runs(straight, resumed, *a, *b, tmp / "straight", tmp / "resumed");
  }
}

TEST_CASE("resume: a SIGINT before the first step stops after it with a checkpoint; resuming is exact (cosine lr)") {
  for (const std::string model : {"vae", "ssvae"}) {
    CAPTURE(model);
    const ModelInfo& info = find_model(model);
    const Config config = tiny_config(info);
    TempDir tmp;
    const std::string data = write_tiny_images(tmp);
    TrainOptions opt = tiny_options(data, tmp / "straight", 120);
    opt.lr_schedule = "cosine";
    opt.log_every = 50;  // a partial window at the end, 120
    std::unique_ptr<Model<float>> a, b;
    const TrainResult straight = train(info, config, opt, &a);

    opt.out = tmp / "stopped";
    TrainResult stopped;
    {
      StopOnSignal stop;
      REQUIRE(::raise(SIGINT) == 0);  // the handler only sets the flag, read after each step
      CHECK(StopOnSignal::requested() == SIGINT);
      stopped = train(info, config, opt);
    }
    CHECK(StopOnSignal::requested() == 0);  // a new StopOnSignal starts afresh; none is alive now
    CHECK(stopped.stopped_by == SIGINT);
    CHECK(stopped.iters == 1);
    CHECK(stored_iteration(checkpoint_path(opt.out)) == 1);
    CHECK(stopped.metrics.empty());  // no evaluation
    CHECK(interrupted_message("./zoo", info, opt, stopped) ==
          "interrupted at iteration 1: resume with ./zoo train " + model + " --resume " + opt.out);

    opt.resume = opt.out;
    const TrainResult resumed = train(info, config, opt, &b);
    CHECK(resumed.stopped_by == 0);
    check_same_runs(straight, resumed, *a, *b, tmp / "straight", tmp / "stopped");
  }
}

TEST_CASE("resume: what tapezoo prints when a signal stopped the run") {
  const ModelInfo& info = find_model("ssvae");
  TrainOptions opt;
  opt.iters = 1000;
  opt.out = "out/ssvae";
  TrainResult r;
  r.iters = 137;
  r.stopped_by = SIGINT;
  CHECK(interrupted_message("./zoo", info, opt, r) == "interrupted at iteration 137: resume with ./zoo train ssvae --resume out/ssvae");
  opt.out = "my runs/it's";
  CHECK(interrupted_message("tapezoo", info, opt, r) ==
        "interrupted at iteration 137: resume with tapezoo train ssvae --resume 'my runs/it'\\''s'");
  opt.out.clear();
  CHECK(interrupted_message("./zoo", info, opt, r) ==
        "interrupted at iteration 137: nothing was saved (without --out there is no checkpoint)");
  r.iters = 1000;  // the signal came during the evaluation
  opt.out = "out/ssvae";
  CHECK(interrupted_message("./zoo", info, opt, r) ==
        "interrupted after the last iteration (1000): the run is complete, and out/ssvae holds all it writes");
}

TEST_CASE("resume: --iters may grow, never fall below the checkpoint; the options come from the checkpoint, --step-threads too") {
  const ModelInfo& info = find_model("vae");
  const Config config = tiny_config(info);
  TempDir tmp;
  const std::string data = write_tiny_images(tmp);
  const std::string dir = tmp / "run";
  TrainOptions first = tiny_options(data, dir, 100);
  first.step_threads = 2;
  train(info, config, first);

  // The CLI's merge: what was not typed comes from the checkpoint, what was typed from the command line.
  TrainOptions cli;  // every member at its default: batch 100, seed 0, …
  cli.resume = dir;
  cli.iters = 150;
  cli.threads = 1;
  const ResumePlan plan = resume_options(info, cli, {"iters", "threads"}, {{"z", "2.0"}});
  CHECK(plan.opt.iters == 150);
  CHECK(plan.opt.batch == 16);
  CHECK(plan.opt.seed == 5);
  CHECK(plan.opt.log_every == 25);
  CHECK(plan.opt.eval == 50);
  CHECK(plan.opt.step_threads == 2);  // not typed again: the run's own, so the resume stays exact
  TrainOptions retyped = cli;
  retyped.step_threads = 3;
  CHECK(resume_options(info, retyped, {"step-threads"}, {}).opt.step_threads == 3);  // typed again: the new count
  // A checkpoint written before the flag existed has no such entry: its steps ran on one thread.
  const Config now = options_config(plan.opt, info);
  Config old;
  for (const auto& [k, v] : now.values())
    if (k != "step-threads") old.set(k, v);
  CHECK(options_from(old, "test").step_threads == 1);
  CHECK(plan.opt.data == data);
  CHECK(plan.opt.out == dir);
  CHECK(plan.config.str("z") == "2");  // 2.0 is the stored 2
  CHECK(plan.config.str("hidden") == "16");
  const TrainResult more = train(info, plan.config, plan.opt);
  CHECK(more.first_iter == 100);
  CHECK(more.iters == 150);
  CHECK(stored_iteration(checkpoint_path(dir)) == 150);

  TrainOptions fewer = plan.opt;
  fewer.iters = 120;
  try {
    train(info, plan.config, fewer);
    FAIL("expected an error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == "--iters 120: the checkpoint " + checkpoint_path(dir) + " is at iteration 150 already");
  }
}

TEST_CASE("resume: old layouts, other models and disagreeing flags are errors naming the file and what was expected") {
  const ModelInfo& vae = find_model("vae");
  const Config config = tiny_config(vae);
  TempDir tmp;
  const std::string data = write_tiny_images(tmp);
  const std::string good = tmp / "good";
  train(vae, config, tiny_options(data, good, 30));
  auto resume_error = [&](const ModelInfo& info, const Config& c, TrainOptions o) -> std::string {
    o.resume = o.out;
    try {
      train(info, c, o);
    } catch (const std::exception& e) {
      return e.what();
    }
    FAIL("expected an error");
    return {};
  };

  SUBCASE("a checkpoint of parameters only (layout 1)") {
    const std::string dir = tmp / "old";
    std::filesystem::create_directories(dir);
    save_checkpoint(checkpoint_path(dir), vae, config, *load_checkpoint(checkpoint_path(good)).model);
    const std::string msg = resume_error(vae, config, tiny_options(data, dir, 60));
    CHECK(msg == "checkpoint " + checkpoint_path(dir) + ": it holds parameters only (layout 1, no '__layout__' entry: "
                 "written by an older tapezoo), but resuming needs the training state of layout 2; `./zoo eval` and "
                 "`./zoo sample` still read it");
  }
  SUBCASE("a '__layout__' of another version") {
    const std::string dir = tmp / "future";
    std::filesystem::create_directories(dir);
    NamedArrays arrays = read_npz(checkpoint_path(good));
    for (auto& [name, a] : arrays)
      if (name == "__layout__") a.bytes = "7";
    save_npz(checkpoint_path(dir), arrays);
    const std::string msg = resume_error(vae, config, tiny_options(data, dir, 60));
    CHECK(msg == "checkpoint " + checkpoint_path(dir) + ": '__layout__' is '7', but this tapezoo resumes layout 2 only");
  }
  SUBCASE("an entry of the wrong shape") {
    const std::string dir = tmp / "bad";
    std::filesystem::create_directories(dir);
    NamedArrays arrays = read_npz(checkpoint_path(good));
    for (auto& [name, a] : arrays)
      if (name == "__train__/rng") {
        a.shape = {3};
        a.bytes.resize(24);
      }
    save_npz(checkpoint_path(dir), arrays);
    const std::string msg = resume_error(vae, config, tiny_options(data, dir, 60));
    CHECK(msg == "checkpoint " + checkpoint_path(dir) + ": '__train__/rng' is <i8 [3], but a layout 2 checkpoint "
                 "stores <i8 of 1 dimension(s) and 4 element(s)");
  }
  SUBCASE("a checkpoint of another model") {
    const ModelInfo& ssvae = find_model("ssvae");
    const std::string msg = resume_error(ssvae, tiny_config(ssvae), tiny_options(data, good, 60));
    CHECK(msg == "checkpoint " + checkpoint_path(good) + ": it holds a 'vae' model, but 'ssvae' was asked for "
                 "(resume it with `train vae --resume " + good + "`)");
    TrainOptions cli;
    cli.resume = good;
    const std::string cli_msg = tz::test::file_error([&] { resume_options(ssvae, cli, {}, {}); });
    CHECK(cli_msg == msg);
  }
  SUBCASE("flags that disagree with the checkpoint's") {
    TrainOptions o = tiny_options(data, good, 60);
    o.batch = 32;
    Config other = config;
    other.set("z", "3");
    const std::string msg = resume_error(vae, other, o);
    CHECK(msg == "--resume " + good + ": --z 3 disagrees with the checkpoint's --z 2; --batch 32 disagrees with the "
                 "checkpoint's --batch 16 (flags given again must agree with " + checkpoint_path(good) +
                 "; leave them out to take its values)");
  }
  SUBCASE("--iters changed under an lr schedule that decays") {
    TrainOptions o = tiny_options(data, tmp / "cosine", 30);
    o.lr_schedule = "cosine";
    train(vae, config, o);
    o.iters = 60;
    const std::string msg = resume_error(vae, config, o);
    CHECK(msg == "--resume " + o.out + ": --iters 60 disagrees with the checkpoint's --iters 30, for which its lr "
                 "schedule (cosine) is laid out (only a constant one lets --iters change) (flags given again must "
                 "agree with " + checkpoint_path(o.out) + "; leave them out to take its values)");
  }
  SUBCASE("no checkpoint in the folder") {
    const std::string dir = tmp / "empty";
    const std::string msg = resume_error(vae, config, tiny_options(data, dir, 60));
    CHECK(msg == "--resume " + dir + ": there is no checkpoint " + checkpoint_path(dir) + " (a run writes it with --out " +
                 dir + ")");
  }
  SUBCASE("--save-every without --out, and --out naming another folder than --resume") {
    TrainOptions o = tiny_options(data, "", 60);
    o.save_every = 10;
    try {
      train(vae, config, o);
      FAIL("expected an error");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()) == "--save-every 10 needs --out DIR, the folder its checkpoints go to");
    }
    TrainOptions cli;
    cli.resume = good;
    cli.out = tmp / "elsewhere";
    try {
      resume_options(vae, cli, {"out"}, {});
      FAIL("expected an error");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()) == "--out " + cli.out + " with --resume " + good +
                                         ": a resumed run writes into the folder it resumes from (leave --out out)");
    }
  }
}

TEST_CASE("resume: eval and sample read checkpoints with the training state, and parameters-only ones") {
  const ModelInfo& vae = find_model("vae");
  const Config config = tiny_config(vae);
  TempDir tmp;
  const std::string data = write_tiny_images(tmp);
  std::unique_ptr<Model<float>> trained;
  train(vae, config, tiny_options(data, tmp / "new", 30), &trained);
  std::filesystem::create_directories(tmp / "old");
  save_checkpoint(checkpoint_path(tmp / "old"), vae, config, *trained);
  for (const std::string& dir : {tmp / "new", tmp / "old"}) {
    CAPTURE(dir);
    const Loaded loaded = load_checkpoint(checkpoint_path(dir));
    CHECK(loaded.info == &vae);
    CHECK(loaded.config.values() == config.values());
    check_same_parameters(*loaded.model, *trained);
    Rng r1(3), r2(3);
    CHECK(loaded.model->sample(2, r1) == trained->sample(2, r2));
  }
}

// ---- a real tapezoo process, stopped by a signal ------------------------------------------------------

namespace {

// The tapezoo program of this build: <build>/app/tapezoo, next to <build>/tests/ (this file).
std::string tapezoo_program() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path().parent_path() / "app" / "tapezoo").string();
}

using tz::test::read_text;

// A child process running tapezoo with its output in files; killed and reaped if the test ends first.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& log) : log_(log) {
    std::vector<std::string> all{tapezoo_program()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {  // only async-signal-safe calls until exec
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0) ::_exit(126);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      ::sigaction(SIGINT, &dfl, nullptr);
      ::sigaction(SIGTERM, &dfl, nullptr);
      sigset_t none;
      ::sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  std::string output() const { return read_text(log_); }
  // The wait status once it has ended, or -1 if it is still running.
  int poll() {
    int status = 0;
    if (pid_ <= 0) return status_;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      status_ = status;
    }
    return pid_ > 0 ? -1 : status_;
  }
  // The wait status; fails the test after `seconds` (the destructor then kills it).
  int wait(double seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      const int s = poll();
      if (s != -1) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    FAIL("tapezoo did not end within " << seconds << " s; its output:\n" << output());
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_;
};

// Waits until `path` exists, polling; fails if the child ends first or after `seconds`.
void wait_for_file(const std::string& path, Child& child, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!std::filesystem::exists(path)) {
    REQUIRE_MESSAGE(child.poll() == -1, "tapezoo ended before writing " << path << ":\n" << child.output());
    REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline,
                    path << " did not appear within " << seconds << " s:\n" << child.output());
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

TEST_CASE("resume: tapezoo train --save-every 50, killed by SIGINT, SIGTERM or SIGKILL, resumes to the straight run's bits") {
  const std::string program = tapezoo_program();
  REQUIRE_MESSAGE(std::filesystem::exists(program), program << " is missing: build the whole project");
  const ModelInfo& info = find_model("vae");
  const Config config = tiny_config(info);
  TempDir tmp;
  const std::string data = write_tiny_images(tmp);
  // SIGINT twice: the second one ends it at once, with 130 too, or the two arrive as one; either
  // way the checkpoint on disk is whole (the last periodic one, or the one the first signal wrote).
  struct Case {
    const char* name;
    int sig, times;
  };
  for (const Case c : {Case{"SIGINT", SIGINT, 1}, Case{"SIGTERM", SIGTERM, 1}, Case{"SIGKILL", SIGKILL, 1},
                       Case{"SIGINT twice", SIGINT, 2}}) {
    CAPTURE(c.name);
    const std::string dir = tmp / ("run-" + std::to_string(c.sig) + "-" + std::to_string(c.times));
    // Far more iterations than it will get through: it is stopped long before the end, wherever that is.
    Child run({"train", "vae", "--data", data, "--z", "2", "--hidden", "16", "--iwae", "1,4", "--batch", "16", "--seed",
               "5", "--eval", "50", "--log-every", "25", "--iters", "100000000", "--save-every", "50", "--quiet",
               "--out", dir},
              tmp / "log.txt");
    wait_for_file(checkpoint_path(dir), run, 120);  // the first periodic save, at iteration 50
    for (int i = 0; i < c.times; ++i) REQUIRE(::kill(run.pid(), c.sig) == 0);  // (a zombie can still be sent one)
    const int status = run.wait(120);
    const std::string out = run.output();
    INFO("tapezoo printed:\n" << out);
    const long k = stored_iteration(checkpoint_path(dir));  // load_npz checks every member's CRC
    CHECK(k >= 50);
    if (c.sig == SIGKILL) {
      CHECK(WIFSIGNALED(status));
      CHECK(WTERMSIG(status) == SIGKILL);
      CHECK(k % 50 == 0);  // the last periodic checkpoint
    } else {
      REQUIRE(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 128 + c.sig);
      if (c.times == 1) {
        CHECK(contains(out, "interrupted at iteration " + std::to_string(k) + ": resume with "));
        CHECK(contains(out, " train vae --resume " + dir + "\n"));
      }
    }

    // Resumed, by flags taken from the checkpoint, to k + 30; then the same run straight through.
    const long total = k + 30;
    Child resumed({"train", "vae", "--resume", dir, "--iters", std::to_string(total), "--quiet"}, tmp / "log2.txt");
    const int resumed_status = resumed.wait(120);
    INFO("the resumed tapezoo printed:\n" << resumed.output());
    REQUIRE(WIFEXITED(resumed_status));
    REQUIRE(WEXITSTATUS(resumed_status) == 0);
    CHECK(stored_iteration(checkpoint_path(dir)) == total);
    TrainOptions straight_opt = tiny_options(data, dir + "-straight", total);
    straight_opt.save_every = 50;
    std::unique_ptr<Model<float>> straight_model;
    const TrainResult straight = train(info, config, straight_opt, &straight_model);
    check_same_parameters(*straight_model, *load_checkpoint(checkpoint_path(dir)).model);
    check_same_checkpoint(checkpoint_path(straight_opt.out), checkpoint_path(dir));
    CHECK(metrics_rows(straight_opt.out + "/metrics.csv") == metrics_rows(dir + "/metrics.csv"));
    CHECK(straight.iters == total);
  }
}

TEST_CASE("resume: the tapezoo CLI refuses --save-every without --out, and flags that disagree with the checkpoint; --step-threads reaches the steps") {
  const std::string program = tapezoo_program();
  REQUIRE_MESSAGE(std::filesystem::exists(program), program << " is missing: build the whole project");
  TempDir tmp;
  const std::string data = write_tiny_images(tmp);
  const std::vector<std::string> tiny{"train", "vae", "--data", data, "--z", "2", "--hidden", "16", "--iwae", "1,4",
                                      "--batch", "16", "--eval", "20", "--quiet"};
  auto run = [&](std::vector<std::string> args) {
    Child child(args, tmp / "log.txt");
    const int status = child.wait(120);
    REQUIRE(WIFEXITED(status));
    return std::make_pair(WEXITSTATUS(status), child.output());
  };
  std::vector<std::string> no_out = tiny;
  no_out.insert(no_out.end(), {"--iters", "10", "--save-every", "5"});
  const auto [code, out] = run(no_out);
  CHECK(code == 1);
  CHECK(contains(out, "tapezoo: error: --save-every 5 needs --out DIR, the folder its checkpoints go to\n"));

  // --step-threads N: the steps' products on N OpenBLAS threads (docs/threads.md#training)
  const int blas_before = tz::blas::threads();
  tz::blas::set_threads(2);
  const int asked = tz::blas::threads();  // 2, or 1 in an OpenBLAS built for one thread
  tz::blas::set_threads(blas_before);
  std::vector<std::string> threaded = tiny;
  threaded.insert(threaded.end(), {"--iters", "5", "--step-threads", "2", "--json"});
  const auto [code1, out1] = run(threaded);
  CHECK(code1 == 0);
  CHECK(contains(out1, "\"threads\": 1, \"step_threads\": " + std::to_string(asked) + ","));

  std::vector<std::string> first = tiny;
  first.insert(first.end(), {"--iters", "20", "--out", tmp / "run"});
  CHECK(run(first).first == 0);
  const auto [code2, out2] = run({"train", "vae", "--resume", tmp / "run", "--iters", "40", "--batch", "8", "--z", "4"});
  CHECK(code2 == 1);
  CHECK(contains(out2, "tapezoo: error: --resume " + tmp / "run" + ": --z 4 disagrees with the checkpoint's --z 2; "
                       "--batch 8 disagrees with the checkpoint's --batch 16 (flags given again must agree with " +
                       checkpoint_path(tmp / "run") + "; leave them out to take its values)\n"));
  const auto [code3, out3] = run({"eval", "vae", "--checkpoint", checkpoint_path(tmp / "run"), "--data", data, "--eval", "20"});
  CHECK(code3 == 0);
  CHECK(contains(out3, "test_nelbo"));
  const auto [code4, out4] = run({"sample", "vae", "--checkpoint", checkpoint_path(tmp / "run"), "--out", tmp / "s.png", "--n", "4"});
  CHECK(code4 == 0);
  CHECK(std::filesystem::exists(tmp / "s.png"));
}
