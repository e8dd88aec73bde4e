"""Flax NNX dropout layers: ``rngs`` and ``deterministic`` as in ``flax.nnx.Dropout``.

``data_format`` defaults to ``"channels_last"``, the layout of Flax models; the mask of a
channel depends on its logical ``(n, c)`` index, so it equals the mask of the NCHW PyTorch port
of the model drawn with the same seed (``rngs`` key ``PRNGKey(s)`` ~ ``generator=s``).

>>> import jax.numpy as jnp
>>> from flax import nnx
>>> from spatial_dropout.flax import Dropout2d
>>> layer = Dropout2d(0.5, rngs=nnx.Rngs(dropout=0))
>>> layer(jnp.ones((2, 4, 4, 8))).shape
(2, 4, 4, 8)
>>> layer(jnp.ones((2, 4, 4, 8)), deterministic=True).sum().item()
256.0
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

import jax
from flax import nnx

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


class _Layer(nnx.Module):
    """A Flax NNX dropout layer.

    Arguments as ``flax.nnx.Dropout`` (``rate``, ``rngs``, ``deterministic``,
    ``rng_collection``) plus ``data_format``.

    >>> from flax import nnx
    >>> from spatial_dropout.flax import Dropout
    >>> Dropout(0.5, rngs=nnx.Rngs(dropout=0)).rate
    0.5
    """

    _variant: ClassVar[Variant]

    def __init__(
        self,
        rate: float = 0.5,
        *,
        data_format: str = "channels_last",
        deterministic: bool = False,
        rng_collection: str = "dropout",
        rngs: nnx.Rngs | nnx.RngStream | None = None,
    ) -> None:
        name = type(self).__name__
        self.rate = v.check_p(name, rate)
        self.data_format = v.check_data_format(name, data_format)
        self.deterministic = v.check_bool(name, "deterministic", deterministic)
        self.rng_collection = rng_collection
        if isinstance(rngs, nnx.Rngs):
            self.rngs = rngs[rng_collection].fork()
        elif isinstance(rngs, nnx.RngStream):
            self.rngs = rngs.fork()
        elif rngs is None:
            self.rngs = nnx.data(None)
        else:
            _bad_rngs(name, rngs)

    def __call__(
        self,
        inputs: jax.Array,
        *,
        deterministic: bool | None = None,
        rngs: nnx.Rngs | nnx.RngStream | jax.Array | None = None,
    ) -> jax.Array:
        name = type(self).__name__
        det = self.deterministic if deterministic is None else deterministic
        if det or self.rate == 0.0:
            return inputs
        stream = self.rngs if rngs is None else rngs
        if isinstance(stream, nnx.Rngs):
            key = stream[self.rng_collection]()
        elif isinstance(stream, nnx.RngStream):
            key = stream()
        elif stream is None:
            v.no_randomness(name, "deterministic is False, but no `rngs` was given")
        else:
            key = stream
        out: jax.Array = _run(
            self._variant,
            inputs,
            self.rate,
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

    def _params(self) -> dict[str, Any]:
        return {}

    def set_view(self, deterministic: bool | None = None) -> None:
        """For ``nnx.view``: set ``deterministic``."""
        if deterministic is not None:
            self.deterministic = deterministic


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
    """Channel-wise alpha dropout (mask ``(N, C, 1, ...)``).

    See :func:`spatial_dropout.feature_alpha_dropout`.
    """

    _variant = VARIANTS["feature_alpha_dropout"]


class DropPath(_Layer):
    """Stochastic depth; see :func:`spatial_dropout.drop_path`.

    Arguments as the other layers (``rate``, ``rngs``...) plus ``mode``, ``batch_axis`` and
    ``scale_by_keep``.

    >>> from flax import nnx
    >>> from spatial_dropout.flax import DropPath
    >>> DropPath(0.1, rngs=nnx.Rngs(dropout=0)).mode
    'row'
    """

    _variant = VARIANTS["drop_path"]

    def __init__(
        self,
        rate: float = 0.5,
        *,
        mode: str = "row",
        batch_axis: int = 0,
        scale_by_keep: bool = True,
        deterministic: bool = False,
        rng_collection: str = "dropout",
        rngs: nnx.Rngs | nnx.RngStream | None = None,
    ) -> None:
        super().__init__(
            rate, deterministic=deterministic, rng_collection=rng_collection, rngs=rngs
        )
        name = type(self).__name__
        self.mode = v.check_choice(name, "mode", mode, ("row", "batch"))
        if isinstance(batch_axis, bool) or not isinstance(batch_axis, int):
            v.bad_param(name, "batch_axis", "an int", batch_axis, TypeError)
        self.batch_axis = batch_axis
        self.scale_by_keep = v.check_bool(name, "scale_by_keep", scale_by_keep)

    def _params(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "batch_axis": self.batch_axis,
            "scale_by_keep": self.scale_by_keep,
        }


class _Block(_Layer):
    """DropBlock layers: ``rate``, ``block_size``, ``share_channels``, ``normalize``."""

    def __init__(
        self,
        rate: float = 0.1,
        block_size: int | tuple[int, ...] = 7,
        *,
        data_format: str = "channels_last",
        share_channels: bool = False,
        normalize: str | None = "expected",
        deterministic: bool = False,
        rng_collection: str = "dropout",
        rngs: nnx.Rngs | nnx.RngStream | None = None,
    ) -> None:
        super().__init__(
            rate,
            data_format=data_format,
            deterministic=deterministic,
            rng_collection=rng_collection,
            rngs=rngs,
        )
        self.block_size = block_size
        self.share_channels = v.check_bool(type(self).__name__, "share_channels", share_channels)
        self.normalize = normalize

    def _params(self) -> dict[str, Any]:
        return {
            "block_size": self.block_size,
            "share_channels": self.share_channels,
            "normalize": self.normalize,
        }


class DropBlock1d(_Block):
    """DropBlock on 1-D maps (channels last); see :func:`spatial_dropout.drop_block1d`."""

    _variant = VARIANTS["drop_block1d"]


class DropBlock2d(_Block):
    """DropBlock on 2-D maps (channels last); see :func:`spatial_dropout.drop_block2d`."""

    _variant = VARIANTS["drop_block2d"]


class DropBlock3d(_Block):
    """DropBlock on 3-D maps (channels last); see :func:`spatial_dropout.drop_block3d`."""

    _variant = VARIANTS["drop_block3d"]


def _bad_rngs(fn: str, rngs: object) -> NoReturn:
    """``rngs`` of the wrong type."""
    msg = f"{fn}(): `rngs` must be nnx.Rngs, nnx.RngStream or None; got {v.type_name(rngs)}"
    raise TypeError(msg)
