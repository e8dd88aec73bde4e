"""The variants of dropout, one table entry each: everything that lists them reads ``VARIANTS``.

An entry is a whole description of one kind of dropout: its parameters, the rate its draw uses,
which axes share a mask entry, how a drawn mask grows into the applied one, what happens to kept
and dropped values, and what its layers are called. The public functions, ``dropout_mask``'s
``kind``, the neutral, torch, Flax and Equinox layers, ``replace_dropout``, the API reference and
the test matrices all read this table; the engine (``_plan.py``) runs any entry unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _validation as v
from ._scale import Transform, alpha_transform, inverted_transform
from ._shapes import feature_mask_shape, rank_mask_shape

Params = Mapping[str, Any]
Shape = tuple[int, ...]
WindowAny = Callable[[Any, Shape], Any]
Region = tuple[tuple[int, ...], Shape, tuple[slice, ...]]
"""``(dropped, block) -> grown``: along each axis ``k``, entry ``i`` of the result is whether any
of ``dropped[i - block[k] + 1 .. i]`` is True (zeros outside), so every axis grows by
``block[k] - 1``. A backend may offer its own (``Backend.window_any``); else the engine's."""


@dataclass(frozen=True)
class Variant:
    """One kind of dropout.

    Attributes
    ----------
    name : str
        The public function's name, and ``dropout_mask``'s ``kind``.
    layer : str
        The layer class's name in every layer module.
    mask_shape : callable
        ``(input shape, data_format, params) -> drawn mask shape``; 1 marks an axis that shares
        one entry.
    transform : callable
        ``(p, mantissa bits, grown keep or None, params) -> Transform``: kept ``x * a +
        b_keep``, dropped ``b_drop``. ``a`` may be an array on the input's device (a scale that
        depends on the mask); it is never read back to the host.
    torch_layer : str or None
        The ``torch.nn`` module this variant replaces (``replace_dropout``), or None.
    channel : bool
        Takes ``data_format`` (the ``dropoutNd`` family).
    training : bool
        The function's default for ``training`` (``False`` for the alpha variants, as PyTorch).
    params : callable or None
        ``(fn, input shape, given params) -> params``: validates the variant's own arguments
        (raising, naming ``fn``) and returns them as the rest of the description reads them.
    options : tuple of str
        The names of those arguments (``dropout_mask(kind=...)`` takes them as keywords).
    rate : callable or None
        ``(p, input shape, params) -> the rate each drawn entry is dropped with`` (default
        ``p``); DropBlock's seed rate.
    grow : callable or None
        ``(drawn keep, input shape, params, window_any) -> applied keep``, for masks grown from
        the drawn one.
    region : callable or None
        For a grown variant, ``(global shape, data_format, params, starts, shape) -> (drawn
        starts, drawn box, crop)``: the part of the drawn mask a shard at ``starts`` needs, and
        where the shard lies in what that part grows into (``offset=``); None: no ``offset``.
    native_drops : bool
        A framework's own generator draws the dropped entries (``bernoulli_(rate)``, as
        torchvision draws DropBlock's seeds), not the kept ones.
    """

    name: str
    layer: str
    mask_shape: Callable[[Shape, str, Params], Shape]
    transform: Callable[[float, int, Any, Params], Transform]
    torch_layer: str | None = None
    channel: bool = False
    training: bool = True
    params: Callable[[str, Shape, Params], Params] | None = None
    options: tuple[str, ...] = ()
    rate: Callable[[float, Shape, Params], float] | None = None
    grow: Callable[[Any, Shape, Params, WindowAny], Any] | None = field(default=None)
    native_drops: bool = False
    region: Callable[[Shape, str, Params, tuple[int, ...], Shape], Region] | None = None


def _elementwise(shape: Shape, data_format: str, params: Params) -> Shape:
    shared = params.get("shared_axes")
    if not shared:
        return shape
    return tuple(1 if axis in shared else n for axis, n in enumerate(shape))


def _shared_axes(fn: str, shape: Shape, given: Params) -> Params:
    """``shared_axes``: None, or distinct axes of ``input`` (negative allowed).

    Returned as a sorted tuple of non-negative axes.
    """
    axes = given.get("shared_axes")
    if axes is None:
        return {}
    rank = len(shape)
    if isinstance(axes, int) and not isinstance(axes, bool):
        axes = (axes,)
    if not isinstance(axes, (tuple, list)) or not all(
        isinstance(a, int) and not isinstance(a, bool) for a in axes
    ):
        v.bad_param(fn, "shared_axes", "a tuple of ints (axes of input)", axes, TypeError)
    if not all(-rank <= a < rank for a in axes):
        v.bad_param(fn, "shared_axes", f"axes in [-{rank}, {rank}) for input of rank {rank}", axes)
    normal = tuple(sorted(a % rank for a in axes))
    if len(set(normal)) != len(normal):
        v.bad_param(fn, "shared_axes", "distinct axes", axes)
    return {"shared_axes": normal}


def _path(shape: Shape, data_format: str, params: Params) -> Shape:
    if params["mode"] == "batch":
        return (1,) * len(shape)
    return tuple(n if axis == params["batch_axis"] else 1 for axis, n in enumerate(shape))


def _path_params(fn: str, shape: Shape, given: Params) -> Params:
    """DropPath's ``mode``, ``batch_axis`` (made non-negative) and ``scale_by_keep``.

    ``mode``: "row" makes one decision a sample, "batch" one for all.
    """
    mode = v.check_choice(fn, "mode", given.get("mode", "row"), ("row", "batch"))
    axis = given.get("batch_axis", 0)
    rank = len(shape)
    if isinstance(axis, bool) or not isinstance(axis, int) or not -rank <= axis < rank:
        v.bad_param(fn, "batch_axis", f"an int in [-{rank}, {rank}) for input of rank {rank}", axis)
    scale = v.check_bool(fn, "scale_by_keep", given.get("scale_by_keep", True))
    return {"mode": mode, "batch_axis": axis % rank, "scale_by_keep": scale}


def _path_transform(p: float, mant: int, mask: Any = None, params: Any = None) -> Transform:
    if params is not None and not params["scale_by_keep"]:
        return Transform(1.0)
    return inverted_transform(p, mant)


def _feature(shape: Shape, data_format: str, params: Params) -> Shape:
    return feature_mask_shape(shape)


def _spatial(n: int) -> Callable[[Shape, str, Params], Shape]:
    def rule(shape: Shape, data_format: str, params: Params) -> Shape:
        return rank_mask_shape(shape, n, data_format)  # data_format validated by the caller

    return rule


from . import _blocks  # noqa: E402 (it reads Params and WindowAny above)

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "dropout",
            "Dropout",
            _elementwise,
            inverted_transform,
            "Dropout",
            params=_shared_axes,
            options=("shared_axes",),
        ),
        Variant("dropout1d", "Dropout1d", _spatial(1), inverted_transform, "Dropout1d", True),
        Variant("dropout2d", "Dropout2d", _spatial(2), inverted_transform, "Dropout2d", True),
        Variant("dropout3d", "Dropout3d", _spatial(3), inverted_transform, "Dropout3d", True),
        Variant(
            "alpha_dropout",
            "AlphaDropout",
            _elementwise,
            alpha_transform,
            "AlphaDropout",
            training=False,
        ),
        Variant(
            "feature_alpha_dropout",
            "FeatureAlphaDropout",
            _feature,
            alpha_transform,
            "FeatureAlphaDropout",
            training=False,
        ),
        Variant(
            "drop_path",
            "DropPath",
            _path,
            _path_transform,
            params=_path_params,
            options=("mode", "batch_axis", "scale_by_keep"),
        ),
        *(
            Variant(
                f"drop_block{n}d",
                f"DropBlock{n}d",
                _blocks.seeds,
                _blocks.transform,
                params=_blocks.params(n),
                rate=_blocks.rate,
                grow=_blocks.grow,
                channel=True,
                options=("block_size", "share_channels", "normalize"),
                native_drops=True,
                region=_blocks.region,
            )
            for n in (1, 2, 3)
        ),
    )
}
