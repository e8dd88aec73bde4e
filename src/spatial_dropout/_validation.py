"""Every user-facing error message, in one place. Nothing here touches the input.

Each check or raiser takes ``fn``, the public name the user called (``dropout2d``,
``Dropout2d``, ``manual_seed``...), so that every message starts with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any, NoReturn

DATA_FORMATS = ("channels_first", "channels_last")
SUPPORTED = "numpy.ndarray, torch.Tensor, jax.Array, dask.array.Array, or any array-API array"


def type_name(obj: object) -> str:
    """``list``, ``numpy.ndarray``, ``torch.Tensor``: the type as users write it."""
    cls = type(obj)
    public = [part for part in cls.__module__.split(".") if not part.startswith("_")]
    if public in ([], ["builtins"]):
        return cls.__name__
    return ".".join([*public[:2], cls.__name__])


def check_p(fn: str, p: object) -> float:
    """``p`` as a float in ``[0, 1]``."""
    if type(p) is float and 0.0 <= p <= 1.0:  # the common case, without the ABC check
        return p
    if isinstance(p, bool) or not isinstance(p, Real):
        msg = f"{fn}(): `p` must be a real number in [0, 1]; got {p!r} ({type_name(p)})"
        raise TypeError(msg)
    try:
        value = float(p)
    except OverflowError:  # 10**400, a huge Fraction: far outside [0, 1]
        value = math.inf
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        msg = f"{fn}(): `p` must be a probability in [0, 1]; got {p!r}"
        raise ValueError(msg)
    return value


def check_bool(fn: str, name: str, value: object) -> bool:
    """``value`` if it is a Python bool (not ``1``, not ``numpy.bool_``)."""
    if value is True or value is False:
        return value
    msg = f"{fn}(): `{name}` must be a bool; got {value!r} ({type_name(value)})"
    raise TypeError(msg)


def check_data_format(fn: str, data_format: object) -> str:
    """``'channels_first'`` or ``'channels_last'``."""
    if type(data_format) is str and data_format in DATA_FORMATS:
        return data_format
    msg = f"{fn}(): `data_format` must be 'channels_first' or 'channels_last'; got {data_format!r}"
    raise ValueError(msg)


def check_choice(fn: str, name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices`` (strings)."""
    allowed = tuple(choices)
    if type(value) is str and value in allowed:
        return value
    msg = f"{fn}(): `{name}` must be one of {', '.join(allowed)}; got {value!r}"
    raise ValueError(msg)


def bad_param(
    fn: str, name: str, must: str, got: object, kind: type[Exception] = ValueError
) -> NoReturn:
    """A variant's own argument that is not what it must be."""
    msg = f"{fn}(): `{name}` must be {must}; got {got!r}"
    raise kind(msg)


def check_seed(fn: str, seed: object, name: str = "seed", what: str = "") -> int:
    """An integer seed (or counter) in ``[0, 2**64)``; ``what`` follows the name in messages."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        got = f"{seed!r} ({type_name(seed)})"
        msg = f"{fn}(): `{name}`{what} must be an int in [0, 2**64); got {got}"
        raise TypeError(msg)
    if not 0 <= seed < 2**64:
        msg = f"{fn}(): `{name}`{what} must be in [0, 2**64); got {seed}"
        raise ValueError(msg)
    return int(seed)


def check_threads(fn: str, n: object) -> int:
    """A thread count: an int >= 1."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        msg = f"{fn}(): `n` must be an int >= 1; got {n!r}"
        raise ValueError(msg)
    return n


def check_env(name: str, value: str) -> int:
    """An environment variable that must hold an integer >= 1."""
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        msg = f"${name} must be an integer >= 1; got {value!r}"
        raise ValueError(msg)
    return n


def not_an_array(fn: str, obj: object) -> NoReturn:
    """``input`` is not an array of a supported library."""
    hint = ""
    if type_name(obj) == "numpy.matrix":
        hint = "\n    numpy.matrix is not supported: use numpy.asarray(x)."
    elif type_name(obj).startswith("numpy."):  # a NumPy scalar
        hint = "\n    Use numpy.asarray(x) for a 0-d array."
    elif isinstance(obj, (list, tuple)):
        hint = "\n    Convert it first, for example with numpy.asarray(x)."
    msg = f"{fn}(): `input` must be an array ({SUPPORTED}); got {type_name(obj)}{hint}"
    raise TypeError(msg)


def not_floating(fn: str, dtype: Any, other_float: bool = False) -> NoReturn:
    """Dropout in training needs a float16, bfloat16, float32 or float64 dtype."""
    need = "needs a floating-point"
    if other_float:
        need = "takes float16, bfloat16, float32 or float64"
    msg = (
        f"{fn}(): dropout in training with 0 < p {need} `input`; got dtype {dtype}"
        "\n    Cast it first, for example x.astype(numpy.float32)."
    )
    raise TypeError(msg)


def not_writeable(fn: str, what: str) -> NoReturn:
    """``inplace=True`` on an array that cannot be written."""
    msg = (
        f"{fn}(): inplace=True, but {what} cannot be written; the input is unchanged."
        "\n    Use inplace=False."
    )
    raise ValueError(msg)


def bad_generator(fn: str, name: str, generator: object, backend: str) -> NoReturn:
    """A ``generator`` (or ``key``) of a kind that this input's framework cannot use."""
    if name == "key":
        what = "a JAX PRNG key (jax.random.key or jax.random.PRNGKey) or an int seed"
    else:
        what = (
            "None, an int seed, a spatial_dropout.Generator, or the native generator of the "
            "input's framework"
        )
    got = f"{type_name(generator)} for an input of type {backend}"
    msg = f"{fn}(): `{name}` must be {what}; got {got}"
    raise TypeError(msg)


def generator_and_key(fn: str) -> NoReturn:
    """Both ``generator`` and ``key`` were given."""
    msg = f"{fn}(): pass `generator` or `key`, not both"
    raise TypeError(msg)


def too_many_entries(fn: str, n: int, limit: int) -> NoReturn:
    """A portable mask beyond the Philox counter's range."""
    most = f"2**{limit.bit_length() - 1}"
    msg = f"{fn}(): the portable generator supports at most {most} mask entries; got {n}"
    raise ValueError(msg)


def bad_mask(fn: str, mask_shape: tuple[int, ...], input_shape: tuple[int, ...]) -> NoReturn:
    """``apply_mask``'s mask does not broadcast to the input."""
    msg = f"{fn}(): `mask` of shape {mask_shape} does not broadcast to `input` of shape "
    raise ValueError(msg + str(input_shape))


def bad_mask_type(fn: str, mask: object) -> NoReturn:
    """``apply_mask``'s mask is not a boolean array of the input's library."""
    what = type_name(mask)
    dtype = getattr(mask, "dtype", None)
    got = f"{what} of dtype {dtype}" if dtype is not None else what
    msg = f"{fn}(): `mask` must be a boolean array of the input's library; got {got}"
    raise TypeError(msg)


def unknown_option(fn: str, name: object, accepted: Iterable[str]) -> NoReturn:
    """A key of the options mapping that is not an option."""
    msg = f"{fn}(): unknown option {name!r} in the options mapping; accepted: {', '.join(accepted)}"
    raise TypeError(msg)


def not_for_variant(fn: str, name: str, which: str) -> NoReturn:
    """A layer argument that this variant does not take."""
    msg = f"{fn}(): `{name}` applies only to {which}"
    raise ValueError(msg)


def no_randomness(fn: str, what: str) -> NoReturn:
    """A layer in training mode that was given nothing to draw its mask from."""
    msg = f"{fn}(): {what}"
    raise ValueError(msg)
