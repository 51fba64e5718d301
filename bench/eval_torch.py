#!/usr/bin/python3
"""The PyTorch twin of bench/eval_threads: -L_k of the first --images binarized test images.

    OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 bench/eval_torch.py --threads 2

The same default VAE as ours (bench/vae_torch.py's, 784-300-300-2*10 and 10-300-300-784, float32,
at its initial parameters), the same work: groups of 100 images, each decoding at most 4096 samples
at a time (VAE.negative_iwae_bound), under no_grad. One untimed group first (PyTorch's first call
allocates its pools); then the whole evaluation once, wall clock. Prints one JSON line: ms,
threads, blas_core, test_niwae. bench/eval_threads runs it with OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS set to --threads, before torch loads.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vae_torch import VAE, blas_core, find, read_idx_images  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="data/mnist", help="an IDX folder with the test images")
    p.add_argument("--images", type=int, default=1000)
    p.add_argument("--k", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    images = read_idx_images(find(args.data, "t10k-images-idx3-ubyte"))[: args.images]
    rng = np.random.default_rng(args.seed)
    x = torch.from_numpy((rng.random(images.shape) < images).astype(np.float32))
    model = VAE()
    model.eval()
    model.negative_iwae_bound(x[:100], args.k)  # warm-up, untimed
    t0 = time.perf_counter()
    total = 0.0
    for b in range(0, x.shape[0], 100):
        total += model.negative_iwae_bound(x[b:b + 100], args.k).sum().item()
    ms = (time.perf_counter() - t0) * 1000.0
    print(json.dumps({"impl": f"torch {torch.__version__}", "threads": args.threads, "ms": ms,
                      "blas_core": blas_core(), "test_niwae": total / x.shape[0]}))


if __name__ == "__main__":
    main()
