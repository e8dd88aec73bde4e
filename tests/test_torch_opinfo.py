# ruff: noqa: PT009  (torch's TestCase: assertEqual compares tensors as torch's own OpInfo tests do)
"""PyTorch's own test machinery on our ops: torch's OpInfo entries with only the op swapped.

The OpInfos of ``nn.functional.dropout``, ``dropout2d``, ``dropout3d``, ``alpha_dropout`` and
``feature_alpha_dropout`` (and, for ``dropout1d``, which torch has none for, the dropout2d entry
with 2-D and 3-D samples) from ``torch.testing._internal.common_methods_invocations``, each
call seeded by torch's ``wrapper_set_seed``. The gradient classes are torch's
``TestGradients`` helpers (gradcheck with batched gradients, gradgradcheck, forward-mode AD,
forward-over-reverse); the common, math-bit and fake-tensor checks follow torch's
``TestCommon``, ``TestMathBits`` and ``TestFakeTensor`` (test/test_ops.py is not shipped in the
wheel, so their checks are restated here over the same samples).
"""

from __future__ import annotations

import copy
import functools
import unittest
import warnings
from typing import Any

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch.testing._internal.common_device_type import (  # noqa: E402
    OpDTypes,
    instantiate_device_type_tests,
    ops,
)
from torch.testing._internal.common_methods_invocations import (  # noqa: E402
    op_db,
    sample_inputs_dropout,
    wrapper_set_seed,
)
from torch.testing._internal.common_utils import TestCase, TestGradients  # noqa: E402

import spatial_dropout as sd  # noqa: E402

# torch's forward-AD gradcheck scripts a helper with torch.jit.script, deprecated in 2.13
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")


def _entry(name: str, variant: str = "") -> Any:
    return next(o for o in op_db if o.name == name and o.variant_test_name == variant)


def _ours(fn: Any, theirs: Any, name: str, **samples: Any) -> Any:
    """Torch's OpInfo ``theirs`` with our ``fn`` as the op and as the in-place variant."""
    info = copy.copy(theirs)
    info.name = f"sd.{name}"
    info.op = lambda input, *a, **k: wrapper_set_seed(fn, input, *a, **k)
    info.inplace_variant = lambda input, *a, **k: wrapper_set_seed(fn, input, *a, **k, inplace=True)
    info.torch_op = theirs.op
    info.skips, info.decorators = (), ()  # torch's marks are for torch's kernels, not ours
    if samples:
        info.sample_inputs_func = functools.partial(sample_inputs_dropout, **samples)
    return info


OPS = [
    _ours(sd.dropout, _entry("nn.functional.dropout"), "dropout"),
    _ours(sd.dropout1d, _entry("nn.functional.dropout2d"), "dropout1d", valid_input_dim=(2, 3)),
    _ours(sd.dropout2d, _entry("nn.functional.dropout2d"), "dropout2d"),
    _ours(sd.dropout3d, _entry("nn.functional.dropout3d"), "dropout3d"),
    _ours(sd.alpha_dropout, _entry("nn.functional.alpha_dropout"), "alpha_dropout"),
    _ours(
        sd.feature_alpha_dropout,
        _entry("nn.functional.feature_alpha_dropout", "with_train"),
        "feature_alpha_dropout",
    ),
]
FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _torch_twin(op: Any) -> Any:
    """Torch's own function for our op (dropout1d: F.dropout1d)."""
    if op.name == "sd.dropout1d":
        return lambda input, *a, **k: wrapper_set_seed(F.dropout1d, input, *a, **k)
    return op.torch_op


def _differs_by_design(op: Any, sample: Any) -> bool:
    """Our documented semantics: an unbatched (C, H, W) input to dropout2d drops channels."""
    return op.name == "sd.dropout2d" and sample.input.dim() == 3


class TestCommon(TestCase):
    """torch's TestCommon checks that apply to a random op (seeded), on our ops."""

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=FLOATS)
    def test_matches_torch_bit_for_bit(self, device: str, dtype: Any, op: Any) -> None:
        if device.startswith("cuda") and op.name == "sd.dropout":
            self.skipTest("torch's CUDA dropout draws with a fused kernel, not bernoulli_")
        twin = _torch_twin(op)
        for sample in op.sample_inputs(device, dtype):
            if _differs_by_design(op, sample):
                continue  # test_matches_torch_3d_dropout2d
            ours = op(sample.input, *sample.args, **sample.kwargs)
            theirs = twin(sample.input, *sample.args, **sample.kwargs)
            self.assertEqual(ours, theirs, atol=0, rtol=0, exact_dtype=True)

    # Expected failure, by design (SPEC, upstream torch issues #69801 and #77081): torch drops
    # the rows of a 3-D input to dropout2d, as (N, C, L), and warns; we drop its channels.
    @unittest.expectedFailure
    @ops([o for o in OPS if o.name == "sd.dropout2d"], dtypes=OpDTypes.any_one)
    def test_matches_torch_3d_dropout2d(self, device: str, dtype: Any, op: Any) -> None:
        samples = [s for s in op.sample_inputs(device, dtype) if _differs_by_design(op, s)]
        self.assertTrue(samples)
        for sample in samples:
            ours = op(sample.input, *sample.args, **sample.kwargs)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # torch's 3-D warning
                theirs = op.torch_op(sample.input, *sample.args, **sample.kwargs)
            self.assertEqual(ours, theirs, atol=0, rtol=0)

    @ops([o for o in OPS if o.name == "sd.dropout2d"], dtypes=OpDTypes.any_one)
    def test_3d_dropout2d_drops_channels(self, device: str, dtype: Any, op: Any) -> None:
        ours = op(torch.ones(5, 5, 5, device=device, dtype=dtype), p=0.5, training=True)
        planes = ours.reshape(5, -1)
        self.assertTrue(bool(((planes == 0).all(1) | (planes == 2).all(1)).all()))

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=FLOATS)
    def test_noncontiguous_samples(self, device: str, dtype: Any, op: Any) -> None:
        for sample in op.sample_inputs(device, dtype, requires_grad=dtype.is_floating_point):
            nc = sample.noncontiguous()
            expected = op(sample.input, *sample.args, **sample.kwargs)
            actual = op(nc.input, *nc.args, **nc.kwargs)
            self.assertEqual(actual, expected, atol=0, rtol=0)
            grad = torch.randn_like(expected)
            (g1,) = torch.autograd.grad(expected, sample.input, grad, allow_unused=True)
            (g2,) = torch.autograd.grad(actual, nc.input, grad, allow_unused=True)
            self.assertEqual(g1, g2, atol=0, rtol=0)

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=FLOATS)
    def test_variant_consistency_eager(self, device: str, dtype: Any, op: Any) -> None:
        for sample in op.sample_inputs(device, dtype):
            expected = op(sample.input, *sample.args, **sample.kwargs)
            target = sample.input.clone()
            out = op.inplace_variant(target, *sample.args, **sample.kwargs)
            self.assertEqual(out, expected, atol=0, rtol=0)
            if out is not sample.input:  # training=False or p=0 return the input itself
                self.assertIs(out, target)


class TestMathBits(TestCase):
    """torch's test_neg_view: a tensor with the negative bit equals its materialised value."""

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=(torch.float32, torch.float64))
    def test_neg_view(self, device: str, dtype: Any, op: Any) -> None:
        for sample in op.sample_inputs(device, dtype, requires_grad=True):
            leaf = sample.input.detach().clone().requires_grad_()
            expected = op(-leaf, *sample.args, **sample.kwargs)
            neg = torch._neg_view(leaf)
            self.assertTrue(neg.is_neg())
            actual = op(neg, *sample.args, **sample.kwargs)
            self.assertEqual(actual, expected, atol=0, rtol=0)
            grad = torch.randn_like(expected)
            (g1,) = torch.autograd.grad(expected, leaf, grad, allow_unused=True)
            (g2,) = torch.autograd.grad(actual, leaf, grad, allow_unused=True)
            self.assertEqual(g1, g2, atol=0, rtol=0)


class TestBwdGradients(TestGradients):
    """torch's TestBwdGradients: gradcheck (batched gradients on) and gradgradcheck."""

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=(torch.double,))
    def test_fn_grad(self, device: str, dtype: Any, op: Any) -> None:
        self.assertTrue(op.check_batched_grad)
        self._grad_test_helper(device, dtype, op, op.get_op())

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=(torch.double,))
    def test_inplace_grad(self, device: str, dtype: Any, op: Any) -> None:
        self._grad_test_helper(device, dtype, op, self._get_safe_inplace(op.get_inplace()))

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=(torch.double,))
    def test_fn_gradgrad(self, device: str, dtype: Any, op: Any) -> None:
        self._check_helper(device, dtype, op, op.get_op(), "bwgrad_bwgrad")


class TestFwdGradients(TestGradients):
    """torch's TestFwdGradients: forward-mode AD, in place too, and forward-over-reverse."""

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=(torch.double,))
    def test_forward_mode_AD(self, device: str, dtype: Any, op: Any) -> None:
        self._grad_test_helper(
            device,
            dtype,
            op,
            op.get_op(),
            check_forward_ad=True,
            check_backward_ad=False,
            check_batched_grad=False,
        )

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=(torch.double,))
    def test_inplace_forward_mode_AD(self, device: str, dtype: Any, op: Any) -> None:
        variant = self._get_safe_inplace(op.get_inplace())
        self._grad_test_helper(
            device,
            dtype,
            op,
            variant,
            check_forward_ad=True,
            check_backward_ad=False,
            check_batched_grad=False,
        )

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=(torch.double,))
    def test_fn_fwgrad_bwgrad(self, device: str, dtype: Any, op: Any) -> None:
        self._check_helper(device, dtype, op, op.get_op(), "fwgrad_bwgrad")


class TestFakeTensor(TestCase):
    """torch's TestFakeTensor: under FakeTensorMode, the outputs' metadata equal the real ones."""

    @ops(OPS, dtypes=OpDTypes.supported, allowed_dtypes=FLOATS)
    def test_fake(self, device: str, dtype: Any, op: Any) -> None:
        from torch._subclasses.fake_tensor import FakeTensorMode

        for sample in op.sample_inputs(device, dtype):
            real = op(sample.input, *sample.args, **sample.kwargs)
            mode = FakeTensorMode()
            fake_input = mode.from_tensor(sample.input)
            with mode:
                fake = op(fake_input, *sample.args, **sample.kwargs)
            for attr in ("shape", "dtype", "device", "requires_grad"):
                self.assertEqual(getattr(fake, attr), getattr(real, attr))
            if real.numel():
                self.assertEqual(fake.stride(), real.stride())


for _cls in (TestCommon, TestMathBits, TestBwdGradients, TestFwdGradients, TestFakeTensor):
    instantiate_device_type_tests(_cls, globals(), only_for=("cpu", "cuda"))  # cuda: if present
