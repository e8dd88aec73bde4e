"""This tree against an earlier commit, side by side in one process.

``python benchmarks/before_after.py REV [--numpy-only]``.

The earlier commit's package is extracted with ``git archive`` and imported as
``spatial_dropout_before`` (its torch operators renamed, so both register). Every case runs both
in alternating blocks (``_bench._median_times``): the bench's NumPy cells (the seed's shapes,
``p`` 0.2 and 0.5, out of place and in place, a ``Generator``), and torch rows (forward, and
forward+backward, ``generator=None`` and a ``Generator``). Prints medians and after/before.
"""

from __future__ import annotations

import importlib
import statistics
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

import spatial_dropout as after
from spatial_dropout._bench import SEED_SHAPES, _median_times

TORCH_SHAPES = [(16, 64, 32, 32), (4, 512, 7, 7), (32, 64, 56, 56)]


def load_before(rev: str) -> Any:
    """The package at ``rev``, imported as ``spatial_dropout_before``."""
    root = Path(__file__).resolve().parents[1]
    blob = subprocess.run(
        ["git", "archive", rev, "src/spatial_dropout"], cwd=root, check=True, capture_output=True
    ).stdout
    where = Path(tempfile.mkdtemp())
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(where, filter="data")
    package = where / "src" / "spatial_dropout"
    wing = package / "_backends" / "_torch"
    ops = wing / "_ops.py" if wing.is_dir() else package / "_backends" / "_torch_ops.py"
    ops.write_text(ops.read_text().replace('"spatial_dropout::', '"spatial_dropout_before::'))
    package.rename(where / "spatial_dropout_before")
    sys.path.insert(0, str(where))
    return importlib.import_module("spatial_dropout_before")


def _pair(make: Callable[[Any], Callable[[], object]], before: Any) -> dict[str, float]:
    return _median_times({"after": make(after), "before": make(before)}, REPS)


def numpy_rows(before: Any) -> list[tuple[str, dict[str, float]]]:
    rows = []
    for shape in SEED_SHAPES:
        x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
        for p in (0.2, 0.5):
            for inplace in (False, True):

                def make(
                    sd: Any, x: Any = x, p: float = p, inplace: bool = inplace
                ) -> Callable[[], object]:
                    g = sd.Generator(1)
                    return lambda: sd.dropout2d(x, p, inplace=inplace, generator=g)

                mode = "inplace" if inplace else "out"
                rows.append((f"numpy {shape} p={p} {mode}", _pair(make, before)))
    return rows


def torch_rows(before: Any) -> list[tuple[str, dict[str, float]]]:
    import torch

    rows = []
    for shape in TORCH_SHAPES:
        x = torch.randn(shape)
        xg = x.clone().requires_grad_()
        for kind in ("None", "Generator"):

            def fwd(sd: Any, x: Any = x, kind: str = kind) -> Callable[[], object]:
                g = sd.Generator(1) if kind == "Generator" else None
                return lambda: sd.dropout2d(x, 0.2, generator=g)

            def fwd_bwd(sd: Any, xg: Any = xg, kind: str = kind) -> Callable[[], object]:
                g = sd.Generator(1) if kind == "Generator" else None
                return lambda: sd.dropout2d(xg, 0.2, generator=g).sum().backward()

            rows.append((f"torch {shape} fwd gen={kind}", _pair(fwd, before)))
            rows.append((f"torch {shape} fwd+bwd gen={kind}", _pair(fwd_bwd, before)))
    return rows


REPS = 15

if __name__ == "__main__":
    rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
    before = load_before(rev)
    rows = numpy_rows(before)
    if "--numpy-only" not in sys.argv:
        rows += torch_rows(before)
    print(f"after (this tree) / before ({rev}), medians of {REPS} alternating blocks, ms")
    print(f"{'case':48} {'after':>9} {'before':>9} {'ratio':>6}")
    ratios = []
    for name, t in rows:
        ratio = t["after"] / t["before"]
        ratios.append(ratio)
        print(f"{name:48} {t['after']:9.4f} {t['before']:9.4f} {ratio:6.2f}")
    print(f"geomean ratio {statistics.geometric_mean(ratios):.3f}, worst {max(ratios):.2f}")
