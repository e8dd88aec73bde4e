"""torchvision and timm for the parity tests, imported beside the CPU build of torch we test on.

The registry's torchvision 0.28.0 is a CUDA build whose compiled ``_C.so`` cannot load beside
torch 2.13.0+cpu: its import then fails in ``torch.library.register_fake`` for operators the
library never registered ("operator torchvision::nms does not exist"). Its pure-Python parts
(``ops.drop_block2d``, ``ops.stochastic_depth``, ``models``) need none of them, so the import
runs with a ``register_fake`` that skips a registration for a missing operator, then puts the
real one back. timm imports torchvision, so it is imported the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

from conftest import require


def _missing(error: RuntimeError) -> bool:
    return "does not exist" in str(error)


@contextlib.contextmanager
def _fake_registrations_of_missing_ops_skipped() -> Iterator[None]:
    import torch.library

    real = torch.library.register_fake

    def lenient(op: Any, func: Callable[..., Any] | None = None, /, **kwargs: Any) -> Any:
        try:
            registered = real(op, func, **kwargs) if func is not None else real(op, **kwargs)
        except RuntimeError as error:
            if not _missing(error):
                raise
            return func if func is not None else (lambda f: f)
        if func is not None:
            return registered

        def decorate(f: Callable[..., Any]) -> Any:
            try:
                return registered(f)
            except RuntimeError as error:
                if not _missing(error):
                    raise
                return f

        return decorate

    torch.library.register_fake = lenient
    try:
        yield
    finally:
        torch.library.register_fake = real


def import_peer(name: str) -> Any:
    """``torchvision`` or ``timm`` (or a submodule), or skip where absent (fail in CI)."""
    require("torch")
    if "torchvision" not in sys.modules:
        # (a matching build: the hook changes nothing; absent: require() below says so)
        with _fake_registrations_of_missing_ops_skipped(), contextlib.suppress(ImportError):
            importlib.import_module("torchvision")
    return require(name)
