"""Equinox dropout layers: ``inference`` and ``key`` as in ``equinox.nn.Dropout``.

>>> import jax, jax.numpy as jnp
>>> from spatial_dropout.equinox import Dropout2d
>>> layer = Dropout2d(0.5)
>>> layer(jnp.ones((2, 4, 4, 8)), key=jax.random.key(0)).shape
(2, 4, 4, 8)
>>> layer(jnp.ones((2, 4, 4, 8)), inference=True).sum().item()
256.0
"""

from __future__ import annotations

from typing import Any, ClassVar

import equinox as eqx
import jax

from . import _validation as v
from ._functional import _run
from ._variants import VARIANTS, Variant

__all__ = [
    "AlphaDropout",
    "DropBlock1d",
    "DropBlock2d",
    "DropBlock3d",
    "DropPath",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
]


class _Layer(eqx.Module):
    """An Equinox dropout layer.

    It holds ``p``, ``inference`` and, for Dropout1d/2d/3d, ``data_format`` (default
    ``"channels_last"``). Unlike ``equinox.nn.Dropout``, ``p == 1``
    gives zeros and a zero gradient, not ``NaN``.

    >>> from spatial_dropout.equinox import Dropout
    >>> Dropout(0.25).p
    0.25
    """

    _variant: ClassVar[Variant]
    p: float = 0.5
    inference: bool = False
    data_format: str = "channels_last"

    def _params(self) -> dict[str, Any]:
        return {}

    def __call__(
        self, x: jax.Array, *, key: jax.Array | None = None, inference: bool | None = None
    ) -> jax.Array:
        off = self.inference if inference is None else inference
        if off:
            return x
        if key is None:
            v.no_randomness(type(self).__name__, "a `key` is required when inference=False")
        out: jax.Array = _run(
            self._variant,
            x,
            self.p,
            True,
            False,
            None,
            key,
            self.data_format,
            None,
            None,
            self._params(),
        )
        return out


class Dropout(_Layer):
    """Element-wise dropout; see :func:`spatial_dropout.dropout`."""

    _variant = VARIANTS["dropout"]


class Dropout1d(_Layer):
    """Channel dropout of ``(N, L, C)``; see :func:`spatial_dropout.dropout1d`."""

    _variant = VARIANTS["dropout1d"]


class Dropout2d(_Layer):
    """Channel dropout of ``(N, H, W, C)``; see :func:`spatial_dropout.dropout2d`."""

    _variant = VARIANTS["dropout2d"]


class Dropout3d(_Layer):
    """Channel dropout of ``(N, D, H, W, C)``; see :func:`spatial_dropout.dropout3d`."""

    _variant = VARIANTS["dropout3d"]


class AlphaDropout(_Layer):
    """Alpha dropout for SELU networks; see :func:`spatial_dropout.alpha_dropout`."""

    _variant = VARIANTS["alpha_dropout"]


class FeatureAlphaDropout(_Layer):
    """Channel-wise alpha dropout; see :func:`spatial_dropout.feature_alpha_dropout`."""

    _variant = VARIANTS["feature_alpha_dropout"]


class DropPath(_Layer):
    """Stochastic depth; see :func:`spatial_dropout.drop_path`.

    Fields as the other layers plus ``mode``, ``batch_axis`` and ``scale_by_keep``.

    >>> import jax, jax.numpy as jnp
    >>> from spatial_dropout.equinox import DropPath
    >>> DropPath(0.5, batch_axis=1)(jnp.ones((5, 4, 3)), key=jax.random.key(0)).shape
    (5, 4, 3)
    """

    _variant = VARIANTS["drop_path"]
    mode: str = "row"
    batch_axis: int = 0
    scale_by_keep: bool = True

    def _params(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "batch_axis": self.batch_axis,
            "scale_by_keep": self.scale_by_keep,
        }


class _Block(_Layer):
    """DropBlock layers, channels last by default.

    ``p`` and ``block_size`` (positional), ``share_channels``, ``normalize``, ``inference``,
    ``data_format``.
    """

    block_size: int | tuple[int, ...] = 7
    share_channels: bool = False
    normalize: str | None = "expected"

    def __init__(
        self,
        p: float = 0.1,
        block_size: int | tuple[int, ...] = 7,
        *,
        inference: bool = False,
        data_format: str = "channels_last",
        share_channels: bool = False,
        normalize: str | None = "expected",
    ) -> None:
        self.p, self.block_size, self.inference = p, block_size, inference
        self.data_format = data_format
        self.share_channels, self.normalize = share_channels, normalize

    def _params(self) -> dict[str, Any]:
        return {
            "block_size": self.block_size,
            "share_channels": self.share_channels,
            "normalize": self.normalize,
        }


class DropBlock1d(_Block):
    """DropBlock on 1-D maps; see :func:`spatial_dropout.drop_block1d`."""

    _variant = VARIANTS["drop_block1d"]


class DropBlock2d(_Block):
    """DropBlock on 2-D maps; see :func:`spatial_dropout.drop_block2d`."""

    _variant = VARIANTS["drop_block2d"]


class DropBlock3d(_Block):
    """DropBlock on 3-D maps; see :func:`spatial_dropout.drop_block3d`."""

    _variant = VARIANTS["drop_block3d"]
