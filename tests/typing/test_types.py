"""Static checks, run by mypy in CI (``mypy tests/typing``); at run time, assert_type is a no-op.

The same-type-out contract: a NumPy array in gives a NumPy array out, a tensor a tensor.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from typing_extensions import assert_type

import spatial_dropout as sd


def test_numpy_in_numpy_out() -> None:
    x: npt.NDArray[np.float32] = np.ones((2, 3, 4, 4), dtype=np.float32)
    assert_type(sd.dropout2d(x, 0.5, generator=0), npt.NDArray[np.float32])
    assert_type(sd.dropout(x, 0.5, generator=0), npt.NDArray[np.float32])
    mask = sd.dropout_mask(x, 0.5, generator=0)
    assert_type(sd.apply_mask(x, mask, 0.5), npt.NDArray[np.float32])
    assert_type(sd.Generator(1), sd.Generator)


def test_torch_in_torch_out() -> None:
    import pytest

    pytest.importorskip("torch")
    import torch

    t = torch.ones(2, 3, 4, 4)
    assert_type(sd.dropout2d(t, 0.5), torch.Tensor)
    assert_type(sd.feature_alpha_dropout(t, 0.5, True), torch.Tensor)
