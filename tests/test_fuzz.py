"""Hostile input: arbitrary Python objects in every argument of every public function.

Each call returns the documented result or raises ``TypeError``/``ValueError`` whose message
starts with the public function's name; it never raises anything else, crashes or hangs, and a
refused call leaves the input array byte-for-byte unchanged. Bounded: a fixed number of
examples per function (``FUZZ_EXAMPLES``), no deadline.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import spatial_dropout as sd
from spatial_dropout._variants import VARIANTS

from conftest import PLAIN

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    deadline=None, max_examples=EXAMPLES, derandomize=True, suppress_health_check=list(HealthCheck)
)

arrays = hnp.arrays(
    dtype=st.sampled_from(
        [
            np.float16,
            np.float32,
            np.float64,
            np.int32,
            np.bool_,
            np.complex64,
            np.uint8,
            np.dtype(">f4"),
            np.dtype("U3"),
            object,
        ]
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(allow_nan=True),
    st.fractions(),
    st.just(Fraction(10**400, 3)),
    st.complex_numbers(),
    st.text(max_size=5),
    st.binary(max_size=4),
    st.just(object()),
    st.just(slice(1, 2)),
    st.just(np.float32(0.5)),
    st.just(np.bool_(True)),
    st.just(np.int64(3)),
    st.just(...),
    st.just(sd.Generator(1)),
    st.just(np.random.default_rng(0)),
    st.just(sd.DropoutOptions(p=0.3)),
    st.sampled_from(["channels_first", "channels_last", "dropout2d", "dropout", "NHWC", ""]),
)
anything = st.one_of(
    scalars,
    arrays,
    st.lists(scalars, max_size=3),
    st.tuples(scalars, scalars),
    st.dictionaries(st.sampled_from(["p", "training", "inplace", "prob"]), scalars, max_size=3),
)
ARGS = ["p", "training", "inplace", "generator", "key", "data_format"]


def _converters() -> list[Callable[[np.ndarray], object]]:
    """NumPy arrays as they are, and as tensors of every installed framework."""
    out: list[Callable[[np.ndarray], object]] = [lambda a: a]
    for module, convert in (
        ("torch", "from_numpy"),
        ("jax.numpy", "asarray"),
        ("array_api_strict", "asarray"),
    ):
        try:
            mod = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        out.append(functools.partial(_convert, getattr(mod, convert)))
    return out


def _convert(f: Callable[[np.ndarray], object], a: np.ndarray) -> object:
    return f(np.ascontiguousarray(a).copy())


CONVERTERS = _converters()
float_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
)
framework_arrays = st.builds(
    lambda a, i: CONVERTERS[i % len(CONVERTERS)](a), float_arrays, st.integers(0, 7)
)


def _attempt(call: Callable[[], object]) -> tuple[object, BaseException | None]:
    """``(result, None)``, or ``(None, the exception)``: which exceptions escape is the point."""
    try:
        return call(), None
    except BaseException as error:
        return None, error


def _ok_error(name: str, error: BaseException) -> bool:
    return isinstance(error, (TypeError, ValueError)) and str(error).startswith(f"{name}(")


def _bytes(a: object) -> bytes | None:
    if isinstance(a, np.ndarray):
        return a.tobytes() if a.dtype != object else None
    try:
        return np.asarray(a).tobytes() if hasattr(a, "shape") and hasattr(a, "dtype") else None
    except (TypeError, ValueError, RuntimeError):
        return None


# drawing float16 and float32 arrays from large doubles warns in NumPy's and JAX's casts
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("name", PLAIN)
@FUZZ
@given(data=st.data())
def test_dropout_functions_take_anything(name, data):
    fn = getattr(sd, name)
    x = data.draw(st.one_of(arrays, framework_arrays, anything), label="input")
    kwargs = {}
    for arg in ARGS:
        if arg == "data_format" and not VARIANTS[name].channel:
            continue
        if data.draw(st.booleans(), label=f"pass {arg}"):
            kwargs[arg] = data.draw(anything, label=arg)
    before = _bytes(x)
    out, error = _attempt(lambda: fn(x, **kwargs))
    if error is not None:
        assert _ok_error(name, error), repr(error)
        assert _bytes(x) == before  # a refused call touched nothing
        return
    assert type(out) is type(x) or hasattr(x, "__jax_array__") or "jax" in type(x).__module__
    assert tuple(out.shape) == tuple(x.shape)
    assert out.dtype == x.dtype


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@FUZZ
@given(data=st.data())
def test_dropout_mask_and_apply_mask_take_anything(data):
    x = data.draw(st.one_of(arrays, anything), label="input")
    p = data.draw(st.one_of(st.floats(0, 1), anything), label="p")
    kind = data.draw(st.one_of(st.sampled_from(PLAIN), anything), label="kind")
    generator = data.draw(anything, label="generator")
    _, error = _attempt(lambda: sd.dropout_mask(x, p, kind=kind, generator=generator))
    assert error is None or _ok_error("dropout_mask", error), repr(error)
    mask = data.draw(st.one_of(arrays, anything), label="mask")
    inplace = data.draw(anything, label="inplace")
    before = _bytes(x)
    _, error = _attempt(lambda: sd.apply_mask(x, mask, p, inplace))
    if error is not None:
        assert _ok_error("apply_mask", error), repr(error)
        assert _bytes(x) == before


@pytest.mark.parametrize("name", PLAIN)
@FUZZ
@given(p=anything, inplace=anything, generator=anything, data_format=anything)
def test_layer_constructors_take_anything(name, p, inplace, generator, data_format):
    layer = VARIANTS[name].layer
    _, error = _attempt(
        lambda: getattr(sd, layer)(p, inplace, generator=generator, data_format=data_format)
    )
    assert error is None or _ok_error(layer, error), repr(error)


@FUZZ
@given(seed=anything, counter=anything)
def test_generators_and_seeds_take_anything(seed, counter):
    for call, name in (
        (lambda: sd.Generator(seed, counter=counter), "Generator"),
        (lambda: sd.manual_seed(seed), "manual_seed"),
        (lambda: sd.set_num_threads(seed), "set_num_threads"),
    ):
        _, error = _attempt(call)
        assert error is None or _ok_error(name, error), repr(error)
    sd.set_num_threads(max(1, os.cpu_count() or 1))
