"""``python -m spatial_dropout bench``: medians and ratios, measured side by side in one run.

For each of the seed's shapes, ``p`` and mode (out of place, in place), float32, the candidates
run in alternating blocks (every repetition runs each in turn, untimed for 12 ms to reach its
own hot state, then a timed block): ours on NumPy, ours on torch,
PyTorch's ``F.dropout2d``, a naive NumPy broadcast multiply, ``np.copyto`` and a fill. The ideal
kernel time is ``(1 - p) * t(streaming multiply) + p * t(fill)`` on the same buffers. Medians of
at least 15 repetitions; the machine is shared, so read the ratios.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _functional as F
from ._backends._numpy import _compiled
from ._random import Generator, manual_seed
from ._threads import get_num_threads, set_num_threads

SEED_SHAPES: list[tuple[int, ...]] = [
    (32, 3, 224, 224),
    (16, 64, 32, 32),
    (8, 256, 64, 64),
    (4, 64, 56, 56),
    (4, 512, 7, 7),
    (32, 128, 32, 32),
    (8, 256, 7, 7),
    (64, 224, 224),
    (32, 64, 56, 56),
]
SMALL_SHAPES: list[tuple[int, ...]] = [(4, 512, 7, 7), (1, 8, 4, 4)]
ELEMENTWISE_SHAPE = (32, 64, 56, 56)


_WARM_S = 0.012  # PyTorch's OpenMP workers spin 5-10 ms after a parallel op


def _median_times(
    cands: dict[str, Callable[[], object]], reps: int, number: int = 3
) -> dict[str, float]:
    """Median times of ``cands`` in alternating blocks.

    Each repetition runs every candidate in turn, untimed for 12 ms (so
    it reaches its own hot steady state and the previous library's spinning workers have gone
    idle), then ``number`` timed calls. Medians of the blocks' means, in ms.
    """
    times: dict[str, list[float]] = {k: [] for k in cands}
    for _ in range(reps):
        for name, f in cands.items():
            warm = time.perf_counter()
            f()
            while time.perf_counter() - warm < _WARM_S:
                f()
            start = time.perf_counter()
            for _ in range(number):
                f()
            times[name].append((time.perf_counter() - start) / number * 1e3)
    return {k: statistics.median(v) for k, v in times.items()}


def _jax_candidate(x: np.ndarray[Any, Any], p: float) -> Callable[[], object] | None:
    """Ours on JAX: jitted, a fresh key each call, waited for; None if JAX is absent."""
    try:
        import jax
    except ImportError:
        return None
    xj = jax.device_put(x)
    f = jax.jit(lambda a, k: F.dropout2d(a, p, key=k))
    keys = iter(jax.random.split(jax.random.key(0), 100_000))
    return lambda: f(xj, next(keys)).block_until_ready()


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch


def _dropout2d_case(shape: tuple[int, ...], p: float, inplace: bool, reps: int) -> dict[str, Any]:
    torch = _torch()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    work, buf = x.copy(), np.empty_like(x)
    s = np.float32(1) / np.float32(1 - p)
    groups = math.prod(shape[:2]) if len(shape) == 4 else shape[0]
    mshape = (*shape[:2], 1, 1) if len(shape) == 4 else (shape[0], 1, 1)
    mask = (rng.random(mshape) >= p).astype(np.float32) * s
    cands: dict[str, Callable[[], object]] = {}
    if inplace:
        cands["ours_numpy"] = lambda: F.dropout2d(work, p, inplace=True)
        cands["naive_numpy"] = lambda: np.multiply(work, mask, out=work)
    else:
        cands["ours_numpy"] = lambda: F.dropout2d(x, p)
        cands["naive_numpy"] = lambda: x * mask
    if torch is not None:
        t, tw = torch.from_numpy(x.copy()), torch.from_numpy(x.copy())
        f = torch.nn.functional.dropout2d
        if inplace:
            cands["ours_torch"] = lambda: F.dropout2d(tw, p, inplace=True)
            cands["torch_F"] = lambda: f(tw, p, inplace=True)
        else:
            cands["ours_torch"] = lambda: F.dropout2d(t, p)
            cands["torch_F"] = lambda: f(t, p)
    jax_call = _jax_candidate(x, p) if not inplace else None  # JAX arrays are immutable
    if jax_call is not None:
        cands["ours_jax"] = jax_call
    cands["multiply"] = lambda: np.multiply(x, s, out=buf)
    cands["copyto"] = lambda: np.copyto(buf, x)
    cands["fill"] = lambda: buf.fill(0)
    # In place, repeated calls scale the same buffer by 1 / (1 - p) until it reaches inf (no
    # slower to multiply than a finite value); NumPy's overflow warning is expected there.
    with np.errstate(over="ignore"):
        med = _median_times(cands, reps)
    ideal = (1 - p) * med["multiply"] + p * med["fill"]
    row: dict[str, Any] = {
        "shape": list(shape),
        "p": p,
        "inplace": inplace,
        "groups": groups,
        "ms": med,
        "ideal_ms": ideal,
        "ideal_over_ours": ideal / med["ours_numpy"],
    }
    if "torch_F" in med:
        row["ours_over_torch"] = med["ours_numpy"] / med["torch_F"]
        row["ours_torch_over_torch"] = med["ours_torch"] / med["torch_F"]
        if "ours_jax" in med:
            row["ours_jax_over_torch"] = med["ours_jax"] / med["torch_F"]
    return row


def _memory(shape: tuple[int, ...], p: float) -> dict[str, float]:
    """Peak bytes allocated during one call, as a multiple of the input's size (tracemalloc)."""
    x = np.random.default_rng(1).standard_normal(shape, dtype=np.float32)
    out: dict[str, float] = {}
    calls: dict[str, Callable[[], object]] = {
        "out_of_place": lambda: F.dropout2d(x, p),
        "in_place": lambda: F.dropout2d(x, p, inplace=True),
    }
    for name, call in calls.items():
        call()  # warm: a first call may compile a kernel, which is not the call's memory
        tracemalloc.start()
        tracemalloc.reset_peak()
        result = call()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del result
        out[name] = peak / x.nbytes
    return out


def _backward_case(shape: tuple[int, ...], p: float, reps: int) -> dict[str, Any] | None:
    torch = _torch()
    if torch is None:
        return None
    x = torch.randn(shape)
    xg, g = x.clone().requires_grad_(), torch.randn(shape)
    f = torch.nn.functional.dropout2d
    cands: dict[str, Callable[[], object]] = {
        "ours_fwd": lambda: F.dropout2d(x, p),
        "torch_fwd": lambda: f(x, p),
        "ours_fwd_bwd": lambda: F.dropout2d(xg, p).backward(g),
        "torch_fwd_bwd": lambda: f(xg, p).backward(g),
    }
    med = _median_times(cands, reps)
    return {
        "shape": list(shape),
        "p": p,
        "ms": med,
        "fwd_ratio": med["ours_fwd"] / med["torch_fwd"],
        "fwd_bwd_ratio": med["ours_fwd_bwd"] / med["torch_fwd_bwd"],
    }


def _training_loop_case(threads: int, reps: int) -> dict[str, Any] | None:
    """A training-style step, conv2d and dropout2d alternating, forward and backward.

    Ours against the same loop with ``F.dropout2d``, at ``threads`` threads for torch and for our
    kernels alike: a second thread pool fighting torch's for the cores would show here.
    """
    torch = _torch()
    if torch is None:
        return None
    old, old_ours = torch.get_num_threads(), get_num_threads()
    torch.set_num_threads(threads)
    set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        convs = [torch.nn.Conv2d(32, 32, 3, padding=1) for _ in range(3)]
        for conv in convs:
            conv.weight.data.normal_(0, 0.05, generator=gen)
        x = torch.randn(16, 32, 32, 32, generator=gen)

        def step(drop: Callable[[Any], Any]) -> None:
            h = x
            for conv in convs:
                h = drop(torch.relu(conv(h)))
            h.sum().backward()

        theirs = torch.nn.functional.dropout2d
        cands: dict[str, Callable[[], object]] = {
            "ours": lambda: step(lambda h: F.dropout2d(h, 0.2)),
            "torch_F": lambda: step(lambda h: theirs(h, 0.2)),
        }
        med = _median_times(cands, max(5, reps // 2), number=2)
    finally:
        torch.set_num_threads(old)
        set_num_threads(old_ours)
    return {"threads": threads, "ms": med, "ratio": med["ours"] / med["torch_F"]}


def _dask_case(reps: int) -> dict[str, Any] | None:
    """Dask: (64, 64, 64, 64) float32 in 16 chunks, threaded scheduler, against in memory.

    Also times an identity ``map_blocks`` over the same chunks: Dask's own floor (tasks and
    assembling the result), which no dropout on Dask can beat.
    """
    try:
        import dask
        import dask.array as da
    except ImportError:
        return None
    x = np.random.default_rng(4).standard_normal((64, 64, 64, 64), dtype=np.float32)
    d = da.from_array(x, chunks=(16, 16, 64, 64))  # type: ignore[no-untyped-call]
    start = time.perf_counter()
    y = F.dropout2d(d, 0.3, generator=5)
    build = (time.perf_counter() - start) * 1e3
    graph = y.__dask_graph__()
    floor = d.map_blocks(np.copy, dtype=d.dtype)
    cands: dict[str, Callable[[], object]] = {
        "ours_dask": lambda: y.compute(),
        "identity_dask": lambda: floor.compute(),
        "ours_numpy": lambda: F.dropout2d(x, 0.3, generator=5),
    }
    with dask.config.set(scheduler="threads"):
        med = _median_times(cands, reps, number=1)
    return {
        "layers": len(graph.layers),
        "tasks": len(dict(graph)),
        "build_ms": build,
        "ms": med,
        "ratio": med["ours_dask"] / med["ours_numpy"],
        "floor_ratio": med["identity_dask"] / med["ours_numpy"],
    }


def _jax_jit_case(reps: int) -> dict[str, Any] | None:
    """JAX under ``jit``: ours NCHW and NHWC against Flax's ``nnx.Dropout(broadcast_dims=...)``.

    (32, 64, 56, 56) float32, p = 0.5, a fresh key each call passed as an argument, waited for.
    """
    try:
        import jax
        from flax import nnx
    except ImportError:
        return None
    x = np.random.default_rng(5).standard_normal((32, 64, 56, 56), dtype=np.float32)
    nchw, nhwc = jax.device_put(x), jax.device_put(np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    keys = iter(jax.random.split(jax.random.key(0), 100_000))

    def ours(fmt: str) -> Any:
        return jax.jit(lambda a, k: F.dropout2d(a, 0.5, key=k, data_format=fmt))

    def flax(dims: tuple[int, ...]) -> Any:
        layer = nnx.Dropout(0.5, broadcast_dims=dims)
        return jax.jit(lambda a, k: layer(a, rngs=k))

    calls = {
        "ours_nchw": (ours("channels_first"), nchw),
        "ours_nhwc": (ours("channels_last"), nhwc),
        "flax_nchw": (flax((2, 3)), nchw),
        "flax_nhwc": (flax((1, 2)), nhwc),
    }
    cands: dict[str, Callable[[], object]] = {
        name: functools.partial(lambda f, a: f(a, next(keys)).block_until_ready(), f, a)
        for name, (f, a) in calls.items()
    }
    med = _median_times(cands, reps, number=3)
    return {
        "ms": med,
        "nchw_over_flax": med["ours_nchw"] / med["flax_nchw"],
        "nhwc_over_flax": med["ours_nhwc"] / med["flax_nhwc"],
        "nhwc_over_nchw": med["ours_nhwc"] / med["ours_nchw"],
    }


def _jax_eager_case(reps: int) -> dict[str, Any] | None:
    """JAX eager (no ``jit`` around the call) against the jitted call, a fresh key each call.

    The first call of each of three shapes this process has not seen, (5-7, 80, 14, 14), is
    timed once; the row gives their median (one compile is one sample of a noisy machine).
    """
    try:
        import jax
    except ImportError:
        return None
    keys = iter(jax.random.split(jax.random.key(2), 100_000))
    jitted = jax.jit(lambda a, k: F.dropout2d(a, 0.5, key=k))
    firsts = []
    for n in (5, 6, 7):
        fresh = jax.device_put(np.ones((n, 80, 14, 14), dtype=np.float32))
        key = next(keys)  # (the first slice of `keys` compiles too: not ours to time)
        start = time.perf_counter()
        F.dropout2d(fresh, 0.5, key=key).block_until_ready()
        firsts.append((time.perf_counter() - start) * 1e3)
    row: dict[str, Any] = {
        "first_call_ms": statistics.median(firsts),
        "first_calls_ms": firsts,
        "shapes": [],
    }
    for shape in [(4, 512, 7, 7), (32, 64, 56, 56)]:
        a = jax.device_put(np.random.default_rng(6).standard_normal(shape, dtype=np.float32))
        cands: dict[str, Callable[[], object]] = {
            "eager": functools.partial(
                lambda a: F.dropout2d(a, 0.5, key=next(keys)).block_until_ready(), a
            ),
            "jit": functools.partial(lambda a: jitted(a, next(keys)).block_until_ready(), a),
        }
        med = _median_times(cands, reps, number=3)
        row["shapes"].append({"shape": list(shape), "ms": med, "ratio": med["eager"] / med["jit"]})
    return row


def _layer_step_case(reps: int) -> dict[str, Any] | None:
    """A small NHWC CNN's jitted forward+backward with our layers against the library's own.

    Flax NNX: ours ``Dropout2d`` against ``nnx.Dropout(0.3, broadcast_dims=(1, 2))`` under
    ``nnx.jit``; Equinox: ours ``Dropout`` against ``eqx.nn.Dropout`` (element-wise, Equinox has
    no channel dropout) under ``eqx.filter_jit``, per-sample models under ``vmap``.
    """
    try:
        import equinox as eqx
        import jax
        import jax.numpy as jnp
        from flax import nnx

        from . import equinox as sd_eqx
        from . import flax as sd_flax
    except ImportError:
        return None
    x = jnp.asarray(np.random.default_rng(6).standard_normal((32, 32, 32, 16), dtype=np.float32))

    class Net(nnx.Module):
        def __init__(self, drop: Callable[[nnx.Rngs], Any], rngs: nnx.Rngs) -> None:
            self.c1 = nnx.Conv(16, 32, (3, 3), rngs=rngs)
            self.c2 = nnx.Conv(32, 32, (3, 3), rngs=rngs)
            self.d1, self.d2 = drop(rngs), drop(rngs)

        def __call__(self, a: Any) -> Any:
            a = self.d1(jax.nn.relu(self.c1(a)))
            return self.d2(jax.nn.relu(self.c2(a))).mean()

    def flax_step(drop: Callable[[nnx.Rngs], Any]) -> Callable[[], object]:
        net = Net(drop, nnx.Rngs(0, dropout=1))
        step = nnx.jit(lambda m, a: nnx.grad(lambda m: m(a))(m))
        return lambda: jax.block_until_ready(step(net, x))  # type: ignore[no-untyped-call]

    def eqx_step(drop: Any) -> Callable[[], object]:
        k1, k2 = jax.random.split(jax.random.key(0))
        convs = (
            eqx.nn.Conv2d(16, 32, 3, padding=1, key=k1),
            eqx.nn.Conv2d(32, 32, 3, padding=1, key=k2),
        )
        nchw = jnp.transpose(x, (0, 3, 1, 2))
        keys = iter(jax.random.split(jax.random.key(1), 100_000))

        def loss(model: Any, a: Any, key: Any) -> Any:
            def one(ai: Any, ki: Any) -> Any:
                ka, kb = jax.random.split(ki)
                h = drop(jax.nn.relu(model[0](ai)), key=ka)
                return drop(jax.nn.relu(model[1](h)), key=kb).mean()

            return jax.vmap(one)(a, jax.random.split(key, a.shape[0])).mean()

        step = eqx.filter_jit(eqx.filter_grad(loss))
        return lambda: jax.block_until_ready(step(convs, nchw, next(keys)))  # type: ignore[no-untyped-call]

    cands: dict[str, Callable[[], object]] = {
        "ours_flax": flax_step(lambda r: sd_flax.Dropout2d(0.3, rngs=r)),
        "flax": flax_step(lambda r: nnx.Dropout(0.3, broadcast_dims=(1, 2), rngs=r)),
        "ours_eqx": eqx_step(sd_eqx.Dropout(0.3)),
        "eqx": eqx_step(eqx.nn.Dropout(0.3)),
    }
    med = _median_times(cands, reps, number=3)
    return {
        "ms": med,
        "flax_ratio": med["ours_flax"] / med["flax"],
        "eqx_ratio": med["ours_eqx"] / med["eqx"],
    }


def _elementwise_case(p: float, reps: int) -> dict[str, Any]:
    torch = _torch()
    x = np.random.default_rng(2).standard_normal(ELEMENTWISE_SHAPE, dtype=np.float32)
    buf = np.empty_like(x)
    g = Generator(0)
    cands: dict[str, Callable[[], object]] = {
        "ours_numpy": lambda: F.dropout(x, p, generator=g),  # the portable generator
        "ours_numpy_global": lambda: F.dropout(x, p),  # the global stream (a Generator)
        "copyto": lambda: np.copyto(buf, x),
    }
    if torch is not None:
        t = torch.from_numpy(x.copy())
        cands["torch_F_dropout"] = lambda: torch.nn.functional.dropout(t, p)
    med = _median_times(cands, reps, number=1)
    row = {
        "shape": list(ELEMENTWISE_SHAPE),
        "p": p,
        "ms": med,
        "ours_over_copyto": med["ours_numpy"] / med["copyto"],
    }
    if "torch_F_dropout" in med:
        row["torch_over_ours"] = med["torch_F_dropout"] / med["ours_numpy"]
    return row


def _small_case(shape: tuple[int, ...], p: float, reps: int) -> dict[str, Any]:
    torch = _torch()
    x = np.random.default_rng(3).standard_normal(shape, dtype=np.float32)
    cands: dict[str, Callable[[], object]] = {"ours_numpy": lambda: F.dropout2d(x, p)}
    if torch is not None:
        t = torch.from_numpy(x.copy())
        cands["ours_torch"] = lambda: F.dropout2d(t, p)
        cands["torch_F"] = lambda: torch.nn.functional.dropout2d(t, p)
    med = _median_times(cands, reps, number=200)
    row: dict[str, Any] = {"shape": list(shape), "p": p, "us": {k: v * 1e3 for k, v in med.items()}}
    if "torch_F" in med:
        row["ours_over_torch"] = med["ours_numpy"] / med["torch_F"]
    return row


def run(
    reps: int = 15,
    threads: int | None = None,
    shapes: list[tuple[int, ...]] | None = None,
    ps: tuple[float, ...] = (0.2, 0.5),
    json_path: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the suite, print the tables, and return (and optionally save) the results."""
    torch = _torch()
    n = threads or get_num_threads()
    old = get_num_threads()
    set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    manual_seed(0)
    shapes = shapes or SEED_SHAPES
    jobs: list[tuple[str, Callable[[], Any]]] = [
        ("dropout2d", functools.partial(_dropout2d_case, shape, p, inplace, reps))
        for shape in shapes
        for p in ps
        for inplace in (False, True)
    ]
    jobs += [("elementwise", functools.partial(_elementwise_case, p, reps)) for p in ps]
    jobs += [("small", functools.partial(_small_case, s, 0.2, reps)) for s in SMALL_SHAPES]
    jobs += [
        ("backward", functools.partial(_backward_case, s, 0.2, reps))
        for s in [*SMALL_SHAPES, *shapes]
        if len(s) == 4
    ]
    jobs += [("training", functools.partial(_training_loop_case, t, reps)) for t in (1, 2)]
    jobs += [("dask", functools.partial(_dask_case, reps))]
    jobs += [("jax_jit", functools.partial(_jax_jit_case, reps))]
    jobs += [("jax_eager", functools.partial(_jax_eager_case, reps))]
    jobs += [("layers", functools.partial(_layer_step_case, reps))]
    results: dict[str, Any] = {
        "threads": n,
        "reps": reps,
        "numpy": np.__version__,
        "kernels": _kernels_name(),
        "torch": getattr(torch, "__version__", None),
        "dropout2d": [],
        "elementwise": [],
        "small": [],
        "backward": [],
        "training": [],
        "dask": [],
        "jax_jit": [],
        "jax_eager": [],
        "layers": [],
        "memory": _memory((16, 64, 32, 32), 0.5),
    }
    try:
        for i, (kind, job) in enumerate(jobs, 1):
            if progress:
                bar = "#" * (30 * i // len(jobs))
                print(
                    f"\r[{bar:<30}] {i}/{len(jobs)} {kind:<12}", end="", file=sys.stderr, flush=True
                )
            row = job()
            if row is not None:
                results[kind].append(row)
    finally:
        set_num_threads(old)
        if progress:
            print(file=sys.stderr)
    print(report(results))
    if json_path:
        with open(json_path, "w") as f:
            json.dump(results, f, indent=1)
        print(f"\nsaved {json_path}")
    return results


def _kernels_name() -> str:
    """Which kernels the NumPy rows ran: the compiled ones (numba) or plain NumPy."""
    k = _compiled.kernels()
    if k is None:
        return "numpy"
    return f"numba {k.numba.__version__}"


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def report(r: dict[str, Any]) -> str:
    """The tables and the target summary of a results dict, as text."""
    lines = [
        f"spatial_dropout bench: float32, {r['threads']} thread(s), medians of {r['reps']} "
        f"alternating blocks; numpy {r['numpy']}, torch {r['torch']}; "
        f"kernels: {r.get('kernels', 'numpy')}",
        "",
    ]
    head = (
        f"{'shape':<20}{'p':>4} {'mode':<7}{'ours ms':>9}{'torch ms':>9}{'ours/F':>8}"
        f"{'ideal/ours':>11}{'torch-be/F':>11}{'jax/F':>7}{'naive ms':>9}{'copyto':>8}"
    )
    lines += [head, "-" * len(head)]
    for row in r["dropout2d"]:
        ms = row["ms"]
        lines.append(
            f"{tuple(row['shape'])!s:<20}{row['p']:>4} {'inplace' if row['inplace'] else 'out':<7}"
            f"{ms['ours_numpy']:>9.3f}{ms.get('torch_F', math.nan):>9.3f}"
            f"{row.get('ours_over_torch', math.nan):>8.2f}{row['ideal_over_ours']:>11.2f}"
            f"{row.get('ours_torch_over_torch', math.nan):>11.2f}"
            f"{row.get('ours_jax_over_torch', math.nan):>7.2f}{ms['naive_numpy']:>9.3f}"
            f"{ms['copyto']:>8.3f}"
        )
    ratios = [row["ours_over_torch"] for row in r["dropout2d"] if "ours_over_torch" in row]
    ideal = [row["ideal_over_ours"] for row in r["dropout2d"]]
    lines += ["", "targets:"]
    if ratios and r.get("kernels", "numpy") == "numpy":  # without the numba extra
        lines.append(
            f"  NumPy dropout2d / F.dropout2d, plain NumPy kernels: geometric mean "
            f"{_geomean(ratios):.2f} (target <= 1.3), worst {max(ratios):.2f}"
        )
    elif ratios:
        lines.append(
            f"  NumPy dropout2d / F.dropout2d: geometric mean {_geomean(ratios):.2f} "
            f"(target <= 0.7), worst {max(ratios):.2f} (target <= 1.1)"
        )
    lines.append(f"  ideal / ours: worst {min(ideal):.2f} (target >= 0.6)")
    for row in r["elementwise"]:
        lines.append(
            f"  element-wise {tuple(row['shape'])} p={row['p']}: ours (Generator) "
            f"{row['ms']['ours_numpy']:.2f} ms, {row.get('torch_over_ours', math.nan):.1f}x faster "
            f"than F.dropout (target >= 10), {row['ours_over_copyto']:.2f}x np.copyto "
            f"(target <= 3); global stream {row['ms'].get('ours_numpy_global', math.nan):.2f} ms"
        )
    for row in r["small"]:
        us = row["us"]
        lines.append(
            f"  small {tuple(row['shape'])}: ours {us['ours_numpy']:.1f} us, "
            f"F.dropout2d {us.get('torch_F', math.nan):.1f} us, ratio "
            f"{row.get('ours_over_torch', math.nan):.2f} (target <= 1.2)"
        )
    mem = r["memory"]
    lines.append(
        f"  memory (peak / input size): out of place {mem['out_of_place']:.3f} "
        f"(target ~1), in place {mem['in_place']:.3f} (target ~0)"
    )
    for row in r["backward"]:
        ms, shape = row["ms"], tuple(row["shape"])
        if math.prod(shape) * 4 >= 1 << 20:
            lines.append(
                f"  torch backend {shape}: forward {row['fwd_ratio']:.2f}x, forward+backward "
                f"{row['fwd_bwd_ratio']:.2f}x F.dropout2d (target <= 1.15)"
            )
        else:
            over = [1e3 * (ms[f"ours_{k}"] - ms[f"torch_{k}"]) for k in ("fwd", "fwd_bwd")]
            lines.append(
                f"  torch backend {shape} (< 1 MB): forward {over[0]:+.1f} us, forward+backward "
                f"{over[1]:+.1f} us over F.dropout2d (target <= +8 us)"
            )
    for row in r.get("jax_jit", []):
        ms = row["ms"]
        lines.append(
            f"  JAX jit (32, 64, 56, 56) p=0.5: ours NCHW {ms['ours_nchw']:.2f} ms, NHWC "
            f"{ms['ours_nhwc']:.2f} ms; Flax nnx.Dropout NCHW {ms['flax_nchw']:.2f} ms, NHWC "
            f"{ms['flax_nhwc']:.2f} ms; ours/Flax {row['nchw_over_flax']:.2f} and "
            f"{row['nhwc_over_flax']:.2f} (target <= 1.0), NHWC/NCHW "
            f"{row['nhwc_over_nchw']:.2f} (target <= 1.2)"
        )
    for row in r.get("jax_eager", []):
        each = ", ".join(f"{ms:.0f}" for ms in row.get("first_calls_ms", []))
        lines.append(
            f"  JAX eager: first call of a new shape {row['first_call_ms']:.0f} ms, the "
            f"median of three ({each} ms) (target < 300 ms)"
        )
        for one in row["shapes"]:
            lines.append(
                f"  JAX eager {tuple(one['shape'])} p=0.5: {one['ms']['eager']:.3f} ms vs jitted "
                f"{one['ms']['jit']:.3f} ms = {one['ratio']:.2f}x (target <= 2)"
            )
    for row in r.get("layers", []):
        ms = row["ms"]
        lines.append(
            f"  NHWC CNN step (fwd+bwd, jit, (32, 32, 32, 16)): Flax ours {ms['ours_flax']:.2f} "
            f"ms vs nnx.Dropout {ms['flax']:.2f} ms = {row['flax_ratio']:.2f}x; Equinox ours "
            f"{ms['ours_eqx']:.2f} ms vs eqx.nn.Dropout {ms['eqx']:.2f} ms = "
            f"{row['eqx_ratio']:.2f}x (target <= 1.0)"
        )
    for row in r.get("dask", []):
        lines.append(
            f"  Dask (64, 64, 64, 64) in 16 chunks: {row['layers']} layers, {row['tasks']} tasks, "
            f"built in {row['build_ms']:.1f} ms; compute {row['ms']['ours_dask']:.1f} ms = "
            f"{row['ratio']:.2f}x in-memory NumPy (target <= 1.3; Dask's own floor, an identity "
            f"map_blocks: {row['floor_ratio']:.2f}x)"
        )
    for row in r.get("training", []):
        lines.append(
            f"  training loop (3 x conv2d + dropout2d, fwd+bwd, (16, 32, 32, 32)), "
            f"{row['threads']} thread(s): ours {row['ms']['ours']:.2f} ms, F.dropout2d "
            f"{row['ms']['torch_F']:.2f} ms, ratio {row['ratio']:.2f}"
        )
    return "\n".join(lines)
