#!/usr/bin/python3
"""scikit-learn's GaussianMixture on the data and from the start that bench/gmm wrote.

    build-gmm/bench/gmm > ours.json
    /usr/bin/python3 bench/gmm_sklearn.py --ours ours.json

Prints one JSON line: sklearn's ms_per_iter and avg_loglik and, given our JSON (a file or the
line itself), our numbers, the speed ratio and the relative difference of avg_loglik.

Timing (wall clock, and process CPU time as cpu_ms_per_iter): fit() also initialises (scikit-learn computes initial estimates even when all three
*_init arrays are given) and runs a final E-step, so ms_per_iter is
(time of fit with max_iter = iters) - (time of fit with max_iter = 1), divided by iters - 1.
Threads: --threads 1,2 fits once per count t, with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to
the largest count before NumPy loads and threadpoolctl limiting the pools to t for each fit; it adds
ms_per_iter_t<t> and, given ours from `bench/gmm --threads 1,2`, speedup_t<t> = scikit-learn's
ms_per_iter_t<t> / ours. The default is one thread.
"""
import argparse
import json
import os
import sys
import time



def thread_counts(argv):
    """The counts of --threads (read before NumPy loads: its pools are sized when it loads)."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return [int(t) for t in argv[i + 1].split(",")]
        if a.startswith("--threads="):
            return [int(t) for t in a.split("=", 1)[1].split(",")]
    return [1]


_MOST = str(max(thread_counts(sys.argv)))
os.environ["OMP_NUM_THREADS"] = _MOST
os.environ["OPENBLAS_NUM_THREADS"] = _MOST
os.environ["MKL_NUM_THREADS"] = _MOST

import numpy as np  # noqa: E402


def precisions_from_covariances(cov, cov_type):
    """sklearn's precisions_init: the inverse of each covariance (1/σ² for diag and spherical)."""
    if cov_type == "full":
        return np.array([np.linalg.inv(c) for c in cov])
    if cov_type == "tied":
        return np.linalg.inv(cov)
    return 1.0 / cov


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="out/bench/gmm_data.npy", help="the [N, D] data (.npy)")
    parser.add_argument("--init", default="out/bench/gmm_init.npz", help="weights, means, covariances (.npz)")
    parser.add_argument("--cov", default=None, help="covariance type (default: from --ours, else full)")
    parser.add_argument("--iters", type=int, default=None, help="EM iterations (default: from --ours, else 100)")
    parser.add_argument("--tol", type=float, default=0.0, help="0 runs all iterations")
    parser.add_argument("--reg-covar", type=float, default=1e-6)
    parser.add_argument("--ours", default=None, help="bench/gmm's JSON line, or a file holding it")
    parser.add_argument("--threads", default="1", help="thread counts, e.g. 1,2 (one fit each)")
    args = parser.parse_args()

    ours = None
    if args.ours:
        text = open(args.ours).read() if os.path.exists(args.ours) else args.ours
        lines = [ln for ln in text.strip().splitlines() if ln.startswith("{")]
        if not lines:
            sys.exit(f"gmm_sklearn.py: --ours {args.ours!r} holds no JSON line")
        ours = json.loads(lines[-1])
    cov_type = args.cov or (ours or {}).get("cov", "full")
    iters = args.iters or (ours or {}).get("iters", 100)
    if iters < 2:
        sys.exit("gmm_sklearn.py: --iters must be at least 2 (the timing subtracts a 1-iteration fit)")

    try:
        from sklearn.mixture import GaussianMixture
        import sklearn
        from threadpoolctl import threadpool_limits, threadpool_info
    except ImportError as e:
        sys.exit(f"gmm_sklearn.py: {e} (apt-get install python3-sklearn)")

    for path in (args.data, args.init):
        if not os.path.exists(path):
            sys.exit(f"gmm_sklearn.py: {path} does not exist: run bench/gmm first")
    x = np.load(args.data)
    start = np.load(args.init)
    weights, means, cov = start["weights"], start["means"], start["covariances"]

    def fit(max_iter):
        gm = GaussianMixture(
            n_components=len(weights), covariance_type=cov_type, tol=args.tol, reg_covar=args.reg_covar,
            max_iter=max_iter, init_params="random", random_state=0, weights_init=weights, means_init=means,
            precisions_init=precisions_from_covariances(cov, cov_type))
        t0, c0 = time.perf_counter(), time.process_time()
        gm.fit(x)
        return gm, time.perf_counter() - t0, time.process_time() - c0

    import warnings
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)  # tol = 0 never converges, by design
    per_count = {}
    for n_threads in thread_counts(sys.argv):
        with threadpool_limits(limits=n_threads):
            _, t1, c1 = fit(1)
            gm, t, c = fit(iters)
        per_count[n_threads] = ((t - t1) * 1000.0 / (iters - 1), (c - c1) * 1000.0 / (iters - 1))
    first = per_count[thread_counts(sys.argv)[0]]
    blas = [p.get("architecture") for p in threadpool_info() if p.get("user_api") == "blas"]
    out = {
        "impl": f"scikit-learn {sklearn.__version__}",
        "n": int(x.shape[0]), "d": int(x.shape[1]), "k": int(len(weights)), "cov": cov_type,
        "iters": int(gm.n_iter_),
        "ms_per_iter": first[0],
        "cpu_ms_per_iter": first[1],
        "avg_loglik": float(gm.score(x)),
        "lower_bound": float(gm.lower_bound_),
        "blas_core": blas[0] if blas else None,
    }
    if ours:
        out["ours_ms_per_iter"] = ours["ms_per_iter"]
        out["ours_avg_loglik"] = ours["avg_loglik"]
        out["speedup"] = out["ms_per_iter"] / ours["ms_per_iter"]
        if "cpu_ms_per_iter" in ours:
            out["ours_cpu_ms_per_iter"] = ours["cpu_ms_per_iter"]
            out["cpu_speedup"] = out["cpu_ms_per_iter"] / ours["cpu_ms_per_iter"]
        out["rel_diff_avg_loglik"] = abs(ours["avg_loglik"] - out["avg_loglik"]) / abs(out["avg_loglik"])
    for n_threads, (ms, _) in per_count.items():
        out[f"ms_per_iter_t{n_threads}"] = ms
        if ours and f"ms_per_iter_t{n_threads}" in ours:
            out[f"speedup_t{n_threads}"] = ms / ours[f"ms_per_iter_t{n_threads}"]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
