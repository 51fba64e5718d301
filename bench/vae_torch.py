#!/usr/bin/python3
"""The PyTorch twin of tapezoo's VAE (models/vae.cpp), for speed and quality comparisons.

Same model: encoder 784-300-300-2z and decoder z-300-300-784 with ELU (CS236 hw2), nn.Linear's
default initialisation, q(z|x) = N(m, diag v) with v = softplus(h) + 1e-8, a Bernoulli decoder on
logits, the closed-form KL to N(0, I), one reparameterised sample, Adam (lr 1e-3, PyTorch's
defaults), dynamic binarization of every batch, one thread.

  /usr/bin/python3 bench/vae_torch.py                      # speed: one JSON line, ms per step
  /usr/bin/python3 bench/vae_torch.py --train data/mnist --iters 5000 --iwae 1,10,100,1000
                                                           # quality: test NELBO, KL, Rec, -IWAE_k

Speed mode times what bench/vae_step times: step_ms is zero_grad, forward, backward and the Adam
step on a batch of 100, prepare_ms the binarization of the batch before it; medians over --iters
iterations after a warm-up, in thread CPU time when one thread is used (as bench/vae_step does: the
machine may be shared), else wall time.

Training mode trains on the IDX folder's training images for --iters iterations of shuffled batches
(epochs without replacement, the last partial batch dropped), then evaluates on the first --eval
test images, binarized once with a fixed seed: test_nelbo, test_kl, test_rec (one sample each) and
test_niwae_<k> = -log (1/k) sum_i p(x, z_i) / q(z_i | x) (Burda et al. 2016, eq. 8).

OpenBLAS reads OPENBLAS_CORETYPE when it loads: set it in the shell for one command to compare
kernels (OPENBLAS_CORETYPE=SkylakeX /usr/bin/python3 bench/vae_torch.py); blas_core says which ran.
"""
import argparse
import ctypes
import gzip
import json
import math
import os
import statistics
import struct
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before torch loads OpenBLAS (docs/pitfalls.md#blas-threads)
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class VAE(nn.Module):
    def __init__(self, z=10, hidden=300, x_dim=784):
        super().__init__()
        self.z = z
        self.enc = nn.Sequential(nn.Linear(x_dim, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                                 nn.Linear(hidden, 2 * z))
        self.dec = nn.Sequential(nn.Linear(z, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                                 nn.Linear(hidden, x_dim))

    def encode(self, x):
        h = self.enc(x)
        m, h_v = torch.split(h, self.z, dim=-1)
        return m, F.softplus(h_v) + 1e-8

    def negative_elbo_bound(self, x):
        m, v = self.encode(x)
        z = m + torch.sqrt(v) * torch.randn_like(m)
        logits = self.dec(z)
        # rec = -log p(x|z) = sum_j BCE(logits, x)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        # KL(q || N(0, I)) = 1/2 sum_j (v + m^2 - 1 - log v)
        kl = 0.5 * (v + m * m - 1 - torch.log(v)).sum(-1)
        return (rec + kl).mean(), kl.mean(), rec.mean()

    @torch.no_grad()
    def negative_iwae_bound(self, x, k, chunk_rows=4096):
        """-L_k per example, decoding at most chunk_rows samples at a time."""
        m, v = self.encode(x)
        n = x.shape[0]
        per_chunk = max(1, chunk_rows // n)
        log_w = []
        for i0 in range(0, k, per_chunk):
            c = min(per_chunk, k - i0)
            mk, vk, xk = m.repeat(c, 1), v.repeat(c, 1), x.repeat(c, 1)
            z = mk + torch.sqrt(vk) * torch.randn_like(mk)
            log_px_z = -F.binary_cross_entropy_with_logits(self.dec(z), xk, reduction="none").sum(-1)
            log_pz = -0.5 * (z * z + math.log(2 * math.pi)).sum(-1)
            log_qz = -0.5 * (torch.log(2 * math.pi * vk) + (z - mk) ** 2 / vk).sum(-1)
            log_w.append((log_px_z + log_pz - log_qz).double().view(c, n))
        log_w = torch.cat(log_w, 0)
        return -(torch.logsumexp(log_w, 0) - math.log(k))


def blas_core():
    """OpenBLAS's kernel name, from the library torch loaded."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "libopenblas" in line or "libblas" in line}
        for lib in libs:
            h = ctypes.CDLL(lib)
            if hasattr(h, "openblas_get_corename"):
                h.openblas_get_corename.restype = ctypes.c_char_p
                return h.openblas_get_corename().decode()
    except OSError:
        pass
    return "unknown"


def clock(threads):
    return time.thread_time if threads == 1 else time.perf_counter


def speed(args):
    torch.manual_seed(args.seed)
    model = VAE(z=args.z, hidden=args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    intensities = torch.rand(args.batch, 784)
    now = clock(args.threads)

    def step(x):
        opt.zero_grad()
        nelbo, _, _ = model.negative_elbo_bound(x)
        nelbo.backward()
        opt.step()
        return nelbo.item()

    for _ in range(20):
        step(torch.bernoulli(intensities))
    prepare, times = [], []
    for _ in range(args.iters):
        t0 = now()
        x = torch.bernoulli(intensities)
        t1 = now()
        loss = step(x)
        t2 = now()
        prepare.append(1e3 * (t1 - t0))
        times.append(1e3 * (t2 - t1))
    print(json.dumps({"bench": "vae_torch", "step_ms": round(statistics.median(times), 4),
                      "prepare_ms": round(statistics.median(prepare), 4), "iters": args.iters,
                      "batch": args.batch, "z": args.z, "loss": round(loss, 4), "torch": torch.__version__,
                      "blas_core": blas_core(), "threads": args.threads,
                      "clock": "thread_cpu" if args.threads == 1 else "wall"}))


def read_idx_images(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        sys.exit(f"{path}: not an IDX image file (magic {magic})")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols).astype(np.float32) / 255.0


def find(folder, stem):
    for name in (stem + ".gz", stem):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"{folder}: no {stem}[.gz]")


def train(args):
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    x_train = torch.from_numpy(read_idx_images(find(args.train, "train-images-idx3-ubyte")))
    x_test = torch.from_numpy(read_idx_images(find(args.train, "t10k-images-idx3-ubyte")))
    if args.eval > 0:
        x_test = x_test[: args.eval]
    model = VAE(z=args.z, hidden=args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    n = x_train.shape[0]
    perm, pos = torch.randperm(n), 0
    t0 = time.perf_counter()
    window = []
    for t in range(args.iters):
        if pos + args.batch > n:
            perm, pos = torch.randperm(n), 0
        x = torch.bernoulli(x_train[perm[pos:pos + args.batch]])
        pos += args.batch
        opt.zero_grad()
        nelbo, kl, rec = model.negative_elbo_bound(x)
        nelbo.backward()
        opt.step()
        window.append(nelbo.item())
        if not args.quiet and (t + 1) % 1000 == 0:
            print(f"iter {t + 1}: train nelbo {statistics.mean(window):.3f}", file=sys.stderr)
            window = []
    train_s = time.perf_counter() - t0

    g = torch.Generator().manual_seed(0)
    x_bin = torch.bernoulli(x_test, generator=g)
    out = {"model": "vae_torch", "data": args.train, "iters": args.iters, "batch": args.batch, "z": args.z,
           "train_s": round(train_s, 2), "ms_per_iter": round(1e3 * train_s / max(1, args.iters), 4)}
    with torch.no_grad():
        sums = [0.0, 0.0, 0.0]
        for b in range(0, x_bin.shape[0], 100):
            xb = x_bin[b:b + 100]
            for i, v in enumerate(model.negative_elbo_bound(xb)):
                sums[i] += v.item() * xb.shape[0]
        for name, s in zip(("test_nelbo", "test_kl", "test_rec"), sums):
            out[name] = s / x_bin.shape[0]
        for k in [int(s) for s in args.iwae.split(",") if s]:
            total = 0.0
            for b in range(0, x_bin.shape[0], 100):
                total += model.negative_iwae_bound(x_bin[b:b + 100], k).sum().item()
            out[f"test_niwae_{k}"] = total / x_bin.shape[0]
    out.update({"torch": torch.__version__, "blas_core": blas_core()})
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", metavar="DIR", help="train on this IDX folder (e.g. data/mnist) instead of timing")
    p.add_argument("--iters", type=int, default=None, help="iterations (speed: 400 timed; train: 5000)")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--z", type=int, default=10)
    p.add_argument("--hidden", type=int, default=300)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eval", type=int, default=1000, help="test images to evaluate on (0: all)")
    p.add_argument("--iwae", default="1,10,100", help="k of the reported -IWAE_k bounds")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.iters is None:
        args.iters = 5000 if args.train else 400
    train(args) if args.train else speed(args)


if __name__ == "__main__":
    main()
