// tapezoo: the thread pool behind --threads. Evaluation (IWAE-k over images, the grid quadrature),
// the GMM E-step and its moments run in chunks of work that are fixed by the data, never by the
// number of threads:
//
//   const std::uint64_t seed = rng.next_u64();              // one draw from the caller's generator
//   std::vector<double> per_chunk(n_chunks);
//   tz::parallel_for(n_chunks, [&](std::size_t c) {          // c = 0, 1, … in any order, on any thread
//     Rng chunk_rng = tz::chunk_rng(seed, c);                // the same numbers for chunk c every run
//     per_chunk[c] = work(c, chunk_rng);                     // writes only its own slot
//   });
//   double total = 0;
//   for (double v : per_chunk) total += v;                   // combined in chunk order
//
// Each chunk computes the same values whichever thread runs it, and the caller combines them in
// chunk order, so the result is bit for bit the same for every thread count (tests/test_parallel.cpp).
//
// What a worker shares with the caller, and why it is safe (the engine's global state):
//   - a Tape, its no-grad flag and its anomaly flag belong to one tape: each chunk makes its own;
//   - the textbook/fast switch (autograd/path.hpp) is an atomic that workers only read;
//   - an Rng is passed explicitly: each chunk draws from its own chunk_rng;
//   - Param values are read in place by Tape::param and not written while a pool job runs; the ops'
//     scratch buffers are thread_local;
//   - OpenBLAS: its thread count is global to the process; a job on more than one thread runs it at
//     one thread (docs/pitfalls.md#blas-threads) and restores the count after;
//   - the floating-point control word (MXCSR: flush-to-zero, denormals-are-zero, rounding) is per
//     thread: every worker takes the caller's for the job, so a chunk rounds the same on every thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "autograd/random.hpp"

namespace tz {

// The pool's thread count, the caller included: 1 (no worker threads) until set_pool_threads.
int pool_threads();
// n ≥ 1 threads for the jobs to come (n − 1 workers; the caller is the n-th). Not from inside a job.
void set_pool_threads(int n);

// What --threads N does in the programs: OpenBLAS at one thread (docs/pitfalls.md#blas-threads), the
// pool at n. models::train() sets the pool alone and OpenBLAS itself (docs/threads.md#training).
void use_threads(int n);

// fn(c) once for every c in [0, n_chunks), spread over pool_threads() threads, the calling thread
// among them; returns when all have finished. If chunks throw, every chunk still runs and the
// exception of the lowest such c is rethrown (the same error for every thread count). A
// parallel_for inside a job runs its chunks on the calling worker, in order.
void parallel_for(std::size_t n_chunks, const std::function<void(std::size_t)>& fn);

// The generator of chunk c of a run seeded by `seed`: each chunk's stream is fixed by (seed, c)
// alone. Two splitmix64 finalisations keep the streams of neighbouring c and seeds apart.
Rng chunk_rng(std::uint64_t seed, std::size_t c);

// Chunks of `chunk` items covering n items: ⌈n / chunk⌉ (0 for n = 0).
inline std::size_t chunk_count(std::size_t n, std::size_t chunk) { return chunk == 0 ? 0 : (n + chunk - 1) / chunk; }

}  // namespace tz
