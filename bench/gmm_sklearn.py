#!/usr/bin/python3
"""scikit-learn's GaussianMixture on the data and from the start that bench/gmm wrote.

    build-gmm/bench/gmm > ours.json
    /usr/bin/python3 bench/gmm_sklearn.py --ours ours.json

Prints one JSON line: sklearn's ms_per_iter and avg_loglik and, given our JSON (a file or the
line itself), our numbers, the speed ratio and the relative difference of avg_loglik.

Timing (wall clock, and process CPU time as cpu_ms_per_iter): fit() also initialises (scikit-learn computes initial estimates even when all three
*_init arrays are given) and runs a final E-step, so ms_per_iter is
(time of fit with max_iter = iters) - (time of fit with max_iter = 1), divided by iters - 1.
One thread: OMP_NUM_THREADS and OPENBLAS_NUM_THREADS are set before NumPy loads, and
threadpoolctl limits the pools again.
"""
import argparse
import json
import os
import sys
import time

os.environ["OMP_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"

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
    with threadpool_limits(limits=1):
        _, t1, c1 = fit(1)
        gm, t, c = fit(iters)
    blas = [p.get("architecture") for p in threadpool_info() if p.get("user_api") == "blas"]
    out = {
        "impl": f"scikit-learn {sklearn.__version__}",
        "n": int(x.shape[0]), "d": int(x.shape[1]), "k": int(len(weights)), "cov": cov_type,
        "iters": int(gm.n_iter_),
        "ms_per_iter": (t - t1) * 1000.0 / (iters - 1),
        "cpu_ms_per_iter": (c - c1) * 1000.0 / (iters - 1),
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
    print(json.dumps(out))


if __name__ == "__main__":
    main()
