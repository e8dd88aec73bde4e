"""PyTorch tensors (CPU, CUDA): the portable generator in int64 words (torch's uint32 has no
arithmetic kernels)."""

from __future__ import annotations

from typing import Any

import array_api_compat as compat

from ._array_api import ArrayAPIBackend


class TorchBackend(ArrayAPIBackend):
    name = "torch.Tensor"

    @staticmethod
    def matches(x: object) -> bool:
        return bool(compat.is_torch_array(x))

    def word_dtype(self, xp: Any) -> Any:
        return xp.int64
