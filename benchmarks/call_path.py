"""Which of the package's files one call crosses: ``python benchmarks/call_path.py numpy``.

``numpy``, ``torch`` or ``jax``: traces the second ``dropout2d(x, 0.3, generator=...)`` on an
``(8, 16, 8, 8)`` float32 input (the first warms imports and compiled kernels) and prints the
distinct files, the number of file-to-file hops, and the path. ``SPATIAL_DROPOUT_NUMBA=0``
shows the path without the compiled kernels.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import numpy as np

import spatial_dropout as sd


def _call(mode: str) -> Callable[[], object]:
    g = sd.Generator(1)
    if mode == "torch":
        import torch

        t = torch.ones(8, 16, 8, 8)
        return lambda: sd.dropout2d(t, 0.3, generator=g)
    if mode == "jax":
        import jax.numpy as jnp

        a = jnp.ones((8, 16, 8, 8))
        return lambda: sd.dropout2d(a, 0.3, generator=1)
    x = np.ones((8, 16, 8, 8), np.float32)
    return lambda: sd.dropout2d(x, 0.3, generator=g)


def path(call: Callable[[], object]) -> list[str]:
    """The package files ``call`` enters, in order (consecutive repeats merged)."""
    call()
    files: list[str] = []

    def trace(frame: FrameType, event: str, arg: Any) -> None:
        name = frame.f_code.co_filename
        if event == "call" and "spatial_dropout" in name:
            rel = name.split("spatial_dropout/")[-1]
            if not files or files[-1] != rel:
                files.append(rel)

    sys.settrace(trace)
    try:
        call()
    finally:
        sys.settrace(None)
    return files


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "numpy"
    seq = path(_call(mode))
    print(f"{mode}: {len(set(seq))} files, {len(seq)} hops")
    print(" > ".join(seq))
