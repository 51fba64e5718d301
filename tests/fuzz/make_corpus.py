#!/usr/bin/python3
"""Writes the seed corpus of tests/fuzz/corpus/: small valid files of each format (python3-numpy).

Run from anywhere with Debian's Python, which has python3-numpy: /usr/bin/python3
tests/fuzz/make_corpus.py. Regression inputs (corpus/*/regress-*) are added by hand, one per
finding, and are not touched here.
"""
import gzip
import io
import os
import struct

import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def npy_bytes(a):
    b = io.BytesIO()
    np.save(b, a)
    return b.getvalue()


def npz_bytes(compressed, **arrays):
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, **arrays)
    return b.getvalue()


def gz(data):
    return gzip.compress(data, mtime=0)


# ---- IDX: images (magic 0x803) and labels (0x801), plain and gzip --------------------------------
pixels = bytes((i * 37 + 11) % 256 for i in range(3 * 4 * 5))
images = struct.pack(">IIII", 0x803, 3, 4, 5) + pixels
labels = struct.pack(">II", 0x801, 6) + bytes([0, 9, 3, 3, 255, 1])
put("idx", "images-3x4x5", images)
put("idx", "images-3x4x5.gz", gz(images))
put("idx", "images-0x2x2", struct.pack(">IIII", 0x803, 0, 2, 2))
put("idx", "labels-6", labels)
put("idx", "labels-6.gz", gz(labels))
put("idx", "labels-two-members.gz", gz(labels[:5]) + gz(labels[5:]))

# ---- .npy: every accepted dtype, several shapes, and what is refused ----------------------------
rng = np.random.default_rng(0)
put("npy", "f4-2x3", npy_bytes(rng.standard_normal((2, 3)).astype("<f4")))
put("npy", "f8-5", npy_bytes(rng.standard_normal(5)))
put("npy", "i4-2x2x2", npy_bytes(np.arange(8, dtype="<i4").reshape(2, 2, 2)))
put("npy", "i8-scalar", npy_bytes(np.array(-7, dtype="<i8")))
put("npy", "u1-4x1", npy_bytes(np.arange(4, dtype="u1").reshape(4, 1)))
put("npy", "f4-0x3", npy_bytes(np.zeros((0, 3), dtype="<f4")))
put("npy", "f8-fortran", npy_bytes(np.asfortranarray(rng.standard_normal((3, 2)))))
put("npy", "f8-big-endian", npy_bytes(np.arange(3, dtype=">f8")))
put("npy", "structured", npy_bytes(np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")])))
v2 = npy_bytes(np.arange(3, dtype="<f4"))
put("npy", "f4-3-v2", b"\x93NUMPY\x02\x00" + struct.pack("<I", len(v2) - 10 - 12) + v2[10:])

# ---- CSV --------------------------------------------------------------------------------------------
put("csv", "header", b"x, y,\"label\"\r\n1,2.5,0\r\n\r\n-3e2, +4 ,1\r\nnan,inf,-inf\r\n")
put("csv", "no-header", b"0.5,1\n2,3\n")
put("csv", "bom-one-column", b"\xef\xbb\xbfvalue\n1\n2\n3")
put("csv", "numbers", b"1e308,-1e-308,1e999\n0x1,.5,5.\n")
put("csv", "empty-names", b",a,\n1,2,3\n")

# ---- .npz: stored (np.savez) and deflated (np.savez_compressed), and a checkpoint's config -----
config = np.frombuffer(b"beta=1\nhidden=300,300\nlr=1e-3\nquick=true\nz=10\n", dtype="u1")
put("npz", "stored", npz_bytes(False, W=rng.standard_normal((3, 2)).astype("<f4"), b=np.zeros(2)))
put("npz", "deflated", npz_bytes(True, W=rng.standard_normal((3, 2)).astype("<f4"), b=np.zeros(2)))
put("npz", "checkpoint", npz_bytes(False, __model__=np.frombuffer(b"vae", dtype="u1"), __config__=config,
                                   **{"enc.l1.W": np.ones((2, 2), dtype="<f4")}))
put("npz", "checkpoint-deflated", npz_bytes(True, __model__=np.frombuffer(b"vae", dtype="u1"),
                                            __config__=config))
put("npz", "empty", npz_bytes(False))

# ---- configurations: "name=value" lines, then NUL and overrides -------------------------------------
put("config", "vae", b"beta=1\nhidden=300,300\nlr=1e-3\nquick=true\nz=10\n")
put("config", "overrides", b"k=3\niters=1000\nseeds=1,10,100\nverbose=no\n\0k=5\nverbose=yes\n")
put("config", "odd", b"=\nempty=\nspaces= 12 \nneg=-4\nbig=99999999999999999999\ninf=inf\n\r\n")
