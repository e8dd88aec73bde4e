"""Which backend serves an array. Adding a framework is one file and one row of ``_TABLE``.

Every backend implements the contract of ``_plan.Backend``, with ``_contract.Defaults``.
Detection asks ``sys.modules``-based type tests that never import a framework: an array of a
framework that was never imported cannot exist.
"""

from __future__ import annotations

from .. import _validation as v
from .._plan import Backend
from ._array_api import ArrayAPIBackend
from ._dask import DaskBackend
from ._jax import JaxBackend
from ._numpy import NumPyBackend
from ._torch import TorchBackend

_TABLE: tuple[Backend, ...] = (
    NumPyBackend(),
    TorchBackend(),
    JaxBackend(),
    DaskBackend(),
    ArrayAPIBackend(),
)


def backend_for(fn: str, x: object) -> Backend:
    """The backend for ``x``; a ``TypeError`` naming ``fn`` if ``x`` is not a supported array."""
    for backend in _TABLE:
        if backend.matches(x):
            return backend
    v.not_an_array(fn, x)


__all__ = ["Backend", "backend_for"]
