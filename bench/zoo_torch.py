#!/usr/bin/python3
"""PyTorch twins of tapezoo's VAE family, timed as bench/zoo_step times ours (issue 16 §1).

One twin per registry entry, at the registry's default flags (models/*.cpp), batch 100, float32,
Adam (lr 1e-3, PyTorch's defaults otherwise), dynamic binarization of every batch, one thread:

  vae       encoder 784-300-300-2z, decoder z-300-300-784, ELU; q(z|x) = N(m, diag v) with
            v = softplus(h) + 1e-8; −ELBO = rec + ½ Σ (v + m² − 1 − log v), z = 10
  iwae      the same networks; −IWAE_5 = −(logsumexp_i log w_i − log 5), ε [5·n, z]
  beta_vae  the same networks; rec + 4·KL
  gmvae     the VAE's networks; prior (1/500) Σ_i N(μ_i, σ_i²) from a [1000, z] parameter;
            KL ≈ log q(z|x) − log p(z), one sample
  vamp      the GMVAE twin with the VampPrior: (μ_i, σ_i²) = the encoder at u_i = hardtanh(w_i) ∈ [0, 1],
            w [500, 784] a parameter initialised 0.05 + 0.01·N(0, 1)
  ssvae     M2: classifier 784-300-300-10 ReLU, encoder (784+10)-300-300-2·64 and decoder
            (64+10)-300-300-784 ELU; y enumerated for unlabelled rows (row c·n + i has label c),
            −log p(y) = log 10 for labelled ones; + 100·CE on the 100-image labelled set.
            Written as a student writes M2: the encoder runs on cat([x repeated 10 times, y]).
            It does not share x W_x among the 10 labels as tapezoo's fast path does
            (models/ssvae.cpp, "the shared first layer"): the ratio includes that saving.
  fsvae     encoder (784+10)-300-300-20, decoder (10+10)-300-300-784, ELU; every row labelled
  ppca, gmm_gd no twin: "torch": null with the reason

  /usr/bin/python3 bench/zoo_torch.py --model gmvae --data mnist    # one JSON line, as zoo_step reads it
  /usr/bin/python3 bench/zoo_torch.py --check DIR                   # DIR from `zoo_step --dump-init DIR`

Timing, as zoo_step: rounds of --chunk iterations; step_ms is the median of each iteration's step
(zero_grad, forward, backward, Adam), ms_per_iter the median over chunks of the whole iteration (the
next shuffled batch, its binarization, the step, loss.item()), iter_mean_ms the mean. Thread CPU
time with one thread (bench/vae_torch.py's clock), else wall time.

--check loads each DIR/<model>.npz (our initial weights, the first step's binarized batch, noise ε
and labels, and our first loss), computes the twin's loss on exactly those, and prints both: the
twin computes the same objective when they agree to float32 rounding (|Δ| ≤ 1e-4·|loss|).
"""
import argparse
import json
import math
import os
import statistics
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before torch loads OpenBLAS (docs/pitfalls.md#blas-threads)
os.environ.setdefault("OMP_NUM_THREADS", "1")

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # torch is optional for tapezoo's users
    sys.exit(f"zoo_torch.py needs PyTorch and NumPy ({e}): apt-get install python3-torch")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vae_torch import blas_core, clock, find, read_idx_images  # noqa: E402

LOG2PI = math.log(2 * math.pi)
NO_TWIN = {"ppca": "a 10-D linear-Gaussian teaching template on synthetic data: no networks to compare",
           "gmm_gd": "a 2-D mixture fitted by gradient descent on synthetic data: microseconds of scalar work, no twin"}


# ---- the building blocks, each as models/ and distributions/ write it ---------------------------

def mlp(sizes, act):
    """nn::MLP: Linear layers with the activation after every one but the last."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(act())
    return nn.Sequential(*layers)


def gaussian_parameters(h):
    m, h_v = torch.split(h, h.shape[-1] // 2, dim=-1)
    return m, F.softplus(h_v) + 1e-8


def log_bernoulli(x, logits):
    """Σ_j x_j l_j − softplus(l_j), from logits (never log σ)."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def log_normal(x, m, v):
    return -0.5 * ((torch.log(v) + (x - m) ** 2 / v).sum(-1) + LOG2PI * x.shape[-1])


def kl_standard_normal(m, v):
    """KL(N(m, diag v) ‖ N(0, I)) = ½ Σ (v + m² − 1 − log v)."""
    return 0.5 * ((v + m * m - torch.log(v)).sum(-1) - m.shape[-1])


def one_hot(y, k=10):
    return F.one_hot(y, k).float()


# ---- the twins: loss(x, y, noise) on a binarized batch; noise(n) draws what ours draws -----------

class VAETwin(nn.Module):
    def __init__(self, objective="elbo", beta=1.0, k=5, z=10, hidden=300):
        super().__init__()
        self.objective, self.beta, self.k, self.z = objective, beta, k, z
        self.enc = mlp([784, hidden, hidden, 2 * z], nn.ELU)
        self.dec = mlp([z, hidden, hidden, 784], nn.ELU)

    def noise(self, n, y):
        return [torch.randn((self.k if self.objective == "iwae" else 1) * n, self.z)]

    def loss(self, x, y, eps):
        m, v = gaussian_parameters(self.enc(x))
        if self.objective == "iwae":
            k, n = self.k, x.shape[0]
            mk, vk, xk = m.repeat(k, 1), v.repeat(k, 1), x.repeat(k, 1)
            z = mk + torch.sqrt(vk) * eps[0]
            log_w = log_bernoulli(xk, self.dec(z)) - 0.5 * ((z * z).sum(-1) + LOG2PI * self.z) - log_normal(z, mk, vk)
            return (-(torch.logsumexp(log_w.view(k, n), 0) - math.log(k))).mean()
        z = m + torch.sqrt(v) * eps[0]
        rec = -log_bernoulli(x, self.dec(z)).mean()
        kl = kl_standard_normal(m, v).mean()
        return rec + kl if self.beta == 1.0 else rec + self.beta * kl


class GMVAETwin(nn.Module):
    def __init__(self, z=10, k=500, hidden=300):
        super().__init__()
        self.z, self.k = z, k
        self.enc = mlp([784, hidden, hidden, 2 * z], nn.ELU)
        self.dec = mlp([z, hidden, hidden, 784], nn.ELU)
        self.init_prior()

    def init_prior(self):
        self.z_pre = nn.Parameter(torch.randn(2 * self.k, self.z) / math.sqrt(self.k * self.z))

    def prior(self):
        """The k components (μ_i, σ_i²), each [k, z]: μ = z_pre[:k], σ² = softplus(z_pre[k:]) + 1e-8."""
        return self.z_pre[: self.k], F.softplus(self.z_pre[self.k:]) + 1e-8

    def noise(self, n, y):
        return [torch.randn(n, self.z)]

    def loss(self, x, y, eps):
        m, v = gaussian_parameters(self.enc(x))
        z = m + torch.sqrt(v) * eps[0]
        rec = -log_bernoulli(x, self.dec(z))
        mu, var = self.prior()
        # log p(z) = log (1/k) Σ_i N(z; μ_i, σ_i²): [n, 1, z] against [1, k, z]
        log_pz = torch.logsumexp(log_normal(z[:, None, :], mu[None], var[None]), 1) - math.log(self.k)
        return (log_normal(z, m, v) - log_pz + rec).mean()


class VampTwin(GMVAETwin):
    """models/vamp.cpp: the GMVAE with p(z) = (1/k) Σ_i q(z | u_i), u = hardtanh(w) the pseudo-inputs."""

    def init_prior(self):
        self.w = nn.Parameter(0.05 + 0.01 * torch.randn(self.k, 784))

    def prior(self):
        u = F.hardtanh(self.w, 0.0, 1.0)  # min(max(w, 0), 1): pseudo-images in the pixel range
        return gaussian_parameters(self.enc(u))


class FSVAETwin(nn.Module):
    def __init__(self, z=10, hidden=300):
        super().__init__()
        self.z = z
        self.enc = mlp([794, hidden, hidden, 2 * z], nn.ELU)
        self.dec = mlp([z + 10, hidden, hidden, 784], nn.ELU)

    def noise(self, n, y):
        return [torch.randn(n, self.z)]

    def loss(self, x, y, eps):
        yh = one_hot(y)
        m, v = gaussian_parameters(self.enc(torch.cat([x, yh], 1)))
        z = m + torch.sqrt(v) * eps[0]
        rec = -log_bernoulli(x, self.dec(torch.cat([z, yh], 1)))
        return (rec + kl_standard_normal(m, v)).mean()


class SSVAETwin(nn.Module):
    def __init__(self, z=64, hidden=300, gw=1.0, cw=100.0):
        super().__init__()
        self.z, self.gw, self.cw = z, gw, cw
        self.cls = mlp([784, hidden, hidden, 10], nn.ReLU)
        self.enc = mlp([794, hidden, hidden, 2 * z], nn.ELU)
        self.dec = mlp([z + 10, hidden, hidden, 784], nn.ELU)
        self.xl, self.yl = None, None  # the labelled set (grey levels), set_labelled()

    def set_labelled(self, xl, yl):
        self.xl, self.yl = xl, yl

    def noise(self, n, y):
        labelled = int((y >= 0).sum())
        eps = [torch.randn(10 * (n - labelled), self.z)] if labelled < n else [None]
        return eps + ([torch.randn(labelled, self.z)] if labelled else [None])

    def elbo_terms(self, x, yh, eps):
        m, v = gaussian_parameters(self.enc(torch.cat([x, yh], 1)))
        z = m + torch.sqrt(v) * eps
        return kl_standard_normal(m, v), -log_bernoulli(x, self.dec(torch.cat([z, yh], 1)))

    def loss(self, x, y, eps):
        total = self.cw * F.cross_entropy(self.cls(self.xl), self.yl)
        lab = y >= 0
        n, parts = x.shape[0], []
        if bool((~lab).any()):
            xu = x[~lab] if bool(lab.any()) else x
            nu = xu.shape[0]
            log_q_y = F.log_softmax(self.cls(xu), 1)
            q_y = log_q_y.exp()
            kl_y = (q_y * (log_q_y + math.log(10))).sum(-1)
            yh = one_hot(torch.arange(10).repeat_interleave(nu))  # row c·n + i has label c
            kl_z, rec = self.elbo_terms(xu.repeat(10, 1), yh, eps[0])
            w = q_y.t().reshape(-1)
            parts.append((kl_y + (w * kl_z).view(10, nu).sum(0) + (w * rec).view(10, nu).sum(0)).sum())
        if bool(lab.any()):
            kl_z, rec = self.elbo_terms(x[lab] if bool((~lab).any()) else x, one_hot(y[lab]), eps[1])
            parts.append((rec + kl_z + math.log(10)).sum())
        return total + self.gw * sum(parts) / n


def make_twin(name):
    return {"vae": lambda: VAETwin(), "iwae": lambda: VAETwin(objective="iwae"), "beta_vae": lambda: VAETwin(beta=4.0),
            "gmvae": GMVAETwin, "vamp": VampTwin, "ssvae": SSVAETwin, "fsvae": FSVAETwin}[name]()


# ---- data ------------------------------------------------------------------------------------------

def read_idx_labels(path):
    import gzip
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    return np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)


def data_folder(spec):
    """zoo_step's data spec as a folder: mnist as datasets/image_dataset.cpp finds it, fashion-mnist, or a path."""
    if spec == "mnist":
        root = os.environ.get("TAPEZOO_DATA") or os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
        return os.path.join(root, "mnist")
    return "/usr/share/datasets/fashion-mnist" if spec == "fashion-mnist" else spec


def load_training_set(spec):
    folder = data_folder(spec)
    x = torch.from_numpy(read_idx_images(find(folder, "train-images-idx3-ubyte")).copy())
    y = torch.from_numpy(read_idx_labels(find(folder, "train-labels-idx1-ubyte")).copy())
    return x, y


def hide_labels(model, x, y, labels=100):
    """ssvae's prepare_data: labels/10 random images per class form the labelled set; every other label is -1."""
    keep = torch.cat([torch.nonzero(y == c).view(-1)[torch.randperm(int((y == c).sum()))[: labels // 10]]
                      for c in range(10)])
    model.set_labelled(x[keep], y[keep])
    hidden = torch.full_like(y, -1)
    hidden[keep] = y[keep]
    return hidden


# ---- speed: one JSON line per model, as zoo_step reads it ------------------------------------------

def speed(args):
    out = {"model": args.model, "torch": torch.__version__, "blas_core": blas_core(), "threads": args.threads,
           "clock": "thread_cpu" if args.threads == 1 else "wall"}
    if args.model in NO_TWIN:
        out.update({"torch": None, "reason": NO_TWIN[args.model]})
        print(json.dumps(out))
        return
    torch.manual_seed(args.seed)
    x_train, y_train = load_training_set(args.data)
    model = make_twin(args.model)
    if args.model == "ssvae":
        y_train = hide_labels(model, x_train, y_train)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    now, b, n = clock(args.threads), args.batch, x_train.shape[0]
    state = {"perm": torch.randperm(n), "pos": 0}

    def iterate(step_times):
        # the next batch of an epoch without replacement (the last partial one dropped), binarized afresh
        if state["pos"] + b > n:
            state["perm"], state["pos"] = torch.randperm(n), 0
        idx = state["perm"][state["pos"]: state["pos"] + b]
        state["pos"] += b
        x, y = torch.bernoulli(x_train[idx]), y_train[idx]
        t0 = now()
        opt.zero_grad()
        loss = model.loss(x, y, model.noise(b, y))
        value = loss.item()  # as ours reads the loss before its backward
        loss.backward()
        opt.step()
        step_times.append(1e3 * (now() - t0))
        return value

    warm = []
    for _ in range(10):
        iterate(warm)
    steps, chunks = [], []
    for _ in range(args.rounds):
        c0 = now()
        for _ in range(args.chunk):
            loss = iterate(steps)
        chunks.append(1e3 * (now() - c0) / args.chunk)
    out.update({"step_ms": round(statistics.median(steps), 4), "ms_per_iter": round(statistics.median(chunks), 4),
                "iter_mean_ms": round(statistics.mean(chunks), 4), "iters": len(steps), "batch": b,
                "loss": round(loss, 4)})
    print(json.dumps(out))


# ---- --check: the same weights and noise give the same first loss ----------------------------------

PRIOR_PARAMS = {"prior.z_pre": "z_pre", "prior.pseudo_inputs": "w"}  # our name: the twin's attribute


def load_weights(model, arrays):
    """Our parameters into the twin: net.l<i>.W [in, out] is nn.Linear's weight [out, in] transposed."""
    with torch.no_grad():
        for key in arrays.files:
            parts = key.split(".")
            if key in PRIOR_PARAMS:
                getattr(model, PRIOR_PARAMS[key]).copy_(torch.from_numpy(arrays[key]))
            elif len(parts) == 3 and parts[1].startswith("l"):
                layer = getattr(model, parts[0])[2 * (int(parts[1][1:]) - 1)]
                value = torch.from_numpy(arrays[key]).float()
                (layer.weight.copy_(value.t()) if parts[2] == "W" else layer.bias.copy_(value.view(-1)))


def check_one(name, path):
    arrays = np.load(path)
    model = make_twin(name)
    load_weights(model, arrays)
    consts = [(k.split("_", 1)[1], torch.from_numpy(arrays[k]).float()) for k in sorted(arrays.files) if k.startswith("const")]
    x = next(v for label, v in consts if label == "x")
    eps = [v for label, v in consts if label == "eps"]
    y = torch.from_numpy(arrays["batch_y"]).long() if arrays["batch_y"].size else torch.full((x.shape[0],), -1)
    if name == "ssvae":
        model.set_labelled(next(v for label, v in consts if label == "x_l"), torch.from_numpy(arrays["labelled_y"]).long())
        has_u, has_l = bool((y < 0).any()), bool((y >= 0).any())
        eps = [eps[0] if has_u else None, eps[int(has_u)] if has_l else None]
    with torch.no_grad():
        twin = model.loss(x, y, eps).item()
    ours = float(arrays["loss"])
    diff = abs(twin - ours)
    return {"model": name, "ours": ours, "twin": twin, "abs_diff": diff, "rel_diff": diff / max(abs(ours), 1e-30),
            "agrees": diff <= 1e-4 * abs(ours)}


def check(args):
    ok = True
    for name in ("vae", "iwae", "beta_vae", "gmvae", "vamp", "ssvae", "fsvae"):
        path = os.path.join(args.check, name + ".npz")
        if not os.path.exists(path):
            continue
        r = check_one(name, path)
        ok = ok and r["agrees"]
        print(json.dumps(r))
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="vae", help="registry name: vae, iwae, beta_vae, gmvae, vamp, ssvae, fsvae (ppca, gmm_gd: null)")
    p.add_argument("--data", default="mnist", help="mnist (data/mnist), fashion-mnist, or an IDX folder")
    p.add_argument("--check", metavar="DIR", help="compare first-step losses with `zoo_step --dump-init DIR`")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--chunk", type=int, default=20)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--version", action="store_true", help="print the torch version (zoo_step's probe)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.version:
        print(torch.__version__)
    elif args.check:
        check(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
