"""Philox4x32-10 (Salmon et al., SC'11; Random123 and cuRAND), written once as array code.

Every operation is an element-wise ``&``, ``|``, ``^``, ``<<``, ``>>``, ``*`` or ``+`` whose
exact result stays below 2**32, so the same code gives the same bits on any array namespace and
any integer dtype at least 32 bits wide: ``uint32`` (NumPy, JAX, array-API libraries) or
``int64`` (PyTorch, whose ``uint32`` lacks most kernels). A 32x32-bit product is assembled
from 16-bit halves.
"""

from __future__ import annotations

from typing import Any

import array_api_compat as compat

_M0, _M1 = 0xD2511F53, 0xCD9E8D57  # round multipliers
_W0, _W1 = 0x9E3779B9, 0xBB67AE85  # key schedule ("Weyl") increments
_MASK16, _MASK32 = 0xFFFF, 0xFFFFFFFF
ROUNDS = 10
MAX_ENTRIES = 2**34  # four words per block, 32-bit block counters

Words = tuple[Any, Any, Any, Any]


def _mulhilo(a: Any, m: int, wraps: Any = None) -> tuple[Any, Any]:
    """High and low 32-bit words of ``a * m``, for ``a`` an array of words and ``m`` a constant.

    ``wraps``: ``m`` as a uint32 operand where uint32 products wrap modulo 2**32 by definition
    (XLA): the low word is then one multiply, not four operations (JAX's mask ran 7-9% faster
    and compiled 5% faster).
    """
    ml, mh = m & _MASK16, m >> 16
    al, ah = a & _MASK16, a >> 16
    ll, lh, hl, hh = al * ml, al * mh, ah * ml, ah * mh  # each < 2**32
    mid = (ll >> 16) + (lh & _MASK16) + (hl & _MASK16)  # < 3 * 2**16
    hi = hh + (lh >> 16) + (hl >> 16) + (mid >> 16)
    if wraps is not None:
        return hi, a * wraps
    lo = ((mid & _MASK16) << 16) | (ll & _MASK16)
    return hi, lo


Key = tuple[Any, Any]  # two Python ints, or two uint32 arrays (a traced JAX key)


def philox4x32(xp: Any, counter: Words, key: Key, rounds: int = ROUNDS) -> Words:
    """Philox4x32 of four counter-word arrays under a two-word key; returns four word arrays.

    The counter words are arrays of one shape and integer dtype, holding values in
    ``[0, 2**32)``. The key words are Python ints, or uint32 arrays that broadcast against the
    counter (a JAX key's data, traced under ``jit`` or batched under ``vmap``).
    """
    c0, c1, c2, c3 = counter
    k0, k1 = (k & _MASK32 if isinstance(k, int) else k for k in key)
    w0 = w1 = None
    if compat.is_jax_namespace(xp) and c0.dtype == xp.uint32:
        w0, w1 = xp.asarray(_M0, dtype=xp.uint32), xp.asarray(_M1, dtype=xp.uint32)
    for r in range(rounds):
        if r:
            k0, k1 = _bump(xp, k0, _W0, c0), _bump(xp, k1, _W1, c0)
        hi0, lo0 = _mulhilo(c0, _M0, w0)
        hi1, lo1 = _mulhilo(c2, _M1, w1)
        c0, c1, c2, c3 = hi1 ^ c1 ^ word(xp, k0, c1), lo1, hi0 ^ c3 ^ word(xp, k1, c1), lo0
    return c0, c1, c2, c3


def _bump(xp: Any, k: Any, increment: int, like: Any) -> Any:
    if isinstance(k, int):
        return (k + increment) & _MASK32
    return k + word(xp, increment, like)  # a uint32 array: the sum wraps modulo 2**32


def key_and_stream(seed: int, counter: int) -> tuple[Key, tuple[int, int]]:
    """A 64-bit seed and call counter as Philox's key words and stream words, each ``(lo, hi)``.

    >>> key_and_stream(2**32 + 5, 7)
    ((5, 1), (7, 0))
    """
    return (seed & _MASK32, seed >> 32), (counter & _MASK32, counter >> 32)


def word(xp: Any, value: Any, like: Any) -> Any:
    """A word constant as an operand.

    A Python int, or a 0-d array where ints above 2**31 are refused (JAX). A Python int costs no
    host-to-device copy on a GPU; arrays pass through.
    """
    if not isinstance(value, int) or value < 2**31 or not compat.is_jax_namespace(xp):
        return value
    return xp.asarray(value, dtype=like.dtype, device=compat.device(like))


def random_words(
    xp: Any,
    n: int,
    seed: int,
    stream: int,
    *,
    start: int = 0,
    dtype: Any = None,
    device: Any = None,
) -> Any:
    """``n`` random 32-bit words for the logical indices ``start, ..., start + n - 1``.

    Index ``i`` of stream ``stream`` under a 64-bit ``seed`` is word ``i % 4`` of the Philox block
    with counter ``(i // 4, 0, stream_lo, stream_hi)`` and key ``(seed_lo, seed_hi)``. The result
    depends only on ``(seed, stream, i)``: not on the namespace, device, chunking or layout.
    """
    dtype = xp.uint32 if dtype is None else dtype
    first, last = start // 4, (start + n + 3) // 4  # blocks that hold the wanted indices
    if 4 * last > MAX_ENTRIES:
        msg = f"at most 2**34 mask entries are supported; got {start + n}"
        raise ValueError(msg)
    blocks = xp.arange(first, last, dtype=dtype, device=device)
    zero = xp.zeros_like(blocks)
    lo = zero + word(xp, stream & _MASK32, blocks)
    hi = zero + word(xp, (stream >> 32) & _MASK32, blocks)
    words = xp.stack(philox4x32(xp, (blocks, zero, lo, hi), (seed, seed >> 32)), axis=-1)
    words = xp.reshape(words, (-1,))
    offset = start - 4 * first
    return words[offset : offset + n]


def words_at(xp: Any, index: Any, key: Key, stream: tuple[Any, Any]) -> Any:
    """The words of ``random_words`` at the logical indices in ``index`` (a uint32 array).

    Shape-preserving, element by element: under JAX the mask then lives wherever its index
    array lives (sharded like the data), at four times the Philox work of ``random_words``.
    """
    zero = xp.zeros_like(index)
    lo, hi = (zero + word(xp, s, index) for s in stream)
    c = philox4x32(xp, (index >> 2, zero, lo, hi), key)
    lane = index & 3
    return xp.where(lane == 0, c[0], xp.where(lane == 1, c[1], xp.where(lane == 2, c[2], c[3])))
