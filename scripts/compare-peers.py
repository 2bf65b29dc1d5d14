#!/usr/bin/env python3
"""Side-by-side speed and accuracy of this crate's softmax against PyTorch and ONNX Runtime.

    cargo rustc --release --lib --features header --crate-type cdylib   # target/release/libsoftmax.so
    pip install numpy torch onnxruntime onnx        # any recent versions, CPU is enough
    python3 scripts/compare-peers.py [--quick]

Not part of the test-suite or CI (it needs the peers from PyPI). One thread everywhere:
`torch.set_num_threads(1)` and ONNX Runtime with one intra-op thread. This crate is called
through its C ABI (`target/release/libsoftmax.so`, via ctypes) on every ISA this CPU runs;
PyTorch picks its own kernels (`ATEN_CPU_CAPABILITY=avx2` forces its AVX2 ones), and ONNX
Runtime's softmax is MLAS, with whatever ISA MLAS picks on this CPU.

Cases, each one call, uniform in [-10, 10]: 4096 rows of 64 floats, 2048 of 128, 1024 of 256
and 64 rows of 4096 (1 MiB, in cache), 1024 rows of 4096 (16 MiB in and out, about the size of
this machine's last-level cache) and one row of 16M floats (out of cache). `PEER_CASES=RxC,...`
picks other shapes.

`--half` adds the same cases (`PEER_HALF_CASES=RxC,...` for others) in bfloat16 and float16:
`softmax_rows_bf16` / `softmax_rows_f16` against `torch.softmax` on `torch.bfloat16` /
`torch.float16` tensors of the same values (ONNX Runtime is left out there), with the worst
relative error of each against the float64 softmax of the 16-bit inputs, for outputs of at
least the format's smallest normal, and the share of outputs that are the float64 result
correctly rounded to the format. Figures are medians of repeated calls in elements
per nanosecond, measured in one run (this machine's load swings absolute figures; compare
within a run). Accuracy: worst relative error of outputs above 1e-30 on the 16M row, against
the same softmax in float64.
"""
import ctypes
import os
import sys
import time

import numpy as np

QUICK = "--quick" in sys.argv
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release",
                   "libsoftmax.so")
ISAS = {0: "scalar", 1: "avx2", 2: "avx512", 3: "neon"}
AUTO = 0
REPS = {4096: 21 if QUICK else 61, 1 << 24: 5 if QUICK else 11}


def median_rate(fn, n_elems, reps):
    fn()  # warm up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return n_elems / times[len(times) // 2] / 1e9


def worst_rel(y, x):
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max())
    exact = e / e.sum()
    mask = exact > 1e-30
    return float(np.max(np.abs(y.astype(np.float64)[mask] - exact[mask]) / exact[mask]))


def main():
    lib = ctypes.CDLL(LIB)
    fp = ctypes.POINTER(ctypes.c_float)
    lib.softmax_rows_f32.argtypes = [fp, ctypes.c_size_t, fp, ctypes.c_size_t, ctypes.c_size_t,
                                     ctypes.c_size_t, ctypes.c_uint32]
    lib.softmax_rows_f32.restype = ctypes.c_uint32
    lib.softmax_set_isa.argtypes = [ctypes.c_uint32]
    lib.softmax_set_isa.restype = ctypes.c_uint32
    lib.softmax_isa_supported.argtypes = [ctypes.c_uint32]
    lib.softmax_isa_supported.restype = ctypes.c_int

    import torch
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    torch.set_num_threads(1)
    graph = helper.make_graph(
        [helper.make_node("Softmax", ["x"], ["y"], axis=-1)], "softmax",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    # A newer `onnx` stamps its own IR version, which an older ONNX Runtime refuses; opset 13
    # needs only IR 7.
    model.ir_version = min(model.ir_version, 7)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])

    cpu = "unknown CPU"
    if os.path.exists("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    print(cpu)
    print(f"torch {torch.__version__} (capability {torch.backends.cpu.get_cpu_capability()}), "
          f"onnxruntime {ort.__version__}; one thread; elements/ns, median")
    rng = np.random.default_rng(1)
    default = "4096x64,2048x128,1024x256,64x4096,1024x4096,1x16777216"
    cases = [tuple(map(int, c.split("x"))) for c in os.environ.get("PEER_CASES", default).split(",")]
    for rows, cols in cases:
        x = rng.uniform(-10, 10, size=(rows, cols)).astype(np.float32)
        y = np.empty_like(x)
        n = rows * cols
        reps = REPS.get(cols, 201 if QUICK else 1001)
        results = []
        for isa, name in ISAS.items():
            if not lib.softmax_isa_supported(isa):
                continue
            assert lib.softmax_set_isa(isa) == 0
            xp = x.ctypes.data_as(fp)
            yp = y.ctypes.data_as(fp)

            def ours():
                assert lib.softmax_rows_f32(xp, cols, yp, cols, rows, cols, AUTO) == 0

            rate = median_rate(ours, n, reps)
            err = worst_rel(y[0], x[0]) if rows == 1 else None
            results.append((f"softmax crate ({name})", rate, err))
        xt = torch.from_numpy(x)
        out = {}

        def torch_fn():
            out["t"] = torch.softmax(xt, dim=-1)

        rate = median_rate(torch_fn, n, reps)
        err = worst_rel(out["t"].numpy()[0], x[0]) if rows == 1 else None
        results.append(("PyTorch torch.softmax", rate, err))

        def ort_fn():
            out["o"] = sess.run(None, {"x": x})[0]

        rate = median_rate(ort_fn, n, reps)
        err = worst_rel(out["o"][0], x[0]) if rows == 1 else None
        results.append(("ONNX Runtime Softmax (MLAS)", rate, err))
        print(f"\n{rows} x {cols}:")
        for name, rate, err in results:
            acc = "" if err is None else f"   worst rel. error {err:.1e}"
            print(f"  {name:<30} {rate:6.2f}{acc}")
    if "--half" in sys.argv:
        half_cases = os.environ.get("PEER_HALF_CASES", os.environ.get("PEER_CASES", default))
        half(lib, torch, rng, [tuple(map(int, c.split("x"))) for c in half_cases.split(",")])


def round_to(exact, bits, tiny, sub):
    """The non-negative float64 values `exact` correctly rounded (to nearest, ties to even) to
    a format of `bits` significant bits whose smallest normal is `tiny` and whose subnormals
    are multiples of `sub`: the result is exactly representable in float32."""
    m, e = np.frexp(exact)
    normal = np.ldexp(np.rint(np.ldexp(m, bits)), e - bits)
    return np.where(exact < tiny, np.rint(exact / sub) * sub, normal)


def half(lib, torch, rng, cases):
    """The 16-bit section (`--half`)."""
    u16 = ctypes.POINTER(ctypes.c_uint16)
    for fn in (lib.softmax_rows_bf16, lib.softmax_rows_f16):
        fn.argtypes = [u16, ctypes.c_size_t, u16, ctypes.c_size_t, ctypes.c_size_t,
                       ctypes.c_size_t, ctypes.c_uint32]
        fn.restype = ctypes.c_uint32
    formats = [("bf16", torch.bfloat16, lib.softmax_rows_bf16, 8, 2.0 ** -126, 2.0 ** -133),
               ("f16", torch.float16, lib.softmax_rows_f16, 11, 2.0 ** -14, 2.0 ** -24)]
    print("\n16-bit rows (elements/ns, median; accuracy against the float64 softmax of the "
          "16-bit inputs)")
    for rows, cols in cases:
        x32 = rng.uniform(-10, 10, size=(rows, cols)).astype(np.float32)
        n = rows * cols
        reps = REPS.get(cols, 201 if QUICK else 1001)
        print(f"\n{rows} x {cols}:")
        for fname, dtype, ours_fn, sig, tiny, sub in formats:
            xt = torch.from_numpy(x32).to(dtype)
            xb = xt.view(torch.int16).numpy().view(np.uint16).copy()
            x64 = xt.to(torch.float64).numpy()
            e = np.exp(x64 - x64.max(axis=1, keepdims=True))
            exact = e / e.sum(axis=1, keepdims=True)
            rounded = torch.from_numpy(round_to(exact, sig, tiny, sub).astype(np.float32))
            want = rounded.to(dtype).view(torch.int16).numpy().view(np.uint16)
            yb = np.empty_like(xb)
            results = []
            for isa, name in ISAS.items():
                if not lib.softmax_isa_supported(isa):
                    continue
                assert lib.softmax_set_isa(isa) == 0
                xp, yp = xb.ctypes.data_as(u16), yb.ctypes.data_as(u16)

                def ours():
                    assert ours_fn(xp, cols, yp, cols, rows, cols, AUTO) == 0

                rate = median_rate(ours, n, reps)
                results.append((f"softmax crate ({name})", rate, yb.copy()))
            out = {}

            def torch_fn():
                out["t"] = torch.softmax(xt, dim=-1)

            rate = median_rate(torch_fn, n, reps)
            results.append(("PyTorch torch.softmax", rate,
                            out["t"].view(torch.int16).numpy().view(np.uint16).copy()))
            mask = exact >= tiny
            for name, rate, bits in results:
                got = torch.from_numpy(bits.view(np.int16)).view(dtype).to(torch.float64).numpy()
                exact_share = np.mean(bits == want) * 100
                if mask.any():
                    rel = np.max(np.abs(got[mask] - exact[mask]) / exact[mask])
                    acc = f"worst rel. error {rel:.1e}"
                else:
                    acc = "no normal outputs"
                print(f"  {fname} {name:<26} {rate:6.2f}   {acc}, "
                      f"{exact_share:.3f}% correctly rounded")


if __name__ == "__main__":
    main()
