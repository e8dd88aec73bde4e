"""The engine: a call becomes one frozen :class:`Plan`, and one executor runs it.

Every decision of a call is made here, once, and read everywhere else: the resolved random
source, the variant's parameters and the rate its draw uses, the drawn mask's shape and the part
of it that ``input`` reads (``offset=``), the 32-bit threshold and the keeps-nothing case, and the
counter rule (a call in training with ``0 < p`` takes exactly one draw). A backend only draws
(portable words at logical indices, or its framework's own generator) and applies; it may offer
a fused path, which the executor asks first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Protocol, TypeVar

from . import _validation as v
from ._options import unpack
from ._random._generator import Generator
from ._random._source import DEFAULT, GLOBAL, Key, Native, Portable, Source, Stream
from ._scale import Transform, drop_threshold, keeps_nothing
from ._shapes import check_region, mask_box, region_needs_portable
from ._variants import Params, Shape, Variant, WindowAny


class Array(Protocol):
    @property
    def shape(self) -> Any: ...
    @property
    def dtype(self) -> Any: ...


ArrayT = TypeVar("ArrayT", bound=Array)
_NO_PARAMS: Params = {}


class Backend(Protocol):
    """The backend contract: one framework's arrays.

    The first eight members are what every backend implements; the rest have defaults
    (``_backends/_contract.Defaults``) that a backend may override. The engine has made every
    decision before it calls a backend: a backend never sorts generator kinds, computes
    thresholds or checks ``p``.

    Attributes
    ----------
    name : str
        The array type as users write it (``numpy.ndarray``), for error messages.
    default_stream : {"global", "native"}
        What ``generator=None`` draws from: the library's global ``Generator``, or the
        framework's own default (torch's generator; JAX has none and asks for a key).
    """

    name: str
    default_stream: Literal["global", "native"]

    @staticmethod
    def matches(x: object) -> bool:
        """Whether ``x`` is this backend's array (never imports a framework)."""

    def mantissa(self, x: Any) -> int:
        """Explicit mantissa bits of ``x``'s dtype (52, 23, 10, 7); -1 another float, 0 none."""

    def why_not_writeable(self, x: Any) -> str | None:
        """``None`` if ``x`` can be written in place, else what it is, for the message."""

    def portable_keep(
        self,
        x: Any,
        shape: Shape,
        starts: tuple[Any, ...],
        box: Shape,
        threshold: int,
        stream: Stream | Any,
    ) -> Any:
        """The ``box`` at ``starts`` of the portable keep mask of ``shape``, on ``x``'s device.

        Entry ``i`` (C order in ``shape``) is kept iff word ``i`` of ``stream`` is at least
        ``threshold`` (``< 2**32``). ``starts`` may hold traced integers.
        """

    def native_keep(
        self, fn: str, x: Any, shape: Shape, rate: float, generator: Any, drops: bool = False
    ) -> Any:
        """A keep mask of ``shape`` drawn from the framework's ``generator`` (None: default)."""

    def apply(self, x: Any, keep: Any, t: Transform, inplace: bool) -> Any:
        """Apply ``t`` under a boolean ``keep`` that broadcasts to ``x``."""

    # ---- optional: Defaults implements each

    max_entries: int

    @property
    def remember(self) -> bool: ...
    @property
    def window_any(self) -> WindowAny | None: ...
    @property
    def take(self) -> Callable[[str, Portable], Stream | Any] | None: ...

    def size(self, x: Any) -> int: ...
    def check_input(self, fn: str, x: Any) -> None: ...
    @property
    def check_generator(self) -> Callable[[str, Any], None] | None: ...
    def native_source(self, generator: object) -> Source | None: ...
    def fused(self, x: Any, plan: Plan, drawn: Stream | Any, t: Transform | None) -> Any: ...
    def is_mask(self, x: Any, mask: object) -> bool: ...
    def zeros(self, x: Any, inplace: bool) -> Any: ...
    def full(self, x: Any, shape: Shape, value: bool) -> Any: ...


class Plan(NamedTuple):
    """Everything a call does, decided before anything is drawn.

    Immutable: a named tuple, built in a fraction of a frozen dataclass's time on every call.

    Attributes
    ----------
    fn : str
        The public name, for messages.
    variant, params
        What to do (see :class:`~spatial_dropout._variants.Variant`), with its own arguments.
    p, rate : float
        The caller's rate, and the rate each drawn entry is dropped with.
    threshold : int
        Drawn words below it are dropped (``round(rate * 2**32)``).
    keeps_nothing : bool
        The portable draw keeps no entry (``rate`` rounds to 1 in 32 bits).
    all_dropped : bool
        ``p == 1``: the result is all zeros, whatever is drawn.
    shape : tuple of int
        The drawn mask's shape, of the whole (global) array.
    starts, box : tuple
        Where ``input``'s part of that mask starts (maybe traced) and its shape.
    whole : bool
        ``input`` reads the whole mask (no ``offset``/``global_shape``).
    source : Source
        The resolved ``generator``/``key``.
    portable : bool
        Drawn from the portable stream (not a framework's own generator).
    generator : object
        Not portable: the framework's generator to draw from (None: its default one).
    mantissa : int
        Explicit mantissa bits of ``input``'s dtype.
    empty : bool
        ``input`` has no entries: it returns as it is (after the draw).
    fixed : Transform or None
        The transform, where it does not depend on the mask (a variant that grows none).
    crop : tuple of slice or None
        A grown mask of a shard: where the shard lies in what its drawn part grows into.
    inplace : bool
        Write into ``input``.
    """

    fn: str
    variant: Variant
    params: Params
    p: float
    rate: float
    threshold: int
    keeps_nothing: bool
    all_dropped: bool
    shape: Shape
    starts: tuple[Any, ...]
    box: Shape
    whole: bool
    source: Source
    portable: bool
    generator: Any
    mantissa: int
    inplace: bool
    empty: bool
    fixed: Transform | None
    crop: tuple[slice, ...] | None = None

    def transform(self, keep: Any) -> Transform:
        """The variant's transform of the grown mask ``keep``."""
        return self.variant.transform(self.p, self.mantissa, keep, self.params)


def resolve(fn: str, generator: object, key: object, backend: Backend, x: object) -> Source:
    """Turn ``generator``/``key`` into a :data:`Source` for ``backend``, or raise naming ``fn``.

    Runs on every call, also where no mask is drawn (eval, ``p`` of 0 or 1), so that a bad
    generator is never accepted silently. Messages name the argument the caller wrote.
    """
    name = "generator"
    if key is not None:
        if generator is not None:
            v.generator_and_key(fn)
        generator, name = key, "key"
    if generator is None:
        return GLOBAL if backend.default_stream == "global" else DEFAULT
    if isinstance(generator, Generator):
        if backend.check_generator is not None:  # a stateful Generator may not advance here
            backend.check_generator(fn, x)
        return Portable(generator)
    if isinstance(generator, int) and not isinstance(generator, bool):
        return Portable(v.check_seed(fn, generator, name, " (an int seed)"))
    native = backend.native_source(generator)
    if native is None:
        v.bad_generator(fn, name, generator, backend.name)
    return native


def plan(
    variant: Variant,
    backend: Backend,
    x: Array,
    p: object,
    training: object,
    inplace: object,
    generator: object,
    key: object,
    data_format: object = "channels_first",
    offset: object = None,
    global_shape: object = None,
    params: Params = _NO_PARAMS,
    fn: str | None = None,
    values: bool = True,
) -> Plan | None:
    """Validate every argument and decide the call; None where nothing is drawn (``x`` returns).

    Validation runs on every call, also in eval and at ``p == 0``. ``values=False`` plans a
    mask alone (``dropout_mask``): any dtype, and a plan also at ``p == 0``.
    """
    fn = fn or variant.name
    backend.check_input(fn, x)
    if type(p) is not float:  # the options form (a float needs no unpacking)
        p, training, inplace = unpack(fn, p, training, inplace)
    source = resolve(fn, generator, key, backend, x)
    prob = v.check_p(fn, p)
    train = v.check_bool(fn, "training", training)
    in_place = v.check_bool(fn, "inplace", inplace)
    fmt = v.check_data_format(fn, data_format)
    shape = tuple(x.shape)
    whole = offset is None and global_shape is None
    if whole:
        starts, full = (0,) * len(shape), shape
    else:
        starts, full = check_region(fn, shape, offset, global_shape)
    portable = not isinstance(source, Native)
    if not whole and not portable:
        region_needs_portable(fn)
    given = params
    if variant.params is not None:  # the variant's own check, which may read data_format
        given = variant.params(fn, full, {**params, "data_format": fmt, "split": not whole})
    if values and (not train or prob == 0.0):
        return None
    mant = backend.mantissa(x)
    empty = backend.size(x) == 0
    if values and not empty:  # an empty array returns as it is, whatever its dtype
        if mant <= 0:
            v.not_floating(fn, x.dtype, mant < 0)
        if in_place and (why := backend.why_not_writeable(x)) is not None:
            v.not_writeable(fn, why)
    crop = None
    if not whole and variant.grow is not None:
        if variant.region is None or not all(isinstance(o, int) for o in starts):
            v.not_for_variant(fn, "offset", "drawn masks, and integer offsets of grown ones")
        given = {**given, "starts": starts, "local_shape": shape}
    mask, rate, threshold, nothing, entries, fixed = _decide(
        variant, full, fmt, given, prob, mant, backend.remember
    )
    if whole:
        at, box = starts, mask
    elif variant.region is not None and variant.grow is not None:
        at, box, crop = variant.region(full, fmt, given, starts, shape)
    else:
        at, box = mask_box(mask, starts, shape)
    if portable and entries > backend.max_entries:
        v.too_many_entries(fn, entries, backend.max_entries)
    native = None if portable else source.generator  # type: ignore[union-attr]
    if not values or empty:
        fixed = None
    return Plan(
        fn,
        variant,
        given,
        prob,
        rate,
        threshold,
        nothing,
        prob == 1.0,
        mask,
        at,
        box,
        whole,
        source,
        portable,
        native,
        mant,
        in_place,
        empty,
        fixed,
        crop,
    )


Decision = tuple[Shape, float, int, bool, int, Transform | None]
_DECIDED: dict[tuple[Any, ...], Decision] = {}  # the common call's decisions, by its arguments


def _decide(
    variant: Variant, full: Shape, fmt: str, given: Params, p: float, mant: int, remember: bool
) -> Decision:
    """``(mask shape, draw rate, threshold, keeps nothing, mask entries, fixed transform)``.

    A pure function of its arguments: remembered (up to 4096 calls' worth) where the shape and
    the parameters hash.
    """
    key: tuple[Any, ...] | None = None
    if remember:  # (not while a compiler traces: it would guard on the table's contents)
        key = (variant.name, full, fmt, p, mant, *given.items())
    try:
        hit = _DECIDED.get(key) if key is not None else None
    except TypeError:  # symbolic sizes (make_fx, torch.compile), unhashable parameters
        key = hit = None
    if hit is not None:
        return hit
    mask = variant.mask_shape(full, fmt, given)
    rate = variant.rate(p, full, given) if variant.rate is not None else p
    fixed = None
    if variant.grow is None and p < 1.0 and mant > 0:
        fixed = variant.transform(p, mant, None, given)
    threshold = drop_threshold(rate)
    decided = (mask, rate, threshold, keeps_nothing(threshold), math.prod(mask), fixed)
    if key is not None:
        if len(_DECIDED) >= 4096:
            _DECIDED.clear()
        _DECIDED[key] = decided
    return decided


def draw(plan: Plan, backend: Backend, x: Any) -> Stream | Any:
    """The call's one portable draw; None where the framework's own generator draws.

    A :class:`Stream` (a ``Generator`` advances by one), or what the backend's ``take`` gives
    (torch: a state tensor in a graph). A framework's own generator is drawn from by the
    backend, as its framework does.
    """
    source = plan.source
    if isinstance(source, Native):
        return None
    if isinstance(source, Key):
        return source.stream()
    if backend.take is None:
        return source.draw()
    return backend.take(plan.fn, source)


def keep_mask(plan: Plan, backend: Backend, x: Any, drawn: Stream | Any) -> Any:
    """``input``'s part of the drawn keep mask, grown where the variant grows one."""
    if not plan.portable:
        drops = plan.variant.native_drops
        keep = backend.native_keep(plan.fn, x, plan.shape, plan.rate, plan.generator, drops)
    elif plan.keeps_nothing:
        keep = backend.full(x, plan.box, False)
    else:
        keep = backend.portable_keep(x, plan.shape, plan.starts, plan.box, plan.threshold, drawn)
    grow = plan.variant.grow
    if grow is None:
        return keep
    grown = grow(keep, tuple(x.shape), plan.params, backend.window_any or window_any)
    return grown if plan.crop is None else grown[plan.crop]


def execute(plan: Plan, backend: Backend, x: ArrayT) -> ArrayT:
    """Run ``plan`` on ``x``: one draw, then the backend's fused path or draw-and-apply."""
    source = plan.source
    if not plan.portable:
        drawn = None  # the framework's generator: the backend draws, as its framework does
    elif backend.take is None and type(source) is Portable:
        drawn = source.draw()
    else:
        drawn = draw(plan, backend, x)
    out: ArrayT
    if plan.all_dropped:  # as PyTorch: all zeros, no inf from 1 / (1 - p)
        out = backend.zeros(x, plan.inplace)
        return out
    fused = backend.fused(x, plan, drawn, plan.fixed)
    if fused is not None:
        out = fused
        return out
    keep = keep_mask(plan, backend, x, drawn)
    t = plan.fixed if plan.fixed is not None else plan.transform(keep)
    out = backend.apply(x, keep, t, plan.inplace)
    return out


def window_any(dropped: Any, block: Shape) -> Any:
    """The array-API window maximum of a boolean mask: see :data:`~._variants.WindowAny`.

    Separable: one pass per axis, each an OR of ``block[k]`` shifted slices of the padded mask.
    """
    import array_api_compat as compat

    xp = compat.array_namespace(dropped)
    out = dropped
    for axis, b in enumerate(block):
        if b <= 1:
            continue
        pad_shape = list(out.shape)
        pad_shape[axis] = b - 1
        pad = xp.zeros(tuple(pad_shape), dtype=xp.bool, device=compat.device(out))
        padded = xp.concat([pad, out, pad], axis=axis)
        n = out.shape[axis] + b - 1
        grown = None
        for j in range(b):
            index = tuple(slice(j, j + n) if d == axis else slice(None) for d in range(out.ndim))
            part = padded[index]
            grown = part if grown is None else grown | part
        out = grown
    return out
