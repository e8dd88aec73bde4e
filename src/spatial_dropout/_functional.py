"""The public dropout functions and the mask helpers: each is one call of the engine.

The engine (``_plan.py``) validates every argument, decides the call once (a frozen plan) and
runs it on the input's backend.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from . import _validation as v
from ._backends import backend_for
from ._options import DropoutOptions
from ._plan import Array, ArrayT, Plan, draw, execute, keep_mask, plan
from ._scale import inverted_transform
from ._variants import VARIANTS, Params, Variant

_NO_PARAMS: Params = {}
_F = TypeVar("_F", bound=Callable[..., Any])


def _leaf(fn: _F) -> _F:
    """``fn`` as one call for ``__torch_function__`` overrides, as ``torch.nn.functional``'s are.

    A ``torch.fx`` proxy (``symbolic_trace``, ``create_feature_extractor``, FX quantization)
    then records one node per call, and the traced module draws a fresh mask on every call;
    tensor subclasses that override ``__torch_function__`` see the call itself. A plain tensor,
    and any array of another library, goes straight on.
    """

    @functools.wraps(fn)
    def public(input: Any, *args: Any, **kwargs: Any) -> Any:
        torch = sys.modules.get("torch")
        if (
            torch is not None
            and type(input) is not torch.Tensor
            and torch.overrides.has_torch_function_unary(input)
        ):
            return torch.overrides.handle_torch_function(public, (input,), input, *args, **kwargs)
        return fn(input, *args, **kwargs)

    return cast("_F", public)


PLike = float | DropoutOptions | Mapping[str, Any]


def _run(
    variant: Variant,
    x: ArrayT,
    p: object,
    training: object,
    inplace: object,
    generator: object,
    key: object,
    data_format: object = "channels_first",
    offset: object = None,
    global_shape: object = None,
    params: Params = _NO_PARAMS,
) -> ArrayT:
    """A call of any variant: find the backend, plan, execute (or return ``x``)."""
    backend = backend_for(variant.name, x)
    call = plan(
        variant,
        backend,
        x,
        p,
        training,
        inplace,
        generator,
        key,
        data_format,
        offset,
        global_shape,
        params,
    )
    if call is None or call.empty:
        if call is not None and call.portable:
            draw(call, backend, x)  # an empty shard advances a Generator as every other does
        return x
    return execute(call, backend, x)


@_leaf
def dropout(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    shared_axes: Sequence[int] | None = None,
    generator: object = None,
    key: object = None,
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """Element-wise dropout: zero each entry with probability ``p``, scale the rest.

    Parameters
    ----------
    input : array
        A floating-point NumPy, PyTorch, JAX, Dask or array-API array of any shape.
    p : float, DropoutOptions or mapping, default 0.5
        Probability of dropping an entry, in ``[0, 1]``; or the seed's options form.
    training : bool, default True
        ``False`` returns ``input`` itself, untouched.
    inplace : bool, default False
        Write the result into ``input`` and return it.
    shared_axes : sequence of int, optional
        Axes (negative allowed) along which one mask entry is shared: Flax's
        ``broadcast_dims``, Keras's ``noise_shape``. ``shared_axes=(2, 3)`` on ``(N, C, H, W)`` is
        :func:`dropout2d`, bit for bit; ``(time_axis,)`` is locked (variational) RNN dropout.
    generator : None, int, Generator, or a native generator
        ``None`` follows the input framework's seeding (:func:`manual_seed` for NumPy, Dask and
        array-API inputs, ``torch.manual_seed`` for tensors). An ``int`` or a
        :class:`Generator` gives the same mask on every backend and device.
    key : jax.Array, optional
        A JAX PRNG key, the same as ``generator=key``.
    offset, global_shape : sequence of int, optional
        Where ``input`` sits in a larger logical array (one entry per dim; default zeros and
        ``offset + input.shape``): the result is that array's result, sliced. Needs a portable
        generator.

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
    >>> x = np.ones((2, 3, 4, 4), dtype=np.float32)
    >>> bool((sd.dropout(x, 0.5, shared_axes=(2, 3), generator=1)
    ...       == sd.dropout2d(x, 0.5, generator=1)).all())
    True
    """
    return _run(
        VARIANTS["dropout"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        "channels_first",
        offset,
        global_shape,
        {} if shared_axes is None else {"shared_axes": shared_axes},
    )


@_leaf
def dropout1d(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """Channel dropout for 1-D signals: each channel of ``(N, C, L)`` or ``(C, L)`` drops whole.

    Parameters
    ----------
    input : array
        ``(N, C, L)``, ``(C, L)`` or ``(L,)`` (channels); other ranks are element-wise.
    p, training, inplace, generator, key, data_format, offset, global_shape
        As :func:`dropout2d`.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        As :func:`dropout2d`.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.dropout1d(np.ones((2, 6, 5)), 0.5, generator=1)
    >>> bool(((y == 0).all(axis=2) | (y == 2).all(axis=2)).all())
    True
    """
    return _run(
        VARIANTS["dropout1d"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        data_format,
        offset,
        global_shape,
    )


@_leaf
def dropout2d(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """Randomly zero whole channels of 2-D feature maps, scaling the rest by ``1 / (1 - p)``.

    Parameters
    ----------
    input : array
        A floating-point array: ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``; other ranks fall
        back to element-wise dropout. NumPy, PyTorch, JAX, Dask or any array-API array.
    p : float, DropoutOptions or mapping, default 0.5
        Probability of dropping a channel, in ``[0, 1]``; or the seed's options form.
    training : bool, default True
        ``False`` returns ``input`` itself (no copy).
    inplace : bool, default False
        Write into ``input`` (views included) and return it.
    generator : None, int, Generator, or a native generator
        ``None`` follows the input framework's seeding: ``torch.manual_seed`` for tensors,
        :func:`manual_seed` for NumPy, Dask and array-API arrays. An ``int`` or
        :class:`Generator` gives the same mask on every backend and device. Also
        ``numpy.random.Generator`` (NumPy inputs), ``torch.Generator`` (tensors), a JAX key
        (JAX arrays).
    key : jax.Array, optional
        A JAX PRNG key (typed ``jax.random.key`` or raw ``PRNGKey``), the same as
        ``generator=key``; JAX arrays need one. ``PRNGKey(s)`` draws the mask of ``generator=s``.
    data_format : {"channels_first", "channels_last"}
        ``"channels_last"`` reads ``(N, H, W, C)``: the channel axis is the last one.
    offset : sequence of int, optional
        Where ``input`` starts inside a larger logical array, one non-negative integer per dim
        (default zeros); under ``jax.jit`` or ``torch.compile`` an entry may be a traced
        integer or a 0-d integer tensor. Needs a portable generator (an ``int``, a
        :class:`Generator`, the global stream, a JAX key).
    global_shape : sequence of int, optional
        That larger array's shape (default ``offset + input.shape``); the rank table is read
        from it. The result equals the call on the larger array, sliced where ``input`` sits,
        bit for bit, and advances a ``Generator`` by one call.

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
    return _run(
        VARIANTS["dropout2d"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        data_format,
        offset,
        global_shape,
    )


@_leaf
def dropout3d(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = True,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """Channel dropout for volumes: each channel of ``(N, C, D, H, W)`` or ``(C, D, H, W)``.

    Parameters
    ----------
    input : array
        ``(N, C, D, H, W)``, ``(C, D, H, W)`` or ``(D, H, W)`` (channels); other ranks are
        element-wise.
    p, training, inplace, generator, key, data_format, offset, global_shape
        As :func:`dropout2d`.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        As :func:`dropout2d`.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> sd.dropout3d(np.ones((2, 3, 4, 4, 4)), 0.2, generator=3).shape
    (2, 3, 4, 4, 4)
    """
    return _run(
        VARIANTS["dropout3d"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        data_format,
        offset,
        global_shape,
    )


@_leaf
def alpha_dropout(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """Element-wise alpha dropout for SELU networks; keeps mean and variance (PyTorch's).

    Dropped entries take SELU's saturation value, then an affine correction applies:
    kept ``x * a + alpha * a * p``, dropped ``alpha * a * (p - 1)``, with
    ``alpha = 1.7580993408473766`` and ``a = 1 / sqrt((alpha**2 * p + 1) * (1 - p))``.

    Parameters
    ----------
    input : array
        A floating-point array of any shape.
    p, inplace, generator, key, offset, global_shape
        As :func:`dropout`.
    training : bool, default False
        As PyTorch: ``False`` by default, which returns ``input`` itself.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        As :func:`dropout`.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> x = np.zeros(4)
    >>> sd.alpha_dropout(x, 0.5) is x  # training=False by default
    True
    >>> sd.alpha_dropout(x, 0.5, True, generator=0).shape
    (4,)
    """
    return _run(
        VARIANTS["alpha_dropout"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        "channels_first",
        offset,
        global_shape,
    )


@_leaf
def feature_alpha_dropout(
    input: ArrayT,
    p: PLike = 0.5,
    training: bool = False,
    inplace: bool = False,
    *,
    generator: object = None,
    key: object = None,
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """Alpha dropout of whole channels: the mask is ``(N, C, 1, ...)`` for rank >= 2.

    Parameters
    ----------
    input : array
        A floating-point array; ranks 0 and 1 are element-wise.
    p, training, inplace, generator, key, offset, global_shape
        As :func:`alpha_dropout`.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``; values as :func:`alpha_dropout`.

    Raises
    ------
    TypeError, ValueError
        As :func:`dropout`.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.feature_alpha_dropout(np.zeros((2, 5, 3)), 0.5, True, generator=0)
    >>> bool((y == y[:, :, :1]).all())  # one value per channel
    True
    """
    return _run(
        VARIANTS["feature_alpha_dropout"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        "channels_first",
        offset,
        global_shape,
    )


@_leaf
def drop_path(
    input: ArrayT,
    p: PLike,
    training: bool = True,
    inplace: bool = False,
    *,
    mode: str = "row",
    batch_axis: int = 0,
    scale_by_keep: bool = True,
    generator: object = None,
    key: object = None,
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """Stochastic depth (DropPath): drop whole samples of a residual branch.

    ``mode="row"`` drops each sample (every entry along ``batch_axis``) with probability ``p``;
    ``mode="batch"`` makes one decision for the whole input. It is :func:`dropout` with every
    other axis shared, bit for bit. With ``generator=None`` on a tensor, after the same
    ``torch.manual_seed``, the kept values equal ``timm.layers.drop_path`` and
    ``torchvision.ops.stochastic_depth``; dropped values are exactly ``+0.0``.

    Parameters
    ----------
    input : array
        A floating-point array with a batch axis.
    p : float, DropoutOptions or mapping
        Probability of dropping a sample, in ``[0, 1]`` (no default, as torchvision's).
    training, inplace, generator, key, offset, global_shape
        As :func:`dropout`.
    mode : {"row", "batch"}, default "row"
        One decision per sample, or one for the whole batch.
    batch_axis : int, default 0
        The batch axis (``1`` for sequence-first ``(T, B, D)`` data; peers assume ``0``).
    scale_by_keep : bool, default True
        Scale kept samples by ``1 / (1 - p)``; ``False`` keeps them as they are.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        A bad argument (``mode``, ``batch_axis`` outside ``[-ndim, ndim)``, ...), named;
        ``input`` is then left unchanged.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.drop_path(np.ones((8, 3, 4)), 0.5, generator=0)
    >>> bool(((y == 0).all(axis=(1, 2)) | (y == 2).all(axis=(1, 2))).all())
    True
    >>> t = sd.drop_path(np.ones((5, 8, 3)), 0.5, batch_axis=1, generator=0)  # (T, B, D)
    >>> bool((t == t[:1]).all())  # every time step of a sample shares its decision
    True
    """
    return _run(
        VARIANTS["drop_path"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        "channels_first",
        offset,
        global_shape,
        {"mode": mode, "batch_axis": batch_axis, "scale_by_keep": scale_by_keep},
    )


@_leaf
def drop_block1d(
    input: ArrayT,
    p: PLike,
    block_size: int | Sequence[int],
    training: bool = True,
    inplace: bool = False,
    *,
    data_format: str = "channels_first",
    share_channels: bool = False,
    normalize: str | None = "expected",
    generator: object = None,
    key: object = None,
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """DropBlock on 1-D feature maps: contiguous blocks of ``(N, C, L)`` are dropped.

    Parameters
    ----------
    input : array
        ``(N, C, L)`` or unbatched (no ``N``); ``data_format="channels_last"`` reads the channel
        axis last. Other ranks raise ``ValueError``.
    p, block_size, training, inplace, data_format, share_channels, normalize, generator, key
        As :func:`drop_block2d`.
    offset, global_shape
        As :func:`drop_block2d`.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        As :func:`drop_block2d`.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.drop_block1d(np.ones((2, 3, 16), dtype=np.float32), 0.2, 3, generator=0)
    >>> y.shape, bool((y >= 0).all())
    ((2, 3, 16), True)
    """
    options: dict[str, Any] = {"block_size": block_size, "share_channels": share_channels}
    options["normalize"] = normalize
    return _run(
        VARIANTS["drop_block1d"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        data_format,
        offset,
        global_shape,
        options,
    )


@_leaf
def drop_block2d(
    input: ArrayT,
    p: PLike,
    block_size: int | Sequence[int],
    training: bool = True,
    inplace: bool = False,
    *,
    data_format: str = "channels_first",
    share_channels: bool = False,
    normalize: str | None = "expected",
    generator: object = None,
    key: object = None,
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """DropBlock on 2-D feature maps: contiguous blocks of ``(N, C, H, W)`` are dropped.

    Seeds are drawn on the grid ``(N, C, S - b + 1, ...)`` (``share_channels``: ``(N, 1, ...)``)
    at the paper's rate ``gamma = p * prod(S) / (prod(b) * prod(S - b + 1))``, exactly the
    element-wise :func:`dropout` mask of that grid from the same generator state; a dropped seed
    at ``i`` drops ``[i, i + b)`` on every spatial axis, so blocks lie inside the map. Dropped
    entries are exactly ``+0.0``.

    Parameters
    ----------
    input : array
        ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; ``data_format="channels_last"``
        reads the channel axis last. Other ranks raise ``ValueError``.
    p : float
        The expected fraction of the map dropped, in ``[0, 1]``.
    block_size : int or sequence of int
        The block's size, one for every spatial axis or one per axis; clamped to the map.
    training, inplace, generator, key
        As :func:`dropout2d`.
    data_format : {"channels_first", "channels_last"}
        Where the channel axis is. The seeds are the same either way (logical order).
    share_channels : bool, default False
        One seed grid for every channel (timm's default), ``(N, 1, ...)``.
    normalize : {"expected", "batch", None}, default "expected"
        Kept entries times ``1 / P(kept)`` at their position (from the shapes and ``p`` alone:
        ``E[y] = x`` everywhere), times ``numel / count(kept)`` over the whole input (the paper's
        and torchvision's; all dropped gives zeros), or unscaled.
    offset, global_shape
        As :func:`dropout2d` (integers only): a part of a larger map draws the seeds its blocks
        need, so the parts put together are the call on the whole. ``normalize="batch"``
        (a sum over the whole input) refuses a part.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        A bad argument (``block_size``, ``normalize``, the rank...), named; ``input`` is then
        left unchanged.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.drop_block2d(np.ones((2, 3, 16, 16), dtype=np.float32), 0.2, 3, generator=0)
    >>> y.shape, bool((y >= 0).all())
    ((2, 3, 16, 16), True)
    """
    options: dict[str, Any] = {"block_size": block_size, "share_channels": share_channels}
    options["normalize"] = normalize
    return _run(
        VARIANTS["drop_block2d"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        data_format,
        offset,
        global_shape,
        options,
    )


@_leaf
def drop_block3d(
    input: ArrayT,
    p: PLike,
    block_size: int | Sequence[int],
    training: bool = True,
    inplace: bool = False,
    *,
    data_format: str = "channels_first",
    share_channels: bool = False,
    normalize: str | None = "expected",
    generator: object = None,
    key: object = None,
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
) -> ArrayT:
    """DropBlock on 3-D feature maps: contiguous blocks of ``(N, C, D, H, W)`` are dropped.

    Parameters
    ----------
    input : array
        ``(N, C, D, H, W)`` or unbatched (no ``N``); ``data_format="channels_last"`` reads the
        channel axis last. Other ranks raise ``ValueError``.
    p, block_size, training, inplace, data_format, share_channels, normalize, generator, key
        As :func:`drop_block2d`.
    offset, global_shape
        As :func:`drop_block2d`.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError, ValueError
        As :func:`drop_block2d`.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> y = sd.drop_block3d(np.ones((2, 3, 8, 8, 8), dtype=np.float32), 0.2, 3, generator=0)
    >>> y.shape, bool((y >= 0).all())
    ((2, 3, 8, 8, 8), True)
    """
    options: dict[str, Any] = {"block_size": block_size, "share_channels": share_channels}
    options["normalize"] = normalize
    return _run(
        VARIANTS["drop_block3d"],
        input,
        p,
        training,
        inplace,
        generator,
        key,
        data_format,
        offset,
        global_shape,
        options,
    )


@_leaf
def dropout_mask(
    input: Array,
    p: float = 0.5,
    *,
    kind: str = "dropout2d",
    generator: object = None,
    key: object = None,
    data_format: str = "channels_first",
    offset: Sequence[Any] | None = None,
    global_shape: Sequence[int] | None = None,
    **options: Any,
) -> Any:
    """The boolean keep mask that ``kind(input, p, generator=generator)`` would draw.

    It has the mask shape of the rank table (``(N, C, 1, 1)`` for a 4-D ``dropout2d``) and
    broadcasts against ``input``. With :func:`apply_mask` it gives the forward pass and, applied
    to the incoming gradient, the backward pass of a hand-written model.

    Parameters
    ----------
    input : array
        The array the mask is for (its shape, library and device).
    p : float, default 0.5
        Probability of dropping an entry of the mask.
    kind : str, default "dropout2d"
        The function whose mask to draw: ``dropout``, ``dropout1d``, ``dropout2d``,
        ``dropout3d``, ``alpha_dropout``, ``feature_alpha_dropout``, ``drop_path`` or
        ``drop_block1d/2d/3d`` (the grown keep mask, in the input's layout).
    **options
        That function's own options (``shared_axes`` for ``dropout``; ``mode``,
        ``batch_axis`` for ``drop_path``).
    generator, key, data_format, offset, global_shape
        As :func:`dropout2d`; the mask advances a ``Generator`` as that call would. With
        ``offset``, the mask is ``input``'s part of the larger array's mask.

    Returns
    -------
    array
        A boolean array of the mask's shape on ``input``'s device: ``True`` where kept.

    Raises
    ------
    TypeError, ValueError
        A bad argument, named.

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
    variant = VARIANTS[v.check_choice(fn, "kind", kind, VARIANTS)]
    backend = backend_for(fn, input)
    for name in options:
        if name not in variant.options:
            v.unknown_option(fn, name, variant.options or (f"none for kind={kind!r}",))
    call = plan(
        variant,
        backend,
        input,
        p,
        True,
        False,
        generator,
        key,
        data_format,
        offset,
        global_shape,
        {k: o for k, o in options.items() if o is not None},
        fn=fn,
        values=False,
    )
    call = cast(Plan, call)  # a mask's plan always exists (values=False)
    if call.p == 0.0:  # everything kept, nothing drawn
        return backend.full(input, call.box, True)
    drawn = draw(call, backend, input)  # one draw, as the call would take
    if call.all_dropped or call.empty:
        return backend.full(input, call.box, False)
    return keep_mask(call, backend, input, drawn)


@_leaf
def apply_mask(input: ArrayT, mask: Any, p: float, inplace: bool = False) -> ArrayT:
    """``input * s`` where ``mask`` is True, exactly ``+0.0`` where it is False.

    ``s`` is PyTorch's rounded ``1 / (1 - p)`` for ``input``'s dtype. Use it with
    :func:`dropout_mask` for the forward pass, and on the gradient for the backward pass.

    Parameters
    ----------
    input : array
        A floating-point array.
    mask : array
        A boolean array of ``input``'s library that broadcasts to ``input`` (NumPy's rules:
        aligned to the trailing axes).
    p : float
        The dropout probability the mask was drawn with.
    inplace : bool, default False
        Write into ``input`` and return it.

    Returns
    -------
    array
        Same type, shape, dtype and device as ``input``.

    Raises
    ------
    TypeError
        ``input`` is not a floating-point array, or ``mask`` is not a boolean array.
    ValueError
        ``mask`` does not broadcast to ``input``; ``p`` outside ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np, spatial_dropout as sd
    >>> sd.apply_mask(np.array([1.0, np.inf]), np.array([True, False]), 0.5)
    array([2., 0.])
    """
    fn = "apply_mask"
    backend = backend_for(fn, input)
    backend.check_input(fn, input)
    prob = v.check_p(fn, p)
    in_place = v.check_bool(fn, "inplace", inplace)
    mant = backend.mantissa(input)
    if mant <= 0:
        v.not_floating(fn, input.dtype, mant < 0)
    if not backend.is_mask(input, mask):
        v.bad_mask_type(fn, mask)
    shape, mshape = tuple(input.shape), tuple(mask.shape)
    if len(mshape) > len(shape) or any(
        m not in (1, s) for m, s in zip(mshape[::-1], shape[::-1], strict=False)
    ):
        v.bad_mask(fn, mshape, shape)
    if in_place and (why := backend.why_not_writeable(input)) is not None:
        v.not_writeable(fn, why)
    out: ArrayT = backend.apply(input, mask, inverted_transform(prob, mant), in_place)
    return out
