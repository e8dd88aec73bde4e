"""Every user-facing error message, in one place. Nothing here touches the input."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, NoReturn

from ._shapes import DATA_FORMATS

SUPPORTED = (
    "numpy.ndarray, torch.Tensor, jax.Array, cupy.ndarray, dask.array.Array, or any array-API array"
)


def type_name(obj: object) -> str:
    cls = type(obj)
    module = cls.__module__.split(".")[0]
    return cls.__name__ if module == "builtins" else f"{module}.{cls.__name__}"


def check_p(fn: str, p: object) -> float:
    if type(p) is float and 0.0 <= p <= 1.0:  # the common case, without the ABC check
        return p
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"{fn}(): `p` must be a real number in [0, 1]; got {p!r} ({type_name(p)})")
    value = float(p)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{fn}(): `p` must be a probability in [0, 1]; got {p!r}")
    return value


def check_bool(fn: str, name: str, value: object) -> bool:
    if value is True or value is False:
        return value
    if not isinstance(value, bool):
        raise TypeError(f"{fn}(): `{name}` must be a bool; got {value!r} ({type_name(value)})")
    return value


def check_data_format(fn: str, data_format: object) -> str:
    if data_format not in DATA_FORMATS:
        raise ValueError(
            f"{fn}(): `data_format` must be 'channels_first' or 'channels_last'; "
            f"got {data_format!r}"
        )
    return str(data_format)


def not_an_array(fn: str, obj: object) -> NoReturn:
    hint = ""
    if type_name(obj).startswith("numpy."):  # a NumPy scalar
        hint = "\n    Use numpy.asarray(x) for a 0-d array."
    elif isinstance(obj, (list, tuple)):
        hint = "\n    Convert it first, for example with numpy.asarray(x)."
    raise TypeError(f"{fn}(): `input` must be an array ({SUPPORTED}); got {type_name(obj)}{hint}")


def not_floating(fn: str, dtype: Any) -> NoReturn:
    raise TypeError(
        f"{fn}(): dropout in training with 0 < p needs a floating-point `input`; got dtype {dtype}"
        "\n    Cast it first, for example x.astype(numpy.float32)."
    )


def not_writeable(fn: str, what: str) -> NoReturn:
    raise ValueError(
        f"{fn}(): inplace=True, but {what} cannot be written; the input is unchanged."
        "\n    Use inplace=False."
    )


def bad_generator(fn: str, generator: object, backend: str) -> NoReturn:
    raise TypeError(
        f"{fn}(): `generator` must be None, an int seed, a spatial_dropout.Generator, or the "
        f"native generator of the input's framework; got {type_name(generator)} for a "
        f"{backend} input"
    )


def bad_mask(fn: str, mask_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> NoReturn:
    raise ValueError(
        f"{fn}(): `mask` of shape {mask_shape} does not broadcast to `input` of shape {input_shape}"
    )
