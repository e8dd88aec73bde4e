"""``torch.nn.Module`` dropout layers that follow ``model.train()`` / ``model.eval()``.

>>> import torch
>>> from spatial_dropout.torch import Dropout2d
>>> layer = Dropout2d(0.2)
>>> layer
Dropout2d(p=0.2, inplace=False)
>>> layer.eval()(torch.ones(3, 4, 4)).sum().item()
48.0
"""

from __future__ import annotations

from typing import Any, cast

import torch

from . import _functional
from ._backends._torch import _errors as errors
from ._functional import _run
from ._layers import BlockMixin, DropoutMixin, PathMixin
from ._random import Generator
from ._variants import VARIANTS

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
    "replace_dropout",
]


class _Module(DropoutMixin, torch.nn.Module):
    """A ``torch.nn.Module`` layer: the mixin's arguments, and ``data_parallel``.

    ``data_parallel`` (default ``True``): with a portable generator, inside an initialised
    ``torch.distributed`` group of more than one rank, rank ``r`` of ranks that each hold ``b``
    samples draws the mask of global samples ``r*b ... r*b+b-1`` (``offset=``): the same seed
    on every rank then drops what one process would on the concatenated batch, and never the
    same channels on every rank. ``False`` draws as if alone; a process group uses the rank
    within that group. With ``generator=None`` (or a ``torch.Generator``) nothing changes.
    """

    def __init__(
        self,
        p: float = 0.5,
        inplace: bool = False,
        *,
        data_format: str = "channels_first",
        generator: object = None,
        data_parallel: object = True,
    ) -> None:
        super().__init__(p, inplace, data_format=data_format, generator=generator)
        self.data_parallel = _check_data_parallel(type(self).__name__, data_parallel)

    def __prepare_scriptable__(self) -> torch.nn.Module:
        errors.not_scriptable(type(self).__name__)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if isinstance(input, torch.fx.Proxy):
            return _traced(self, input)
        if self.training and self.data_parallel is not False and _portable(self.generator):
            where = _global_batch(input, self.data_parallel)
            if where is not None:
                out: torch.Tensor = _run(
                    self._variant,
                    input,
                    self.p,
                    True,
                    self.inplace,
                    self.generator,
                    None,
                    self.data_format,
                    *where,
                    self._params(),
                )
                return out
        out = self._dropout(input, self.training)
        return out


def _traced(layer: _Module, input: Any) -> Any:
    """Under ``torch.fx`` tracing: one node, a call of this layer (as ``torch.nn``'s are leaves).

    The traced module then calls the layer, which draws a fresh mask on every call and follows
    ``train()``/``eval()``. A layer traced as the root itself records its functional call.
    """
    tracer = input.tracer
    try:
        path = tracer.path_of_module(layer)
    except NameError:
        path = ""
    if path:
        return tracer.create_proxy("call_module", path, (input,), {})
    kwargs: dict[str, Any] = {"generator": layer.generator, **layer._params()}
    if layer.data_format != "channels_first":
        kwargs["data_format"] = layer.data_format
    public = getattr(_functional, layer._variant.name)
    return public(input, layer.p, training=layer.training, inplace=layer.inplace, **kwargs)


def _check_data_parallel(name: str, value: object) -> object:
    if isinstance(value, bool):
        return value
    dist = torch.distributed
    if dist.is_available() and isinstance(value, dist.ProcessGroup):
        return value
    errors.bad_data_parallel(name, value)


def _portable(generator: object) -> bool:
    return isinstance(generator, Generator)


def _global_batch(x: torch.Tensor, group: object) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(offset, global_shape)`` of this rank's local batch, or None outside a group of 2+."""
    dist = torch.distributed
    if x.dim() == 0 or not dist.is_available() or not dist.is_initialized():
        return None
    pg = None if group is True else cast("torch.distributed.ProcessGroup", group)
    world = dist.get_world_size(pg)
    if world < 2:
        return None
    b = x.shape[0]
    rank = dist.get_rank(pg)
    return (rank * b,) + (0,) * (x.dim() - 1), (world * b, *x.shape[1:])


class Dropout(_Module):
    """Element-wise dropout; see :func:`spatial_dropout.dropout`.

    >>> import torch; from spatial_dropout.torch import Dropout
    >>> Dropout(0.1)(torch.ones(4)).shape
    torch.Size([4])
    """

    _variant = VARIANTS["dropout"]


class Dropout1d(_Module):
    """Channel dropout of ``(N, C, L)`` or ``(C, L)``; see :func:`spatial_dropout.dropout1d`.

    >>> import torch; from spatial_dropout.torch import Dropout1d
    >>> Dropout1d(0.5).eval()(torch.ones(2, 3, 5)).sum().item()
    30.0
    """

    _variant = VARIANTS["dropout1d"]


class Dropout2d(_Module):
    """Channel dropout of ``(N, C, H, W)`` or ``(C, H, W)``; see :func:`spatial_dropout.dropout2d`.

    Unlike ``torch.nn.Dropout2d``, a 3-D input is read as one unbatched ``(C, H, W)`` image and
    whole channels are dropped; for ``(N, C, L)`` sequences use :class:`Dropout1d`.

    >>> import torch; from spatial_dropout.torch import Dropout2d
    >>> y = Dropout2d(0.5, generator=0)(torch.ones(6, 4, 4))
    >>> bool(((y == 0).all(dim=(1, 2)) | (y == 2).all(dim=(1, 2))).all())
    True
    """

    _variant = VARIANTS["dropout2d"]


class Dropout3d(_Module):
    """Channel dropout of ``(N, C, D, H, W)``; see :func:`spatial_dropout.dropout3d`.

    >>> import torch; from spatial_dropout.torch import Dropout3d
    >>> Dropout3d(0.5, generator=0)(torch.ones(1, 4, 2, 2, 2)).shape
    torch.Size([1, 4, 2, 2, 2])
    """

    _variant = VARIANTS["dropout3d"]


class AlphaDropout(_Module):
    """Alpha dropout for SELU networks; see :func:`spatial_dropout.alpha_dropout`.

    >>> import torch; from spatial_dropout.torch import AlphaDropout
    >>> AlphaDropout(0.2)
    AlphaDropout(p=0.2, inplace=False)
    """

    _variant = VARIANTS["alpha_dropout"]


class FeatureAlphaDropout(_Module):
    """Channel-wise alpha dropout; see :func:`spatial_dropout.feature_alpha_dropout`.

    >>> import torch; from spatial_dropout.torch import FeatureAlphaDropout
    >>> FeatureAlphaDropout(0.2)(torch.zeros(2, 3, 4)).shape
    torch.Size([2, 3, 4])
    """

    _variant = VARIANTS["feature_alpha_dropout"]


class DropPath(PathMixin, _Module):
    """Stochastic depth; see :func:`spatial_dropout.drop_path` (and ``data_parallel`` above).

    >>> import torch; from spatial_dropout.torch import DropPath
    >>> DropPath(0.1, batch_axis=1)(torch.ones(5, 4, 3)).shape
    torch.Size([5, 4, 3])
    """

    _variant = VARIANTS["drop_path"]


class DropBlock1d(BlockMixin, _Module):
    """DropBlock on 1-D maps; see :func:`spatial_dropout.drop_block1d`."""

    _variant = VARIANTS["drop_block1d"]


class DropBlock2d(BlockMixin, _Module):
    """DropBlock on 2-D maps; see :func:`spatial_dropout.drop_block2d`."""

    _variant = VARIANTS["drop_block2d"]


class DropBlock3d(BlockMixin, _Module):
    """DropBlock on 3-D maps; see :func:`spatial_dropout.drop_block3d`."""

    _variant = VARIANTS["drop_block3d"]


def _peer(child: torch.nn.Module, kwargs: dict[str, Any]) -> torch.nn.Module | None:
    """Ours for timm's ``DropPath`` or torchvision's ``StochasticDepth``/``DropBlock2d/3d``.

    Read by class and module name: neither package is imported here. None for anything else.
    """
    name, module = type(child).__name__, type(child).__module__
    peer: Any = child
    if name == "DropPath" and module.startswith("timm."):
        return DropPath(peer.drop_prob, scale_by_keep=peer.scale_by_keep, **kwargs)
    if not module.startswith("torchvision."):
        return None
    if name == "StochasticDepth":
        return DropPath(peer.p, mode=peer.mode, **kwargs)
    blocks = {"DropBlock2d": DropBlock2d, "DropBlock3d": DropBlock3d}
    if name in blocks:  # torchvision normalises by the batch's kept count
        return blocks[name](peer.p, peer.block_size, peer.inplace, normalize="batch", **kwargs)
    return None


# torch.nn's module of each variant that has one -> ours
_REPLACEMENTS: dict[type[torch.nn.Module], type[_Module]] = {
    getattr(torch.nn, variant.torch_layer): globals()[variant.layer]
    for variant in VARIANTS.values()
    if variant.torch_layer is not None
}


def replace_dropout(model: torch.nn.Module, **kwargs: Any) -> torch.nn.Module:
    """Swap every ``torch.nn`` dropout module in ``model`` for ours, in place; returns ``model``.

    timm's ``DropPath`` and torchvision's ``StochasticDepth`` become our ``DropPath`` (keeping
    ``p``, ``scale_by_keep``, ``mode``), torchvision's ``DropBlock2d/3d`` our ``DropBlock2d/3d``
    with ``normalize="batch"`` (keeping ``p``, ``block_size``, ``inplace``; a block larger than
    the map is clamped per axis, where torchvision clamps it to the smallest side) where those
    packages are used; neither is needed.

    Each replacement keeps ``p``, ``inplace`` and the training flag; ``kwargs`` (for example
    ``generator=``) go to every new module. A model is fixed without editing its code: dropped
    entries become exactly ``+0.0`` (no ``NaN`` from ``inf``), and a gradient through them is
    exactly ``0``.

    Note that a swapped ``Dropout2d`` reads a 3-D input as one unbatched ``(C, H, W)`` image, as
    its documentation promises, where ``torch.nn.Dropout2d`` reads it as ``(N, C, L)`` and
    drops rows. A model that feeds ``(N, C, L)`` data to ``Dropout2d`` wants ``Dropout1d``.

    >>> import torch
    >>> from spatial_dropout.torch import replace_dropout
    >>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Dropout2d(0.1))
    >>> replace_dropout(model)[1]
    Dropout2d(p=0.1, inplace=False)
    """
    if isinstance(model, tuple(_REPLACEMENTS)):
        errors.is_dropout_module("replace_dropout", type(model).__name__)
    for name, child in list(model.named_children()):
        cls = _REPLACEMENTS.get(type(child))
        new: torch.nn.Module | None = None
        if cls is not None:
            old = cast(torch.nn.modules.dropout._DropoutNd, child)
            new = cls(old.p, old.inplace, **kwargs)
        else:
            new = _peer(child, kwargs)
        if new is not None:
            new.train(child.training)
            setattr(model, name, new)
        else:
            replace_dropout(child, **kwargs)
    return model
