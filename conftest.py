"""Doctests of the framework modules run only where their framework is installed."""

from __future__ import annotations

import importlib.util

collect_ignore = [
    f"src/spatial_dropout/{name}.py"
    for name in ("torch", "flax", "equinox")
    if importlib.util.find_spec(name) is None
]
