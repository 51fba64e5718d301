// tapezoo: the thread pool of autograd/parallel.hpp. One job at a time: the caller publishes it,
// wakes the workers, claims chunks itself from the same counter, and waits until every worker that
// joined has left, so that the job (on the caller's stack) outlives every use of it.
#include "autograd/parallel.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "autograd/blas.hpp"

namespace tz {

namespace {

unsigned read_fp_control() {
#if defined(__SSE__)
  return _mm_getcsr();
#else
  return 0;
#endif
}

void write_fp_control([[maybe_unused]] unsigned csr) {
#if defined(__SSE__)
  _mm_setcsr(csr);
#endif
}

std::uint64_t mix64(std::uint64_t z) {  // the splitmix64 finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

thread_local bool in_job = false;  // true on a thread while it runs chunks of a job

struct Job {
  const std::function<void(std::size_t)>* fn = nullptr;
  std::size_t n = 0;
  std::atomic<std::size_t> next{0};  // the next unclaimed chunk
  unsigned csr = 0;                  // the caller's floating-point control word
  std::mutex error_mutex;
  std::size_t error_chunk = std::numeric_limits<std::size_t>::max();
  std::exception_ptr error;

  // Claims and runs chunks until none is left.
  void run() {
    in_job = true;
    for (std::size_t c; (c = next.fetch_add(1, std::memory_order_relaxed)) < n;) {
      try {
        (*fn)(c);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (c < error_chunk) {
          error_chunk = c;
          error = std::current_exception();
        }
      }
    }
    in_job = false;
  }
};

class Pool {
 public:
  ~Pool() { resize(1); }

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  void resize(int n) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    stop_ = false;
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { work(); });
  }

  void run(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    job.run();
    std::unique_lock<std::mutex> lock(mutex_);
    // Every chunk is claimed; those still running belong to workers counted in active_.
    done_.wait(lock, [&] { return active_ == 0; });
    job_ = nullptr;  // a worker that wakes from now on finds no job
  }

 private:
  void work() {
    std::uint64_t seen = 0;
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
        if (job == nullptr) continue;
        ++active_;
      }
      write_fp_control(job->csr);
      job->run();
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --active_;
      }
      done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Job* job_ = nullptr;
  std::uint64_t generation_ = 0;
  int active_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int pool_threads() { return pool().threads(); }

void set_pool_threads(int n) {
  if (n < 1) throw std::invalid_argument("set_pool_threads: expected at least 1 thread, got " + std::to_string(n));
  if (in_job) throw std::logic_error("set_pool_threads: called from inside a parallel_for job");
  if (n != pool().threads()) pool().resize(n);
}

void use_threads(int n) {
  blas::set_threads(1);
  set_pool_threads(n);
}

void parallel_for(std::size_t n_chunks, const std::function<void(std::size_t)>& fn) {
  Job job;
  job.fn = &fn;
  job.n = n_chunks;
  if (in_job || n_chunks <= 1 || pool().threads() == 1) {
    // Nested, or nothing to share: this thread runs the chunks in order (in_job stays as it was).
    const bool outer = in_job;
    job.run();
    in_job = outer;
  } else {
    job.csr = read_fp_control();
    // Several callers into OpenBLAS at once, each at one BLAS thread (docs/pitfalls.md#blas-threads).
    const int blas_threads = blas::threads();
    if (blas_threads > 1) blas::set_threads(1);
    pool().run(job);
    if (blas_threads > 1) blas::set_threads(blas_threads);
  }
  if (job.error) std::rethrow_exception(job.error);
}

Rng chunk_rng(std::uint64_t seed, std::size_t c) {
  return Rng(mix64(mix64(seed) ^ (0x9e3779b97f4a7c15ULL * (static_cast<std::uint64_t>(c) + 1))));
}

}  // namespace tz
