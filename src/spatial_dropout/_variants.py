"""The variants of dropout, one table entry each: everything that lists them reads ``VARIANTS``.

An entry says which axes share a mask entry (``mask_shape``), what happens to kept and dropped
values (``transform``), and what its layers are called. The public functions, ``dropout_mask``'s
``kind``, the neutral, torch, Flax and Equinox layers, ``replace_dropout``, the API reference
and the test matrices all read this table.

Room for the next variants without touching the engine (``_functional._run``): a per-sample
mask (DropPath) or caller-chosen shared axes (``noise_shape``) are ``mask_shape`` rules; a
full-size mask grown from seed points (DropBlock) is a ``grow`` step from the drawn mask to the
applied one; a scale that depends on the mask (DropBlock's renormalisation) is a
``transform`` that reads the grown mask.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._scale import Transform, alpha_transform, inverted_transform
from ._shapes import cached_mask_shape, feature_mask_shape

MaskShape = Callable[[tuple[int, ...], str], tuple[int, ...]]


@dataclass(frozen=True)
class Variant:
    """One kind of dropout.

    Attributes
    ----------
    name : str
        The public function's name, and ``dropout_mask``'s ``kind``.
    layer : str
        The layer class's name, here and in ``torch.nn`` (``replace_dropout`` maps by it).
    mask_shape : callable
        ``(input shape, data_format) -> mask shape``; 1 marks an axis that shares one entry.
    transform : callable
        ``(p, mantissa bits, mask) -> Transform``: kept ``x * a + b_keep``, dropped
        ``b_drop``. ``mask`` is the grown mask for a variant with ``grow``, else ``None``.
    channel : bool
        Takes ``data_format`` (the ``dropoutNd`` family).
    training : bool
        The function's default for ``training`` (``False`` for the alpha variants, as PyTorch).
    grow : callable or None
        ``(drawn mask, input shape) -> applied mask``, for masks grown from the drawn one.
    """

    name: str
    layer: str
    mask_shape: MaskShape
    transform: Callable[[float, int, Any], Transform]
    channel: bool = False
    training: bool = True
    grow: Callable[[Any, tuple[int, ...]], Any] | None = None


def _elementwise(shape: tuple[int, ...], data_format: str) -> tuple[int, ...]:
    return shape


def _feature(shape: tuple[int, ...], data_format: str) -> tuple[int, ...]:
    return feature_mask_shape(shape)


def _spatial(n: int) -> MaskShape:
    def rule(shape: tuple[int, ...], data_format: str) -> tuple[int, ...]:
        return cached_mask_shape(shape, n, data_format)  # data_format validated by the caller

    return rule


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("dropout", "Dropout", _elementwise, inverted_transform),
        Variant("dropout1d", "Dropout1d", _spatial(1), inverted_transform, channel=True),
        Variant("dropout2d", "Dropout2d", _spatial(2), inverted_transform, channel=True),
        Variant("dropout3d", "Dropout3d", _spatial(3), inverted_transform, channel=True),
        Variant("alpha_dropout", "AlphaDropout", _elementwise, alpha_transform, training=False),
        Variant(
            "feature_alpha_dropout",
            "FeatureAlphaDropout",
            _feature,
            alpha_transform,
            training=False,
        ),
    )
}
