"""CUDA checks, for a machine with an NVIDIA GPU.

Run ``python -m pytest tests/gpu tests/test_torch_opinfo.py -q``: the second file adds the
OpInfo classes on the ``cuda`` device (instantiated only where CUDA is present).

Skipped where torch has no CUDA device. They check that results stay on the device with their
dtype, that the default generator gives F.dropout2d's mask and kept values bit for bit on CUDA,
that ``Generator(seed)`` gives the same mask as NumPy, and that the portable generator path
makes no host synchronisation (``torch.cuda.set_sync_debug_mode("error")``).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require

torch = require("torch")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

import spatial_dropout as sd  # noqa: E402

F = torch.nn.functional
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
SHAPES = [(32, 3, 224, 224), (8, 256, 64, 64), (4, 512, 7, 7), (64, 224, 224)]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_device_dtype_and_parity_with_f_dropout2d(dtype, shape):
    x = torch.randn(shape, device="cuda").to(dtype)
    for gen in (None, 5, sd.Generator(5)):
        y = sd.dropout2d(x, 0.3, generator=gen)
        assert y.device == x.device
        assert y.dtype == dtype
        assert y.shape == x.shape
    if len(shape) != 4:
        return
    torch.manual_seed(11)
    ref = F.dropout2d(x, 0.3)
    torch.manual_seed(11)
    out = sd.dropout2d(x, 0.3)
    zero = ref == 0
    assert torch.equal(out[~zero], ref[~zero])
    assert (out[zero] == 0).all()
    assert not torch.signbit(out[zero]).any()


def test_portable_mask_equals_numpy():
    data = np.random.default_rng(0).standard_normal((8, 64, 4, 4)).astype(np.float32)
    ref = sd.dropout2d(data, 0.4, generator=sd.Generator(123))
    out = sd.dropout2d(torch.from_numpy(data).cuda(), 0.4, generator=sd.Generator(123))
    np.testing.assert_array_equal(out.cpu().numpy(), ref)


def test_no_host_synchronisation_in_the_portable_path():
    x = torch.randn(8, 64, 16, 16, device="cuda", requires_grad=True)
    sd.dropout2d(x, 0.3, generator=1)  # warm up: registers the op, loads kernels
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for fn in (sd.dropout, sd.dropout2d, sd.feature_alpha_dropout):
            y = fn(x, 0.3, True, generator=sd.Generator(2))
            y.sum().backward()
        sd.dropout2d(x.detach(), 0.3, generator=None)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
