"""Which backend serves an array. Adding a framework is one file and one row of ``_TABLE``.

Detection asks ``sys.modules``-based type tests that never import a framework: an array of a
framework that was never imported cannot exist.
"""

from __future__ import annotations

from ._array_api import ArrayAPIBackend
from ._jax import JaxBackend
from ._numpy import NumPyBackend
from ._torch import TorchBackend

_TABLE: tuple[type[ArrayAPIBackend], ...] = (
    NumPyBackend,
    TorchBackend,
    JaxBackend,
    ArrayAPIBackend,
)
_INSTANCES: dict[type[ArrayAPIBackend], ArrayAPIBackend] = {}


def backend_for(x: object) -> ArrayAPIBackend | None:
    """The backend for ``x``, or ``None`` if ``x`` is not an array we support."""
    for cls in _TABLE:
        if cls.matches(x):
            if cls not in _INSTANCES:
                _INSTANCES[cls] = cls()
            return _INSTANCES[cls]
    return None


__all__ = ["ArrayAPIBackend", "backend_for"]
