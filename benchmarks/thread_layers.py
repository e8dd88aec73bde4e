"""Our torch-tensor kernels on numba's threads against serial, ratios to ``F.dropout2d``.

``python benchmarks/thread_layers.py parallel`` (the default build), ``... serial`` (every
kernel on the calling thread), or ``NUMBA_THREADING_LAYER=workqueue python
benchmarks/thread_layers.py workqueue``. Prints the OpenMP runtimes mapped in the process, then
forward and forward+backward medians at 2 threads, p = 0.5. docs/performance.md quotes a run.
"""

from __future__ import annotations

import re
import statistics
import sys
import timeit
from typing import Any

import torch

import spatial_dropout as sd
from spatial_dropout._backends._numpy import _cpu

SHAPES = [(16, 64, 32, 32), (4, 64, 56, 56), (32, 128, 32, 32), (32, 64, 56, 56), (8, 256, 64, 64)]


def _serial() -> None:
    """Every plane kernel on the calling thread."""
    parallel = _cpu.scale_rows

    def scale_rows(*args: Any, tuning: Any = None, threads: Any = None) -> None:
        parallel(*args, tuning=tuning, threads=1)

    _cpu.scale_rows = scale_rows  # type: ignore[assignment]


def ratios(shape: tuple[int, ...]) -> tuple[float, float]:
    """Ours over ``F.dropout2d``, forward and forward+backward: medians of 7 alternating blocks."""
    f = torch.nn.functional.dropout2d
    x = torch.randn(shape)
    xg, g = x.clone().requires_grad_(), torch.randn(shape)
    calls = {
        "F fwd": lambda: f(x, 0.5),
        "ours fwd": lambda: sd.dropout2d(x, 0.5),
        "F fwd+bwd": lambda: f(xg, 0.5).backward(g),
        "ours fwd+bwd": lambda: sd.dropout2d(xg, 0.5).backward(g),
    }
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(7):
        for name, call in calls.items():
            times[name].append(min(timeit.repeat(call, number=30, repeat=3)) / 30)
    med = {k: statistics.median(v) for k, v in times.items()}
    return med["ours fwd"] / med["F fwd"], med["ours fwd+bwd"] / med["F fwd+bwd"]


def main(mode: str) -> None:
    torch.set_num_threads(2)
    sd.set_num_threads(2)
    if mode == "serial":
        _serial()
    for shape in SHAPES:
        fwd, fwd_bwd = ratios(shape)
        print(f"{mode} {shape}: forward {fwd:.2f}x, forward+backward {fwd_bwd:.2f}x F.dropout2d")
    with open("/proc/self/maps") as maps:
        runtimes = sorted({line.split()[-1] for line in maps if re.search(r"lib[gi]omp", line)})
    print("OpenMP runtimes mapped:", *runtimes, sep="\n  ")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "parallel")
