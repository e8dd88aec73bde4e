"""The constants of inverted and alpha dropout, rounded per dtype exactly as PyTorch rounds them.

A float format is named by its mantissa width: 52 (float64), 23 (float32), 10 (float16) or
7 (bfloat16). Each function returns Python floats that are exactly representable in the format,
so ``x * s`` on any backend is one correctly rounded multiply in the input's dtype.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# SELU's negative saturation value, -scale * alpha (Klambauer et al. 2017), as in PyTorch.
SELU_SATURATION = 1.7580993408473766


def _round(value: float, mant: int) -> float:
    """Round a double to the float format with ``mant`` mantissa bits (round half to even)."""
    if mant >= 52:
        return value
    if mant == 23:
        return float(np.float32(value))
    if mant == 10:
        with np.errstate(over="ignore"):
            return float(np.float16(np.float32(value)))
    if mant == 7:  # bfloat16, from the float32 bit pattern
        f32 = np.float32(value)
        if math.isnan(f32):
            return math.nan
        bits = struct.unpack("<I", struct.pack("<f", f32))[0]
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
        return float(struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0])
    msg = f"unsupported float format with {mant} mantissa bits"
    raise ValueError(msg)


def _opmath(mant: int) -> int:
    """PyTorch computes 16-bit floats in float32 ("opmath") and rounds the result."""
    return 23 if mant < 23 else mant


def keep_scale(p: float, mant: int) -> float:
    """``1 / (1 - p)`` as PyTorch's ``noise.div_(1 - p)`` leaves it in the input's dtype.

    >>> keep_scale(0.5, 23), keep_scale(0.1, 52) == 1 / 0.9
    (2.0, True)
    """
    op = _opmath(mant)
    q = _round(1.0 - p, op)
    s = math.inf if q == 0.0 else _round(1.0 / q, op)
    return _round(s, mant)


def alpha_constants(p: float, mant: int) -> tuple[float, float, float]:
    """``(a, b_keep, b_drop)`` of alpha dropout: kept ``x * a + b_keep``, dropped ``b_drop``.

    PyTorch's definition: ``a = 1 / sqrt((alpha**2 * p + 1) * (1 - p))`` with
    ``alpha = 1.7580993408473766``, and ``b = (noise - 1) * (alpha * a) + alpha * a * p``,
    each step rounded as PyTorch rounds it (scalars to the compute type, results to the dtype).
    """
    op = _opmath(mant)
    a = 1.0 / math.sqrt((SELU_SATURATION**2 * p + 1.0) * (1.0 - p))
    neg_alpha_a = _round(-_round(SELU_SATURATION * a, op), mant)  # (0 - 1) * (alpha * a)
    shift = _round(SELU_SATURATION * a * p, mant)  # add_ rounds its scalar to the dtype
    b_drop = _round(_round(neg_alpha_a + shift, op), mant)
    return _round(_round(a, op), mant), shift, b_drop


@dataclass(frozen=True)
class Transform:
    """What dropout does to values.

    Kept ``x * a`` (``+ b_keep`` if ``alpha``), dropped exactly ``b_drop``. Inverted dropout is
    ``Transform(s)``: kept ``x * s``, dropped ``+0.0``. ``a`` is a Python float, or (a scale that
    depends on the mask) an array on the input's device that broadcasts to it.
    """

    a: float | Any
    b_keep: float = 0.0
    b_drop: float = 0.0
    alpha: bool = False
    constant: bool = field(init=False, repr=False, compare=False)
    """Whether ``a`` is a Python float (the fused kernels take only those)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "constant", isinstance(self.a, float))


def inverted_transform(p: float, mant: int, mask: Any = None, params: Any = None) -> Transform:
    """Inverted dropout: kept ``x * s`` with PyTorch's rounded ``s``, dropped ``+0.0``.

    Not cached here: the engine remembers a call's decisions (``_plan._decide``), and under
    ``torch.compile`` Dynamo traces a cache wrapper's function anyway, with a warning.

    >>> inverted_transform(0.5, 23)
    Transform(a=2.0, b_keep=0.0, b_drop=0.0, alpha=False)
    """
    return Transform(keep_scale(p, mant))


def alpha_transform(p: float, mant: int, mask: Any = None, params: Any = None) -> Transform:
    """Alpha dropout, PyTorch's definition (see :func:`alpha_constants`)."""
    return Transform(*alpha_constants(p, mant), alpha=True)


MASK32 = 0xFFFFFFFF


def keeps_nothing(threshold: int) -> bool:
    """Whether ``p`` rounds to 1 in 32 bits, so that the portable stream keeps no entry.

    >>> keeps_nothing(drop_threshold(1 - 2**-34)), keeps_nothing(drop_threshold(0.999))
    (True, False)
    """
    return threshold > MASK32


def drop_threshold(p: float) -> int:
    """Words below this 32-bit threshold are dropped: ``P(drop) = round(p * 2**32) / 2**32``.

    >>> drop_threshold(0.5) == 2**31, drop_threshold(0.0), drop_threshold(1.0) == 2**32
    (True, 0, True)
    """
    return round(p * 2**32)
