"""Philox4x32-10 words for NumPy without numba: the same words as ``random_words``, faster.

The array-API code of ``_philox.py`` builds each 32x32-bit product from 16-bit halves (about
25 array operations a round), since PyTorch and JAX lack a wide enough unsigned type. NumPy has
uint64, so a round here is five operations on ``(2, blocks)`` arrays: both products at once,
their high and low words, and the two XORs. Masks of a few blocks take Python ints instead:
a NumPy call costs more than the arithmetic. Measured here: 8 words in 6.5 us (array-API code:
208 us); 2,048 words in about 60 us (264 us); 2**20 words in about 10 ms (25 ms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]

_MASK32 = 0xFFFFFFFF
_M0, _M1 = 0xD2511F53, 0xCD9E8D57
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_MULTIPLIERS = np.array([[_M0], [_M1]], dtype=np.uint64)
_ROUND_KEYS = np.arange(10, dtype=np.uint64)[:, None, None] * np.array(
    [[_W0], [_W1]], dtype=np.uint64
)
_LO, _SHIFT = np.uint64(_MASK32), np.uint64(32)
_SCALAR_BLOCKS = 12  # below this, Python ints beat NumPy calls (measured crossover ~15)
_CHUNK_BLOCKS = 1 << 14  # rows of 16K blocks: the temporaries stay in the L2 cache


def words(n: int, seed: int, counter: int) -> Array:
    """The first ``n`` words of ``random_words(np, n, seed, counter)``, as uint32.

    >>> from spatial_dropout._random import random_words
    >>> bool((words(10, 3, 4) == random_words(np, 10, 3, 4)).all())
    True
    """
    blocks = (n + 3) // 4
    if blocks < _SCALAR_BLOCKS:
        return np.array(_scalar(blocks, seed, counter)[:n], dtype=np.uint32)
    out = np.empty((blocks, 4), dtype=np.uint32)
    key = np.array([[seed & _MASK32], [(seed >> 32) & _MASK32]], dtype=np.uint64)
    keys = (_ROUND_KEYS + key) & _LO
    for first in range(0, blocks, _CHUNK_BLOCKS):
        _rows(out[first : first + _CHUNK_BLOCKS], first, counter, keys)
    return out.reshape(-1)[:n]


def _rows(out: Array, first: int, counter: int, keys: Array) -> None:
    """Blocks ``first, ...`` into the rows of ``out``.

    ``a`` holds ``(c0, c2)``, ``b`` ``(c1, c3)``, so a round is ``a, b = hi(a * M)[::-1] ^ b ^ key,
    lo(a * M)[::-1]``.
    """
    blocks = out.shape[0]
    a = np.empty((2, blocks), dtype=np.uint64)
    b = np.empty((2, blocks), dtype=np.uint64)
    a[0] = np.arange(first, first + blocks, dtype=np.uint64)
    a[1] = counter & _MASK32
    b[0] = 0
    b[1] = (counter >> 32) & _MASK32
    p, hi = np.empty_like(a), np.empty_like(a)
    for r in range(10):
        np.multiply(a, _MULTIPLIERS, out=p)  # < 2**64: exact
        np.right_shift(p, _SHIFT, out=hi)
        np.bitwise_xor(hi[::-1], b, out=a)
        np.bitwise_xor(a, keys[r], out=a)
        np.bitwise_and(p[::-1], _LO, out=b)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = a[0], b[0], a[1], b[1]


def _scalar(blocks: int, seed: int, counter: int) -> list[int]:
    """The same rounds on Python ints, block by block."""
    seed0, seed1 = seed & _MASK32, (seed >> 32) & _MASK32
    s0, s1 = counter & _MASK32, (counter >> 32) & _MASK32
    out: list[int] = []
    for j in range(blocks):
        c0, c1, c2, c3, k0, k1 = j, 0, s0, s1, seed0, seed1
        for _ in range(10):
            p0, p1 = c0 * _M0, c2 * _M1
            c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> 32) ^ c3 ^ k1, p0 & _MASK32
            k0, k1 = (k0 + _W0) & _MASK32, (k1 + _W1) & _MASK32
        out += (c0, c1, c2, c3)
    return out
