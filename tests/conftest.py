"""Backends as a fixture: each test runs once per installed backend; absent ones skip.

``SPATIAL_DROPOUT_TEST_BACKENDS=numpy,torch,...`` names backends that must be present: one that
then cannot be imported fails the run instead of skipping, so CI cannot pass by skipping.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

REQUIRED = {b for b in os.environ.get("SPATIAL_DROPOUT_TEST_BACKENDS", "").split(",") if b}


def require(module: str) -> Any:
    """Import ``module``, or skip (fail, when CI asked for it) if it is absent."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if module.split(".")[0].replace("_", "-") in REQUIRED or module in REQUIRED:
            pytest.fail(f"{module} is required by SPATIAL_DROPOUT_TEST_BACKENDS but not installed")
        pytest.skip(f"{module} is not installed")


@dataclass(frozen=True)
class Backend:
    """How a test makes an array of a backend from NumPy data, and reads one back."""

    name: str
    asarray: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]


def _numpy() -> Backend:
    return Backend("numpy", np.array, np.asarray)


def _strict() -> Backend:
    xp = require("array_api_strict")
    return Backend("array_api_strict", xp.asarray, lambda a: np.asarray(a))


def _torch_generic() -> Backend:
    torch = require("torch")
    return Backend("torch", lambda a: torch.from_numpy(a.copy()), lambda t: t.numpy(force=True))


def _jax() -> Backend:
    jnp = require("jax.numpy")
    return Backend("jax", jnp.asarray, np.asarray)


BACKENDS: dict[str, Callable[[], Backend]] = {
    "numpy": _numpy,
    "array_api_strict": _strict,
    "torch": _torch_generic,
    "jax": _jax,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]()


@pytest.fixture(params=["numpy", "array_api_strict", "torch"])
def writable_backend(request: pytest.FixtureRequest) -> Backend:
    """Backends whose arrays can be written in place."""
    return BACKENDS[request.param]()
