"""Framework-neutral dropout layers: a mixin that holds ``p``, ``inplace`` and ``training``."""

from __future__ import annotations

from typing import Any, ClassVar

from . import _validation as v
from ._functional import _run
from ._random import Generator
from ._variants import VARIANTS, Variant


class DropoutMixin:
    """State and call logic shared by every dropout layer (here and in ``spatial_dropout.torch``).

    A subclass names its entry of the variant registry in ``_variant``; ``forward``/``__call__``
    run it with the layer's ``p``, ``inplace`` and ``training``.
    """

    _variant: ClassVar[Variant]
    p: float
    inplace: bool
    data_format: str
    generator: object

    def __init__(
        self,
        p: float = 0.5,
        inplace: bool = False,
        *,
        data_format: str = "channels_first",
        generator: object = None,
    ) -> None:
        """Validate and keep the layer's arguments.

        ``p``, ``inplace``, ``data_format`` (Dropout1d/2d/3d) and an optional ``generator``
        (an ``int`` seeds a :class:`Generator` that the layer's calls advance).
        """
        super().__init__()  # torch.nn.Module's, where the layer is one
        name = type(self).__name__
        if isinstance(generator, int) and not isinstance(generator, bool):
            generator = Generator(v.check_seed(name, generator, "generator", " (an int seed)"))
        self.generator = generator
        self.p = v.check_p(name, p)
        self.inplace = v.check_bool(name, "inplace", inplace)
        self.data_format = v.check_data_format(name, data_format)
        if data_format != "channels_first" and not self._variant.channel:
            v.not_for_variant(name, "data_format", channel_layers())

    def _params(self) -> dict[str, Any]:
        """The variant's own arguments (DropPath's ``mode``...); none for the dropouts."""
        return {}

    def _dropout(self, input: Any, training: bool, generator: object = None) -> Any:
        generator = self.generator if generator is None else generator
        return _run(
            self._variant,
            input,
            self.p,
            training,
            self.inplace,
            generator,
            None,
            self.data_format,
            None,
            None,
            self._params(),
        )

    def extra_repr(self) -> str:
        fmt = f", data_format={self.data_format!r}" if self.data_format != "channels_first" else ""
        return f"p={self.p}, inplace={self.inplace}{fmt}"


class PathMixin(DropoutMixin):
    """DropPath's arguments: ``mode``, ``batch_axis``, ``scale_by_keep`` (see :func:`drop_path`)."""

    mode: str
    batch_axis: int
    scale_by_keep: bool

    def __init__(
        self,
        p: float = 0.5,
        inplace: bool = False,
        *,
        mode: str = "row",
        batch_axis: int = 0,
        scale_by_keep: bool = True,
        generator: object = None,
        **kwargs: Any,
    ) -> None:
        """Validate and keep the layer's arguments (``batch_axis``'s range: at each call)."""
        super().__init__(p, inplace, generator=generator, **kwargs)
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

    def extra_repr(self) -> str:
        return (
            f"p={self.p}, inplace={self.inplace}, mode={self.mode!r}, "
            f"batch_axis={self.batch_axis}, scale_by_keep={self.scale_by_keep}"
        )


class BlockMixin(DropoutMixin):
    """DropBlock's arguments: ``block_size``, ``share_channels``, ``normalize``."""

    block_size: int | tuple[int, ...]
    share_channels: bool
    normalize: str | None

    def __init__(
        self,
        p: float = 0.1,
        block_size: int | tuple[int, ...] = 7,
        inplace: bool = False,
        *,
        data_format: str = "channels_first",
        share_channels: bool = False,
        normalize: str | None = "expected",
        generator: object = None,
        **kwargs: Any,
    ) -> None:
        """Validate and keep the layer's arguments (``block_size`` against the map: per call)."""
        super().__init__(p, inplace, data_format=data_format, generator=generator, **kwargs)
        name = type(self).__name__
        sizes = block_size if isinstance(block_size, (tuple, list)) else (block_size,)
        if not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1 for b in sizes):
            v.bad_param(name, "block_size", "a positive int or one per spatial axis", block_size)
        self.block_size = tuple(block_size) if isinstance(block_size, list) else block_size
        self.share_channels = v.check_bool(name, "share_channels", share_channels)
        if normalize not in ("expected", "batch", None):
            v.bad_param(name, "normalize", "'expected', 'batch' or None", normalize)
        self.normalize = normalize

    def _params(self) -> dict[str, Any]:
        return {
            "block_size": self.block_size,
            "share_channels": self.share_channels,
            "normalize": self.normalize,
        }

    def extra_repr(self) -> str:
        return f"p={self.p}, block_size={self.block_size}, " + (
            f"inplace={self.inplace}, share_channels={self.share_channels}, "
            f"normalize={self.normalize!r}"
        )


def channel_layers() -> str:
    """The layers that take ``data_format``, for messages: ``Dropout1d/Dropout2d/Dropout3d``."""
    return "/".join(v.layer for v in VARIANTS.values() if v.channel)


class _Layer(DropoutMixin):
    training = True  # the class default; train() and eval() set it per instance

    def train(self, mode: bool = True) -> _Layer:
        """Set training mode (``mode=False`` is eval); returns ``self``, as PyTorch does."""
        self.training = v.check_bool(type(self).__name__ + ".train", "mode", mode)
        return self

    def eval(self) -> _Layer:
        """Set evaluation mode: calls return their input unchanged."""
        return self.train(False)

    def __call__(self, input: Any, *, generator: object = None) -> Any:
        return self._dropout(input, self.training, generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Dropout(_Layer):
    """Element-wise dropout layer; see :func:`dropout`.

    >>> import numpy as np, spatial_dropout as sd
    >>> layer = sd.Dropout(0.25)
    >>> layer
    Dropout(p=0.25, inplace=False)
    >>> x = np.ones(3)
    >>> layer.eval()(x) is x
    True
    """

    _variant = VARIANTS["dropout"]


class Dropout1d(_Layer):
    """Channel dropout layer for ``(N, C, L)``; see :func:`dropout1d`.

    >>> import spatial_dropout as sd
    >>> sd.Dropout1d(0.1, data_format="channels_last")
    Dropout1d(p=0.1, inplace=False, data_format='channels_last')
    """

    _variant = VARIANTS["dropout1d"]


class Dropout2d(_Layer):
    """Channel dropout layer for ``(N, C, H, W)``; see :func:`dropout2d`.

    >>> import numpy as np, spatial_dropout as sd
    >>> layer = sd.Dropout2d(0.5)
    >>> layer(np.ones((2, 3, 4, 4)), generator=0).shape
    (2, 3, 4, 4)
    >>> layer.training, layer.eval().training
    (True, False)
    """

    _variant = VARIANTS["dropout2d"]


class Dropout3d(_Layer):
    """Channel dropout layer for ``(N, C, D, H, W)``; see :func:`dropout3d`.

    >>> import spatial_dropout as sd
    >>> sd.Dropout3d()
    Dropout3d(p=0.5, inplace=False)
    """

    _variant = VARIANTS["dropout3d"]


class AlphaDropout(_Layer):
    """Alpha dropout layer for SELU networks; see :func:`alpha_dropout`.

    >>> import spatial_dropout as sd
    >>> sd.AlphaDropout(0.2)
    AlphaDropout(p=0.2, inplace=False)
    """

    _variant = VARIANTS["alpha_dropout"]


class FeatureAlphaDropout(_Layer):
    """Channel-wise alpha dropout layer; see :func:`feature_alpha_dropout`.

    >>> import spatial_dropout as sd
    >>> sd.FeatureAlphaDropout(0.2).train().training
    True
    """

    _variant = VARIANTS["feature_alpha_dropout"]


class DropPath(PathMixin, _Layer):
    """Stochastic depth layer; see :func:`drop_path`.

    >>> import numpy as np, spatial_dropout as sd
    >>> layer = sd.DropPath(0.2, batch_axis=1)
    >>> layer
    DropPath(p=0.2, inplace=False, mode='row', batch_axis=1, scale_by_keep=True)
    >>> layer(np.ones((5, 4, 3)), generator=0).shape
    (5, 4, 3)
    """

    _variant = VARIANTS["drop_path"]


class DropBlock1d(BlockMixin, _Layer):
    """DropBlock on 1-D maps; see :func:`drop_block1d`.

    >>> import spatial_dropout as sd
    >>> sd.DropBlock1d(0.1, 3)
    DropBlock1d(p=0.1, block_size=3, inplace=False, share_channels=False, normalize='expected')
    """

    _variant = VARIANTS["drop_block1d"]


class DropBlock2d(BlockMixin, _Layer):
    """DropBlock on 2-D maps; see :func:`drop_block2d`.

    >>> import spatial_dropout as sd
    >>> sd.DropBlock2d(0.1, 3)
    DropBlock2d(p=0.1, block_size=3, inplace=False, share_channels=False, normalize='expected')
    """

    _variant = VARIANTS["drop_block2d"]


class DropBlock3d(BlockMixin, _Layer):
    """DropBlock on 3-D maps; see :func:`drop_block3d`.

    >>> import spatial_dropout as sd
    >>> sd.DropBlock3d(0.1, 3)
    DropBlock3d(p=0.1, block_size=3, inplace=False, share_channels=False, normalize='expected')
    """

    _variant = VARIANTS["drop_block3d"]
