"""The structured family's bench rows (#21): each candidate measured side by side in one run.

``python benchmarks/structured.py [--reps N]``: 1 and 2 threads (``sd.set_num_threads`` and
``torch.set_num_threads``), medians of alternating blocks (``_bench._median_times``), p = 0.1.

- NumPy ``drop_block2d`` against ``np.copyto`` of the same array (target <= 3x), and
  torchvision's ``drop_block2d`` on the same data as a tensor (reported);
- torch ``drop_block2d`` against our ``dropout2d`` on the same tensor, forward and
  forward+backward (target <= 4x);
- torch ``drop_path`` against timm's ``drop_path`` (target <= 1.1x);
- JAX ``drop_block2d`` under ``jit`` against our element-wise ``dropout`` under ``jit``
  (target <= 1.5x);
- Dask ``drop_block2d`` against Dask's identity ``map_blocks`` on the same chunks (<= 1.2x).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import spatial_dropout as sd
from spatial_dropout._bench import _median_times

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from peers import import_peer  # torchvision beside the CPU build of torch: see there

BLOCKS = [((32, 64, 56, 56), 7), ((32, 256, 14, 14), 5)]
PATHS = [(64, 197, 384), (32, 256, 14, 14)]
P = 0.1


def _row(name: str, times: dict[str, float], ours: str, base: str, target: float) -> str:
    ratio = times[ours] / times[base]
    mark = "met" if ratio <= target else "NOT met"
    rest = ", ".join(f"{k} {v:.2f} ms" for k, v in times.items())
    return f"{name}: {rest}; {ours}/{base} = {ratio:.2f}x (target <= {target}x: {mark})"


def _numpy_case(shape: tuple[int, ...], b: int, reps: int) -> str:
    import torch

    ops = import_peer("torchvision.ops")
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    out, t = np.empty_like(x), torch.from_numpy(x)
    g = sd.Generator(0)
    cands: dict[str, Callable[[], object]] = {
        "copyto": lambda: np.copyto(out, x),
        "ours": lambda: sd.drop_block2d(x, P, b, generator=g),
        "torchvision": lambda: ops.drop_block2d(t, P, b),
    }
    times = _median_times(cands, reps, number=1)
    row = _row(f"numpy drop_block2d {shape} b={b}", times, "ours", "copyto", 3.0)
    return f"{row}; ours/torchvision = {times['ours'] / times['torchvision']:.3f}x"


def _torch_block_case(shape: tuple[int, ...], b: int, reps: int) -> list[str]:
    import torch

    x = torch.randn(shape)
    xg = x.clone().requires_grad_()
    g = sd.Generator(0)
    fwd: dict[str, Callable[[], object]] = {
        "dropout2d": lambda: sd.dropout2d(x, P, generator=g),
        "drop_block2d": lambda: sd.drop_block2d(x, P, b, generator=g),
    }
    bwd: dict[str, Callable[[], object]] = {
        "dropout2d": lambda: sd.dropout2d(xg, P, generator=g).sum().backward(),
        "drop_block2d": lambda: sd.drop_block2d(xg, P, b, generator=g).sum().backward(),
    }
    rows = []
    for what, cands in (("forward", fwd), ("forward+backward", bwd)):
        times = _median_times(cands, reps, number=1)
        name = f"torch drop_block2d {what} {shape} b={b}"
        rows.append(_row(name, times, "drop_block2d", "dropout2d", 4.0))
    return rows


def _torch_path_case(shape: tuple[int, ...], reps: int) -> list[str]:
    import torch

    layers = import_peer("timm.layers")
    x = torch.randn(shape)
    xg = x.clone().requires_grad_()
    fwd: dict[str, Callable[[], object]] = {
        "timm": lambda: layers.drop_path(x, P, True),
        "ours": lambda: sd.drop_path(x, P),
    }
    bwd: dict[str, Callable[[], object]] = {
        "timm": lambda: layers.drop_path(xg, P, True).sum().backward(),
        "ours": lambda: sd.drop_path(xg, P).sum().backward(),
    }
    rows = []
    for what, cands in (("forward", fwd), ("forward+backward", bwd)):
        times = _median_times(cands, reps)
        rows.append(_row(f"torch drop_path {what} {shape}", times, "ours", "timm", 1.1))
    return rows


def _jax_case(shape: tuple[int, ...], b: int, reps: int) -> str:
    import jax

    x = jax.numpy.asarray(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
    key = jax.random.key(0)
    block = jax.jit(lambda x, k: sd.drop_block2d(x, P, b, key=k))
    elementwise = jax.jit(lambda x, k: sd.dropout(x, P, key=k))
    cands: dict[str, Callable[[], object]] = {
        "dropout": lambda: elementwise(x, key).block_until_ready(),
        "drop_block2d": lambda: block(x, key).block_until_ready(),
    }
    times = _median_times(cands, reps, number=1)
    return _row(f"jax jit drop_block2d {shape} b={b}", times, "drop_block2d", "dropout", 1.5)


def _dask_case(shape: tuple[int, ...], b: int, reps: int) -> str:
    import dask
    import dask.array as da

    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    chunks = (shape[0] // 4, shape[1], shape[2] // 2, shape[3] // 2)
    lazy = da.from_array(x, chunks=chunks)
    with dask.config.set(scheduler="threads"):
        cands: dict[str, Callable[[], object]] = {
            "identity": lambda: lazy.map_blocks(np.copy).compute(),
            "ours": lambda: sd.drop_block2d(lazy, P, b, generator=0).compute(),
        }
        times = _median_times(cands, reps, number=1)
    name = f"dask drop_block2d {shape} b={b} chunks {chunks}"
    return _row(name, times, "ours", "identity", 1.2)


def rows(reps: int) -> list[str]:
    """Every row, at the current thread count."""
    out = [_numpy_case(shape, b, reps) for shape, b in BLOCKS]
    for shape, b in BLOCKS:
        out += _torch_block_case(shape, b, reps)
    for shape in PATHS:
        out += _torch_path_case(shape, reps)
    out += [_jax_case(shape, b, reps) for shape, b in BLOCKS]
    out += [_dask_case(shape, b, reps) for shape, b in BLOCKS]
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args(argv)
    import torch

    for threads in (int(t) for t in args.threads.split(",")):
        sd.set_num_threads(threads)
        torch.set_num_threads(threads)
        print(f"== {threads} thread(s), kernels: {'numba' if _numba() else 'numpy'}")
        for line in rows(args.reps):
            print(line, flush=True)


def _numba() -> Any:
    from spatial_dropout._backends._numpy import _compiled

    return _compiled.kernels()


if __name__ == "__main__":
    main()
