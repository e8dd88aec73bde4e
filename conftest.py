"""Doctests of the modules and pages that need an optional package run only where it is
installed: a NumPy-only install (``pip install -e '.[test]'``) collects and passes."""

from __future__ import annotations

import importlib.util

_NEEDS = {
    "src/spatial_dropout/torch.py": "torch",
    "src/spatial_dropout/flax.py": "flax",
    "src/spatial_dropout/equinox.py": "equinox",
    "src/spatial_dropout/_backends/_torch/_ops.py": "torch",
    "src/spatial_dropout/_backends/_torch/_recompute.py": "torch",
    "src/spatial_dropout/_backends/_numpy/_numba_kernels.py": "numba",
    "src/spatial_dropout/_picture.py": "matplotlib",
    "docs/backends/pytorch.md": "torch",
    "docs/backends/jax.md": "jax",
    "docs/backends/dask.md": "dask",
}

collect_ignore = [
    path for path, module in _NEEDS.items() if importlib.util.find_spec(module) is None
]
