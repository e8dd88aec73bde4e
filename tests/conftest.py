"""The backends every behaviour test runs on, and the reference they are compared with.

``backend`` is a fixture over :class:`Kind`: each test runs once per backend; absent ones skip.
``SPATIAL_DROPOUT_TEST_BACKENDS=numpy,torch,...`` names backends that must be present: one that
then cannot be imported fails the run instead of skipping, so CI cannot pass by skipping.

The oracle is the array-API reference path (``_backends/_reference.py``) run on
array-api-strict: :func:`expected` computes what a call must return, never NumPy against NumPy.
"""

from __future__ import annotations

import enum
import importlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from spatial_dropout._variants import VARIANTS

# the variants called as ``dropout`` is, ``(x, p, training, inplace)`` on any rank; DropBlock
# (a grown mask: ``block_size`` third, a map of its rank) is tested in test_dropblock.py
PLAIN = [name for name, variant in VARIANTS.items() if variant.grow is None]

REQUIRED = {b for b in os.environ.get("SPATIAL_DROPOUT_TEST_BACKENDS", "").split(",") if b}


def require(module: str) -> Any:
    """Import ``module``, or skip (fail, when CI asked for it) if it is absent."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if module.split(".")[0].replace("_", "-") in REQUIRED or module in REQUIRED:
            pytest.fail(f"{module} is required by SPATIAL_DROPOUT_TEST_BACKENDS but not installed")
        pytest.skip(f"{module} is not installed", allow_module_level=True)


class Kind(enum.Enum):
    """Every array kind the library serves."""

    NUMPY = "numpy"
    NUMPY_READONLY = "numpy:readonly"
    ARRAY_API_STRICT = "array_api_strict"
    TORCH = "torch"
    JAX = "jax"
    JAX_JIT = "jax:jit"
    DASK = "dask"
    TORCH_CUDA = "torch:cuda"
    CUPY = "cupy"


@dataclass(frozen=True)
class Backend:
    """How a test makes an array of a backend from NumPy data, calls a function, reads back.

    ``call(f, x, *args, **kwargs)`` runs ``f`` as a user of that backend would: under
    ``jax.jit`` for ``jax:jit`` (``p``, flags, seeds and ``data_format`` static), and under a
    Dask scheduler that fails if anything computes before ``to_numpy``.
    """

    kind: Kind
    asarray: Callable[[np.ndarray], Any]
    to_numpy: Callable[[Any], np.ndarray]
    writable: bool = True
    global_stream: bool = True  # generator=None draws the library's global Generator
    dtypes: tuple[str, ...] = ("float16", "float32", "float64")
    call: Callable[..., Any] = field(default=lambda f, x, *a, **k: f(x, *a, **k))

    @property
    def name(self) -> str:
        return self.kind.value


def _numpy(readonly: bool = False) -> Backend:
    def asarray(a: np.ndarray) -> np.ndarray:
        out = np.array(a)
        out.flags.writeable = not readonly
        return out

    return Backend(
        Kind.NUMPY_READONLY if readonly else Kind.NUMPY, asarray, np.asarray, writable=not readonly
    )


def _strict() -> Backend:
    xp = require("array_api_strict")
    return Backend(
        Kind.ARRAY_API_STRICT,
        lambda a: xp.asarray(a.copy()),
        lambda a: np.asarray(a),
        dtypes=("float32", "float64"),
    )


def _torch(device: str = "cpu") -> Backend:
    torch = require("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    kind = Kind.TORCH if device == "cpu" else Kind.TORCH_CUDA
    return Backend(
        kind,
        lambda a: torch.from_numpy(a.copy()).to(device),
        lambda t: t.numpy(force=True),
        global_stream=False,
    )


def _jax(jit: bool = False) -> Backend:
    jax = require("jax")
    jnp = jax.numpy
    dtypes = (
        ("float16", "float32", "float64") if jax.config.jax_enable_x64 else ("float16", "float32")
    )
    if not jit:
        return Backend(
            Kind.JAX, jnp.asarray, np.asarray, writable=False, global_stream=False, dtypes=dtypes
        )

    def call(f: Callable[..., Any], x: Any, *args: Any, **kwargs: Any) -> Any:
        arrays = {k: kwargs.pop(k) for k in list(kwargs) if k == "key"}
        return jax.jit(lambda x, arrays: f(x, *args, **kwargs, **arrays))(x, arrays)

    return Backend(
        Kind.JAX_JIT,
        jnp.asarray,
        np.asarray,
        writable=False,
        global_stream=False,
        dtypes=dtypes,
        call=call,
    )


def _fail_on_compute(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a Dask graph was computed before the test asked for it")


def _dask() -> Backend:
    da = require("dask.array")
    dask = require("dask")

    def asarray(a: np.ndarray) -> Any:
        return da.from_array(a.copy(), chunks=tuple(max(1, (d + 1) // 2) for d in a.shape))

    def call(f: Callable[..., Any], x: Any, *args: Any, **kwargs: Any) -> Any:
        with dask.config.set(scheduler=_fail_on_compute):
            return f(x, *args, **kwargs)

    def to_numpy(a: Any) -> np.ndarray:
        return np.asarray(a.compute(scheduler="sync")) if hasattr(a, "compute") else np.asarray(a)

    return Backend(Kind.DASK, asarray, to_numpy, call=call)  # Dask arrays take x[...] = y


def _cupy() -> Backend:
    cp = require("cupy")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:
        pytest.skip("no CUDA device for CuPy")
    return Backend(Kind.CUPY, cp.asarray, cp.asnumpy)


FACTORIES: dict[Kind, Callable[[], Backend]] = {
    Kind.NUMPY: _numpy,
    Kind.NUMPY_READONLY: lambda: _numpy(readonly=True),
    Kind.ARRAY_API_STRICT: _strict,
    Kind.TORCH: _torch,
    Kind.JAX: _jax,
    Kind.JAX_JIT: lambda: _jax(jit=True),
    Kind.DASK: _dask,
    Kind.TORCH_CUDA: lambda: _torch("cuda"),
    Kind.CUPY: _cupy,
}


@pytest.fixture(params=list(Kind), ids=lambda k: k.value)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn; absent ones (and device ones without a device) skip."""
    return FACTORIES[request.param]()


@pytest.fixture(
    params=[k for k in Kind if k not in (Kind.NUMPY_READONLY, Kind.JAX, Kind.JAX_JIT)],
    ids=lambda k: k.value,
)
def writable_backend(request: pytest.FixtureRequest) -> Backend:
    """Backends whose arrays can be written in place."""
    return FACTORIES[request.param]()


def expected(
    kind: str,
    data: np.ndarray,
    p: float,
    seed: int,
    counter: int = 0,
    data_format: str = "channels_first",
) -> np.ndarray:
    """What ``kind(data, p, generator=Generator(seed, counter=counter))`` must return: the
    array-API reference path (``_reference.py``) on array-api-strict, from the variant table.
    (array-api-strict has no float16 or bfloat16: those run the same reference functions on
    array-api-compat's NumPy namespace, not the NumPy backend's kernels.)"""
    xp = _reference_namespace(data.dtype)
    from spatial_dropout._backends import _reference as ref
    from spatial_dropout._scale import drop_threshold
    from spatial_dropout._variants import VARIANTS

    variant = VARIANTS[kind]
    x = xp.asarray(data)
    if p == 1.0:
        return np.zeros_like(data)
    params = variant.params(kind, data.shape, {}) if variant.params is not None else {}
    shape = variant.mask_shape(tuple(data.shape), data_format, params)
    keep = ref.keep_mask(xp, shape, drop_threshold(p), seed, counter)
    mant = ref.mantissa(xp, x.dtype) if data.dtype.name != "bfloat16" else 7
    return np.asarray(ref.apply(xp, x, keep, variant.transform(p, mant, None, params), False))


def _reference_namespace(dtype: np.dtype) -> Any:
    if dtype.itemsize == 2:
        import array_api_compat.numpy as xp

        return xp
    return require("array_api_strict")


def reference_mask(
    kind: str,
    shape: tuple[int, ...],
    p: float,
    seed: int,
    counter: int = 0,
    data_format: str = "channels_first",
) -> np.ndarray:
    """The keep mask of the reference path on array-api-strict, as NumPy booleans."""
    xp = require("array_api_strict")
    from spatial_dropout._backends import _reference as ref
    from spatial_dropout._scale import drop_threshold
    from spatial_dropout._variants import VARIANTS

    variant = VARIANTS[kind]
    params = variant.params(kind, shape, {}) if variant.params is not None else {}
    mshape = variant.mask_shape(shape, data_format, params)
    if math.prod(mshape) == 0:
        return np.zeros(mshape, dtype=bool)
    return np.asarray(ref.keep_mask(xp, mshape, drop_threshold(p), seed, counter))


def bits(a: np.ndarray) -> np.ndarray:
    """The bytes of ``a`` (so ``-0.0 != +0.0`` and ``NaN == NaN`` compare as stored)."""
    return np.ascontiguousarray(a).reshape(-1).view(np.uint8)
