"""The seed's options form: ``dropout2d(x, DropoutOptions(p=0.2))`` or a mapping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from . import _validation as v


@dataclass(frozen=True)
class DropoutOptions:
    """Options for the functional dropouts, for parity with the seed's ``options`` argument.

    ``training=None`` means the function's own default (``True`` for ``dropout*``, ``False``
    for the alpha variants). Keyword arguments remain the Python idiom.

    >>> import numpy as np, spatial_dropout as sd
    >>> x = np.ones((2, 3, 4, 4))
    >>> sd.dropout2d(x, sd.DropoutOptions(p=0.3, training=False)) is x
    True
    >>> sd.dropout2d(x, {"p": 0.3, "training": False}) is x
    True
    """

    p: float = 0.5
    training: bool | None = None
    inplace: bool = False


_KEYS = tuple(f.name for f in fields(DropoutOptions))


def unpack(fn: str, p: object, training: object, inplace: object) -> tuple[object, object, object]:
    """Resolve the options form into ``(p, training, inplace)``; other values pass through."""
    if type(p) is float or type(p) is int:
        return p, training, inplace
    if isinstance(p, DropoutOptions):
        opts: Mapping[str, Any] = {k: getattr(p, k) for k in _KEYS}
    elif isinstance(p, Mapping):
        unknown = sorted(set(p) - set(_KEYS), key=str)
        if unknown:
            v.unknown_option(fn, unknown[0], _KEYS)
        opts = p
    else:
        return p, training, inplace
    training = training if opts.get("training") is None else opts["training"]
    return opts.get("p", 0.5), training, opts.get("inplace", inplace)
