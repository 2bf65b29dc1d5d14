#!/usr/bin/env python3
"""Top-k gating and sampling of this crate against PyTorch on one thread.

    scripts/install.sh --prefix target/compare-topk-prefix      # or any build of libsoftmax.so
    pip install numpy torch
    taskset -c 1 python3 scripts/compare-topk-torch.py [ROUNDS]

Not part of the test-suite or CI. Gating: `torch.topk(torch.softmax(x, -1), k)` (and the
renormalised form PyTorch users write, softmax of the top-k logits) against
`softmax_topk_softmax_rows_f32`. Sampling: the usual top-p sampler written with PyTorch ops
(softmax of logits / T, sort, cumulative sum, mask, renormalise, inverse CDF with the same `u`)
against `softmax_sample_f32`. Medians of interleaved rounds, microseconds per call.
"""
import ctypes
import os
import sys
import time

import numpy as np
import torch

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
LIB = os.environ.get("SOFTMAX_LIB", os.path.join(TARGET, "compare-topk-prefix", "lib", "libsoftmax.so"))

torch.set_num_threads(1)
lib = ctypes.CDLL(LIB)
fp = ctypes.POINTER(ctypes.c_float)
ip = ctypes.POINTER(ctypes.c_int32)
sz = ctypes.c_size_t
lib.softmax_topk_softmax_rows_f32.argtypes = [fp, sz, sz, sz, sz, ctypes.c_uint32, fp, sz, ip, sz]
lib.softmax_sample_f32.argtypes = [fp, sz, ctypes.c_float, sz, ctypes.c_float, ctypes.c_float,
                                   ctypes.POINTER(sz)]
lib.softmax_rows_f32.argtypes = [fp, sz, fp, sz, sz, sz, ctypes.c_uint32]
lib.softmax_f32.argtypes = [fp, fp, sz]


def best_of(fn, reps=5):
    b = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        b = min(b, time.perf_counter() - t0)
    return b


def median(v):
    v = sorted(v)
    return v[len(v) // 2]


def torch_top_p(logits, t, top_p, u):
    p = torch.softmax(logits / t, dim=-1)
    sp, si = torch.sort(p, descending=True)
    cum = torch.cumsum(sp, dim=-1)
    keep = cum - sp < top_p
    sp = sp * keep
    cum = torch.cumsum(sp, dim=-1)
    j = int(torch.searchsorted(cum, u * cum[-1], right=True))
    return int(si[min(j, len(si) - 1)])


def main():
    rng = np.random.default_rng(5)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread, {ROUNDS} interleaved rounds\n")
    print("| gating | k | this crate (us) | its softmax_rows (us) | torch topk(softmax) (us) | speed-up |")
    print("|---|---|---|---|---|---|")
    for rows, cols, k in [(4096, 64, 2), (4096, 64, 8), (4096, 256, 8)]:
        x = rng.uniform(-10, 10, (rows, cols)).astype(np.float32)
        tx = torch.from_numpy(x)
        w = np.zeros((rows, k), np.float32)
        idx = np.zeros((rows, k), np.int32)
        y = np.zeros_like(x)
        xp, wp, ipp, yp = (x.ctypes.data_as(fp), w.ctypes.data_as(fp), idx.ctypes.data_as(ip),
                           y.ctypes.data_as(fp))
        ours, soft, theirs = [], [], []
        for _ in range(ROUNDS):
            ours.append(best_of(lambda: lib.softmax_topk_softmax_rows_f32(xp, cols, rows, cols, k, 0, wp, k, ipp, k)))
            soft.append(best_of(lambda: lib.softmax_rows_f32(xp, cols, yp, cols, rows, cols, 0)))
            theirs.append(best_of(lambda: torch.topk(torch.softmax(tx, -1), k, dim=-1)))
        vals, ids = torch.topk(torch.softmax(tx, -1), k, dim=-1)
        same = np.array_equal(ids.numpy(), idx)
        o, s, t = median(ours) * 1e6, median(soft) * 1e6, median(theirs) * 1e6
        print(f"| {rows} x {cols} | {k} | {o:.0f} | {s:.0f} | {t:.0f} | {t / o:.1f}x |"
              + ("" if same else " (indices differ)"))
        # Renormalised: the softmax of the top-k logits (flag SOFTMAX_TOPK_RENORMALIZE).
        ours, theirs = [], []
        for _ in range(ROUNDS):
            ours.append(best_of(lambda: lib.softmax_topk_softmax_rows_f32(xp, cols, rows, cols, k, 1, wp, k, ipp, k)))
            theirs.append(best_of(lambda: torch.softmax(torch.topk(tx, k, dim=-1).values, -1)))
        same = np.array_equal(torch.topk(tx, k, dim=-1).indices.numpy(), idx)
        o, t = median(ours) * 1e6, median(theirs) * 1e6
        print(f"| {rows} x {cols}, renormalised | {k} | {o:.0f} | {s:.0f} | {t:.0f} (softmax(topk(x))) | {t / o:.1f}x |"
              + ("" if same else " (indices differ)"))
    print()
    print("| sampling, n | T / top_p | this crate (us) | its softmax_f32 (us) | torch sort-based (us) | speed-up |")
    print("|---|---|---|---|---|---|")
    for n, t, top_p in [(131072, 1.0, 0.9), (32000, 0.8, 0.9)]:
        x = (rng.normal(0, 2, n) + (rng.uniform(0, 1, n) < 2e-4) * 10).astype(np.float32)
        tx = torch.from_numpy(x)
        y = np.zeros_like(x)
        xp, yp = x.ctypes.data_as(fp), y.ctypes.data_as(fp)
        out = sz(0)
        ours, soft, theirs = [], [], []
        for _ in range(ROUNDS):
            ours.append(best_of(lambda: lib.softmax_sample_f32(xp, n, t, 0, top_p, 0.37, ctypes.byref(out))))
            soft.append(best_of(lambda: lib.softmax_f32(xp, yp, n)))
            theirs.append(best_of(lambda: torch_top_p(tx, t, top_p, 0.37), 3))
        o, s, th = median(ours) * 1e6, median(soft) * 1e6, median(theirs) * 1e6
        print(f"| {n} | {t} / {top_p} | {o:.0f} | {s:.0f} | {th:.0f} | {th / o:.1f}x |"
              + ("" if out.value == torch_top_p(tx, t, top_p, 0.37) else " (draws differ)"))


if __name__ == "__main__":
    main()
