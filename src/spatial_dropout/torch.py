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

from . import _validation as v
from ._layers import DropoutMixin
from ._variants import VARIANTS

__all__ = [
    "AlphaDropout",
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "FeatureAlphaDropout",
    "replace_dropout",
]


class _Module(DropoutMixin, torch.nn.Module):
    def forward(self, input: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self._dropout(input, self.training)
        return out


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


# torch.nn's module of each variant (by its layer name) -> ours
_REPLACEMENTS: dict[type[torch.nn.Module], type[_Module]] = {
    getattr(torch.nn, variant.layer): globals()[variant.layer] for variant in VARIANTS.values()
}


def replace_dropout(model: torch.nn.Module, **kwargs: Any) -> torch.nn.Module:
    """Swap every ``torch.nn`` dropout module in ``model`` for ours, in place; returns ``model``.

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
        v.is_dropout_module("replace_dropout", type(model).__name__)
    for name, child in list(model.named_children()):
        cls = _REPLACEMENTS.get(type(child))
        if cls is not None:
            old = cast(torch.nn.modules.dropout._DropoutNd, child)
            new = cls(old.p, old.inplace, **kwargs)
            new.train(child.training)
            setattr(model, name, new)
        else:
            replace_dropout(child, **kwargs)
    return model
