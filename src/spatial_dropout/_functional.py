"""The six public dropout functions, the mask helpers, and their documentation."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

import array_api_compat as compat

from . import _validation as v
from ._backends import ArrayAPIBackend, backend_for
from ._options import DropoutOptions, unpack
from ._scale import alpha_constants, keep_scale
from ._shapes import feature_mask_shape, mask_shape


class _Array(Protocol):
    @property
    def shape(self) -> Any: ...
    @property
    def dtype(self) -> Any: ...


ArrayT = TypeVar("ArrayT", bound=_Array)
PLike = float | DropoutOptions | Mapping[str, Any]
MaskShape = Callable[[tuple[int, ...]], tuple[int, ...]]

_SPATIAL = {"dropout": None, "dropout1d": 1, "dropout2d": 2, "dropout3d": 3}


def _backend(fn: str, x: object) -> ArrayAPIBackend:
    backend = backend_for(x)
    if backend is None:
        v.not_an_array(fn, x)
    return backend


def _run(
    fn: str,
    x: ArrayT,
    p: object,
    training: object,
    inplace: object,
    generator_or_key: tuple[object, object],
    shape_of: MaskShape,
    alpha: bool = False,
) -> ArrayT:
    """Validate everything, then draw the mask and run the backend's kernel."""
    generator = _generator(fn, *generator_or_key)
    p, training, inplace = unpack(fn, p, training, inplace)
    backend = _backend(fn, x)
    prob = v.check_p(fn, p)
    train = v.check_bool(fn, "training", training)
    in_place = v.check_bool(fn, "inplace", inplace)
    if not train or prob == 0.0 or backend.size(x) == 0:
        return x
    if not backend.is_floating(x):
        v.not_floating(fn, x.dtype)
    if in_place and (why := backend.why_not_writeable(x)) is not None:
        v.not_writeable(fn, why)
    if prob == 1.0:  # as PyTorch: all zeros, no mask drawn, no inf from 1 / (1 - p)
        out: ArrayT = backend.zeros(x, in_place)
        return out
    shape = shape_of(tuple(x.shape))
    mant = backend.mantissa(x)
    if alpha:
        keep = backend.keep_mask(fn, x, shape, prob, generator)
        out = backend.apply_alpha(x, keep, alpha_constants(prob, mant), in_place)
        return out
    scale = keep_scale(prob, mant)
    out = backend.fused(fn, x, shape, prob, generator, scale, in_place)
    if out is None:  # no one-pass kernel for this input: a mask, then the kernel
        keep = backend.keep_mask(fn, x, shape, prob, generator)
        out = backend.apply_keep(x, keep, scale, in_place)
    return out


def _generator(fn: str, generator: object, key: object) -> object:
    if key is None:
        return generator
    if generator is not None:
        raise TypeError(f"{fn}(): pass `generator` or `key`, not both")
    return key


_CHANNEL: dict[tuple[str, int | None, object], MaskShape] = {}


def _channel(fn: str, n: int | None, data_format: object) -> MaskShape:
    """The mask-shape rule of ``fn`` for ``data_format`` (validated once, then cached)."""
    rule = _CHANNEL.get((fn, n, data_format))
    if rule is None:
        fmt = v.check_data_format(fn, data_format)
        rule = _CHANNEL[(fn, n, fmt)] = functools.partial(mask_shape, spatial_dims=n,
                                                           data_format=fmt)  # fmt: skip
    return rule


def dropout(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
) -> ArrayT:
    """Element-wise dropout: zero each entry with probability ``p``, scale the rest.

    Parameters
    ----------
    input : array
        A floating-point NumPy, PyTorch, JAX, CuPy or array-API array of any shape.
    p : float, DropoutOptions or mapping, default 0.5
        Probability of dropping an entry, in ``[0, 1]``; or the seed's options form.
    training : bool, default True
        ``False`` returns ``input`` itself, untouched.
    inplace : bool, default False
        Write the result into ``input`` and return it.
    generator : None, int, Generator, or a native generator
        ``None``: the input framework's own seeding (see ``manual_seed``). An ``int`` or a
        ``Generator`` gives the same mask on every backend and device.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        For a bad argument, naming it; ``input`` is then left unchanged.

    Notes
    -----
    Kept entries are ``x * s`` with ``s = 1 / (1 - p)`` rounded as PyTorch rounds it (bit for
    bit equal to ``torch.nn.functional.dropout`` with the same mask); dropped entries are
    exactly ``+0.0``, also where ``x`` is ``inf`` or ``NaN``.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.dropout(np.ones(8, dtype=np.float32), 0.5, generator=0)
    >>> sorted(set(y.tolist())) in ([0.0, 2.0], [0.0], [2.0])
    True
    """
    return _run("dropout", input, p, training, inplace, (generator, key), tuple)


def dropout1d(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
) -> ArrayT:
    """Channel dropout for 1-D signals: each channel of ``(N, C, L)`` or ``(C, L)`` drops whole.

    Arguments, results and errors as :func:`dropout2d`, with one spatial dim.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.dropout1d(np.ones((2, 6, 5)), 0.5, generator=1)
    >>> bool(((y == 0).all(axis=2) | (y == 2).all(axis=2)).all())
    True
    """
    shape_of = _channel("dropout1d", 1, data_format)
    return _run("dropout1d", input, p, training, inplace, (generator, key), shape_of)


def dropout2d(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
) -> ArrayT:
    """Randomly zero whole channels of 2-D feature maps, scaling the rest by ``1 / (1 - p)``.

    Parameters
    ----------
    input : array
        A floating-point array: ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``; other ranks fall
        back to element-wise dropout. NumPy, PyTorch, JAX, CuPy or any array-API array.
    p : float, DropoutOptions or mapping, default 0.5
        Probability of dropping a channel, in ``[0, 1]``; or the seed's options form.
    training : bool, default True
        ``False`` returns ``input`` itself (no copy).
    inplace : bool, default False
        Write into ``input`` (views included) and return it.
    generator : None, int, Generator, or a native generator
        ``None`` follows the input framework's seeding: ``torch.manual_seed`` for tensors,
        :func:`manual_seed` for NumPy. An ``int`` or :class:`Generator` gives the same mask on
        every backend and device. Also ``numpy.random.Generator`` (NumPy inputs),
        ``torch.Generator`` (tensors), a JAX key (JAX arrays).
    key : jax.Array, optional
        A JAX PRNG key (typed ``jax.random.key`` or raw ``PRNGKey``), the same as
        ``generator=key``; JAX arrays need one. ``PRNGKey(s)`` draws the mask of ``generator=s``.
    data_format : {"channels_first", "channels_last"}
        ``"channels_last"`` reads ``(N, H, W, C)``: the channel axis is the last one.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError
        ``input`` is not an array, is not floating point (in training with ``0 < p``), or an
        argument has the wrong type.
    ValueError
        ``p`` outside ``[0, 1]``; ``inplace=True`` on an array that cannot be written.

    Notes
    -----
    Which axes share one mask entry (1 = shared), the seed's table:

    ==========  ===============  ================
    rank        meaning          mask shape
    ==========  ===============  ================
    0, 1        scalar, (L,)     element-wise
    2           (H, W)           (H, 1)
    3           (C, H, W)        (C, 1, 1)
    4           (N, C, H, W)     (N, C, 1, 1)
    5+                           element-wise
    ==========  ===============  ================

    Dropped entries are exactly ``+0.0``, even where the input held ``inf`` or ``NaN``. Kept
    entries equal PyTorch's bit for bit given the same mask. With the same ``Generator`` seed
    the mask is the same on every backend and device, and depends on a channel's logical
    ``(n, c)`` index, not on ``data_format``.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> x = np.ones((2, 4, 3, 3), dtype=np.float32)
    >>> y = sd.dropout2d(x, 0.5, generator=sd.Generator(0))
    >>> y.shape, y.dtype
    ((2, 4, 3, 3), dtype('float32'))
    >>> planes = y.reshape(8, 9)
    >>> bool(((planes == 0).all(axis=1) | (planes == 2).all(axis=1)).all())
    True
    >>> sd.dropout2d(x, 0.5, training=False) is x
    True
    """
    shape_of = _channel("dropout2d", 2, data_format)
    return _run("dropout2d", input, p, training, inplace, (generator, key), shape_of)


def dropout3d(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
) -> ArrayT:
    """Channel dropout for volumes: each channel of ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Arguments, results and errors as :func:`dropout2d`, with three spatial dims.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> sd.dropout3d(np.ones((2, 3, 4, 4, 4)), 0.2, generator=3).shape
    (2, 3, 4, 4, 4)
    """
    shape_of = _channel("dropout3d", 3, data_format)
    return _run("dropout3d", input, p, training, inplace, (generator, key), shape_of)


def alpha_dropout(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
) -> ArrayT:
    """Element-wise alpha dropout for SELU networks; keeps mean and variance (PyTorch's).

    Dropped entries take SELU's saturation value, then an affine correction applies:
    kept ``x * a + alpha * a * p``, dropped ``alpha * a * (p - 1)``, with
    ``alpha = 1.7580993408473766`` and ``a = 1 / sqrt((alpha**2 * p + 1) * (1 - p))``.
    ``training`` defaults to ``False``, as in PyTorch. Arguments as :func:`dropout`.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> x = np.zeros(4)
    >>> sd.alpha_dropout(x, 0.5) is x  # training=False by default
    True
    >>> sd.alpha_dropout(x, 0.5, True, generator=0).shape
    (4,)
    """
    return _run("alpha_dropout", input, p, training, inplace, (generator, key), tuple, alpha=True)


def feature_alpha_dropout(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
) -> ArrayT:
    """Alpha dropout of whole channels: the mask is ``(N, C, 1, ...)`` for rank >= 2.

    Values as :func:`alpha_dropout`; ranks 0 and 1 fall back to element-wise.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.feature_alpha_dropout(np.zeros((2, 5, 3)), 0.5, True, generator=0)
    >>> bool((y == y[:, :, :1]).all())  # one value per channel
    True
    """
    fn = "feature_alpha_dropout"
    return _run(fn, input, p, training, inplace, (generator, key), feature_mask_shape, alpha=True)


_KINDS: dict[str, MaskShape | None] = {
    "dropout": None, "dropout1d": None, "dropout2d": None, "dropout3d": None,
    "alpha_dropout": tuple, "feature_alpha_dropout": feature_mask_shape,
}  # fmt: skip


def dropout_mask(
    input: _Array,
    p: float = 0.5,
    *,
    kind: str = "dropout2d",
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
) -> Any:
    """The boolean keep mask that ``kind(input, p, generator=generator)`` would draw.

    It has the mask shape of the rank table (``(N, C, 1, 1)`` for a 4-D ``dropout2d``) and
    broadcasts against ``input``. With :func:`apply_mask` it gives the forward pass and, applied
    to the incoming gradient, the backward pass of a hand-written model.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> x = np.ones((2, 3, 4, 4))
    >>> mask = sd.dropout_mask(x, 0.5, generator=sd.Generator(5))
    >>> mask.shape, mask.dtype
    ((2, 3, 1, 1), dtype('bool'))
    >>> y = sd.apply_mask(x, mask, 0.5)           # forward
    >>> bool((y == sd.dropout2d(x, 0.5, generator=sd.Generator(5))).all())
    True
    >>> dx = sd.apply_mask(np.ones_like(x), mask, 0.5)  # backward: dL/dx = mask * s * dL/dy
    """
    fn = "dropout_mask"
    if kind not in _KINDS:
        raise ValueError(f"{fn}(): `kind` must be one of {', '.join(_KINDS)}; got {kind!r}")
    backend = _backend(fn, input)
    prob = v.check_p(fn, p)
    shape_of = _KINDS[kind] or _channel(fn, _SPATIAL[kind], data_format)
    shape = shape_of(tuple(input.shape))
    xp = backend.namespace(input)
    if prob in (0.0, 1.0) or backend.size(input) == 0:
        return xp.full(shape, prob == 0.0, dtype=xp.bool, device=compat.device(input))
    return backend.keep_mask(fn, input, shape, prob, _generator(fn, generator, key))


def apply_mask(input: ArrayT, mask: Any, p: float, inplace: bool = False) -> ArrayT:
    """``input * s`` where ``mask`` is True, exactly ``+0.0`` where it is False.

    ``s`` is PyTorch's rounded ``1 / (1 - p)`` for ``input``'s dtype. Use it with
    :func:`dropout_mask` for the forward pass, and on the gradient for the backward pass.

    >>> import numpy as np, spatial_dropout as sd
    >>> sd.apply_mask(np.array([1.0, np.inf]), np.array([True, False]), 0.5)
    array([2., 0.])
    """
    fn = "apply_mask"
    backend = _backend(fn, input)
    prob = v.check_p(fn, p)
    in_place = v.check_bool(fn, "inplace", inplace)
    if not backend.is_floating(input):
        v.not_floating(fn, input.dtype)
    shape, mshape = tuple(input.shape), tuple(mask.shape)
    if len(mshape) > len(shape) or any(
        m not in (1, s) for m, s in zip(mshape[::-1], shape[::-1], strict=False)
    ):
        v.bad_mask(fn, mshape, shape)
    if in_place and (why := backend.why_not_writeable(input)) is not None:
        v.not_writeable(fn, why)
    scale = keep_scale(prob, backend.mantissa(input))
    out: ArrayT = backend.apply_keep(input, mask, scale, in_place)
    return out
