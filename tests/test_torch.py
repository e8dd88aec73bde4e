"""PyTorch: drop-in parity with F.dropout2d, the three fixed defects, autograd, compile, modules."""

from __future__ import annotations

import copy
import io
import pickle
import warnings

import pytest

from conftest import require

torch = require("torch")
F = torch.nn.functional

import spatial_dropout as sd  # noqa: E402
from spatial_dropout import torch as sdt  # noqa: E402

SEED_SHAPES = [
    (32, 3, 224, 224),
    (16, 64, 32, 32),
    (8, 256, 64, 64),
    (4, 64, 56, 56),
    (4, 512, 7, 7),
    (32, 128, 32, 32),
    (8, 256, 7, 7),
    (32, 64, 56, 56),
]
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
INT_VIEW = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def _bits(t):
    return t.contiguous().view(INT_VIEW[t.element_size()])


def assert_parity(out, ref):
    """Bit for bit where torch is nonzero; exactly +0.0 where torch has a zero of either sign."""
    assert out.dtype == ref.dtype
    assert out.shape == ref.shape
    zero = ref == 0
    assert torch.equal(_bits(out[~zero]), _bits(ref[~zero]))
    assert (_bits(out[zero]) == 0).all()


@pytest.mark.parametrize("shape", SEED_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_default_generator_matches_f_dropout2d(shape, dtype):
    p = 0.2 if shape[0] % 2 else 0.5
    x = torch.randn(shape, dtype=torch.float32).to(dtype)
    # a kept -0.0 stays -0.0 in both: no zero input (randn underflows to one in float16 about
    # once in ten draws of (32, 3, 224, 224), and assert_parity wants +0.0 wherever torch has 0)
    x[x == 0] = 1
    torch.manual_seed(1234)
    ref = F.dropout2d(x, p)
    torch.manual_seed(1234)
    out = sd.dropout2d(x, p)
    assert_parity(out, ref)
    # and it consumed torch's default generator exactly as F.dropout2d does
    after = torch.get_rng_state()
    torch.manual_seed(1234)
    F.dropout2d(x, p)
    assert torch.equal(after, torch.get_rng_state())


@pytest.mark.parametrize(
    ("ours", "theirs", "shape"),
    [
        (sd.dropout, F.dropout, (4, 8, 5)),
        (sd.dropout1d, F.dropout1d, (4, 8, 5)),
        (sd.dropout3d, F.dropout3d, (2, 4, 3, 3, 3)),
        (sd.alpha_dropout, F.alpha_dropout, (4, 8, 5)),
        (sd.feature_alpha_dropout, F.feature_alpha_dropout, (4, 8, 5, 5)),
    ],
)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_family_matches_torch_bit_for_bit(ours, theirs, shape, dtype):
    x = (torch.randn(shape) * 3).to(dtype)
    torch.manual_seed(7)
    ref = theirs(x, 0.3, True)
    torch.manual_seed(7)
    out = ours(x, 0.3, True)
    assert_parity(out, ref)


def test_defect_3d_input_drops_channels_not_rows():
    x = torch.ones(16, 8, 8)  # (C, H, W)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.manual_seed(0)
        theirs = F.dropout2d(x, 0.5)
    assert any("3D input to dropout2d" in str(w.message) for w in caught)
    # torch read it as (N, C, L): rows of a channel have different fates
    rows_dropped = (theirs == 0).all(dim=2)
    assert (rows_dropped.any(dim=1) & ~rows_dropped.all(dim=1)).any()
    ours = sd.dropout2d(x, 0.5, generator=torch.Generator().manual_seed(0))
    dropped = (ours == 0).all(dim=(1, 2))
    assert torch.equal(dropped | (ours == 2).all(dim=(1, 2)), torch.ones(16, dtype=torch.bool))
    assert 0 < dropped.sum() < 16


def test_defect_inf_becomes_nan_forward_and_backward():
    x = torch.full((4, 64, 2, 2), float("inf"), requires_grad=True)
    torch.manual_seed(0)
    theirs = F.dropout2d(x, 0.5)
    assert theirs.isnan().any()  # torch: inf * 0 = NaN on dropped channels
    torch.manual_seed(0)
    ours = sd.dropout2d(x, 0.5)
    dropped = ours.detach() == 0
    assert dropped.any()
    assert not ours.isnan().any()
    assert (_bits(ours.detach()[dropped]) == 0).all()
    grad = torch.full_like(x, float("nan"))
    (gx,) = torch.autograd.grad(ours, x, grad)
    assert (_bits(gx[dropped]) == 0).all()  # exactly 0 where dropped, even for NaN upstream
    (gt,) = torch.autograd.grad(theirs, x, grad)
    assert gt.isnan().all()


def test_defect_generator_argument():
    x = torch.ones(8, 32, 2, 2)
    with pytest.raises(TypeError):
        F.dropout2d(x, 0.5, generator=torch.Generator())  # torch takes none
    a = sd.dropout2d(x, 0.5, generator=torch.Generator().manual_seed(3))
    b = sd.dropout2d(x, 0.5, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_gradient_values(p):
    x = torch.randn(4, 32, 3, 3, dtype=torch.float32, requires_grad=True)
    y = sd.dropout2d(x, p, generator=5)
    g = torch.randn_like(x)
    g[0, 0, 0, 0] = float("inf")
    (gx,) = torch.autograd.grad(y, x, g)
    keep = sd.dropout_mask(x.detach(), p, generator=5)
    s = torch.tensor(1.0) / torch.tensor(1 - p, dtype=torch.float32)
    expected = torch.where(keep, g * s, torch.zeros(()))
    assert torch.equal(_bits(gx), _bits(expected))


@pytest.mark.parametrize(
    "fn", [sd.dropout, sd.dropout2d, sd.alpha_dropout, sd.feature_alpha_dropout]
)
def test_gradcheck_and_gradgradcheck(fn):
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)

    def f(t):
        return fn(t, 0.4, True, generator=sd.Generator(3))

    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


def test_p_one_gradient_is_zero_not_nan():
    x = torch.full((2, 3, 4, 4), float("inf"), requires_grad=True)
    y = sd.dropout2d(x, 1.0)
    assert (_bits(y.detach()) == 0).all()
    (gx,) = torch.autograd.grad(y.sum(), x)
    assert (_bits(gx) == 0).all()


def test_inplace_on_leaf_requiring_grad_is_refused_and_untouched():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    before = x.detach().clone()
    with pytest.raises(
        ValueError, match=r"leaf torch\.Tensor that requires grad cannot be written"
    ):
        sd.dropout2d(x, 0.5, inplace=True)
    assert torch.equal(x.detach(), before)


def test_inplace_on_non_leaf_works_with_autograd():
    w = torch.randn(2, 3, 4, 4, requires_grad=True)
    h = w * 2
    out = sd.dropout2d(h, 0.5, inplace=True, generator=4)
    assert out is h
    out.sum().backward()
    keep = sd.dropout_mask(h.detach(), 0.5, generator=4)
    assert torch.equal(w.grad, torch.where(keep, torch.tensor(4.0), torch.tensor(0.0)).expand_as(w))


@pytest.mark.parametrize("grad", [False, True])
def test_inplace_bumps_the_version_counter_as_torch_does(grad):
    """Writing through the tensors' memory must still tell autograd: overwriting a tensor that
    a backward pass needs is an error, as with F.dropout2d(inplace=True)."""
    for dropout in (F.dropout2d, sd.dropout2d):
        w = torch.randn(2, 3, 4, 4, requires_grad=grad)
        y = w.exp() if grad else w.detach().clone()
        before = y._version
        dropout(y, 0.5, inplace=True)
        assert y._version > before
        if grad:
            with pytest.raises(RuntimeError, match="modified by an inplace operation"):
                y.sum().backward()


def test_channels_last_memory_format_and_device_kept():
    x = torch.randn(4, 8, 5, 5).to(memory_format=torch.channels_last)
    for gen in (None, 3):
        y = sd.dropout2d(x, 0.5, generator=gen)
        assert y.is_contiguous(memory_format=torch.channels_last)
        assert y.device == x.device
    z = sd.dropout2d(x, 0.5, generator=3)
    assert torch.equal(z, sd.dropout2d(x.contiguous(), 0.5, generator=3))


def test_meta_device():
    x = torch.empty(4, 8, 5, 5, device="meta")
    for gen in (None, 3):
        y = sd.dropout2d(x, 0.5, generator=gen)
        assert y.device.type == "meta"
        assert y.shape == x.shape


def test_torch_compile_fullgraph_matches_eager():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

        def forward(self, x):
            return sd.dropout2d(torch.relu(self.conv(x)) + 1, 0.3, generator=1234)

    net = Net()
    x = torch.randn(2, 3, 8, 8)
    compiled = torch.compile(net, fullgraph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Dynamo's notes on tracing array-api-compat's caches
        out = compiled(x)
        exact = torch.compile(lambda t: sd.dropout2d(t, 0.3, generator=1234), fullgraph=True)
        y = torch.randn(4, 16, 3, 3)
        assert torch.equal(_bits(exact(y)), _bits(sd.dropout2d(y, 0.3, generator=1234)))
    eager = net(x)
    assert torch.equal(out == 0, eager == 0)  # the same mask (relu + 1 is never 0)
    assert 0 < (eager == 0).sum() < eager.numel()
    torch.testing.assert_close(out, eager)  # Inductor's conv may round differently
    # the default generator compiles too (Inductor draws its own stream, as for F.dropout2d)
    f = torch.compile(lambda t: sd.dropout2d(t, 0.5), fullgraph=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = f(torch.ones(4, 16, 2, 2))
    assert set(y.unique().tolist()) <= {0.0, 2.0}


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (sdt.Dropout, torch.nn.Dropout),
        (sdt.Dropout1d, torch.nn.Dropout1d),
        (sdt.Dropout2d, torch.nn.Dropout2d),
        (sdt.Dropout3d, torch.nn.Dropout3d),
        (sdt.AlphaDropout, torch.nn.AlphaDropout),
        (sdt.FeatureAlphaDropout, torch.nn.FeatureAlphaDropout),
    ],
)
def test_modules_print_like_torch_and_round_trip(ours, theirs):
    assert repr(ours(0.3, True)) == repr(theirs(0.3, True))
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), ours(0.3))
    assert model[1].training
    model.eval()
    assert not model[1].training
    x = torch.randn(2, 4)
    assert torch.equal(model(x), model[0](x))
    clone = pickle.loads(pickle.dumps(model))
    assert repr(clone) == repr(model)
    assert not clone[1].training
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 4), ours(0.3))
    fresh.load_state_dict(torch.load(buf))
    assert copy.deepcopy(fresh)[1].p == 0.3


def test_module_follows_train_eval_in_a_cnn():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), sdt.Dropout2d(0.5, generator=0))
    x = torch.randn(2, 3, 6, 6)
    y = model(x)
    planes = y.detach().flatten(2)
    assert ((planes == 0).all(dim=2)).any()
    model.eval()
    assert torch.equal(model(x), model[0](x))


def test_replace_dropout_swaps_every_kind_and_keeps_state():
    model = torch.nn.Sequential(
        torch.nn.Dropout(0.1),
        torch.nn.Sequential(torch.nn.Dropout2d(0.2, inplace=True), torch.nn.Dropout3d(0.3)),
        torch.nn.Dropout1d(0.4),
        torch.nn.AlphaDropout(0.5),
        torch.nn.FeatureAlphaDropout(0.6),
        torch.nn.ReLU(),
    )
    model.eval()
    assert sdt.replace_dropout(model) is model
    kinds = [
        type(model[0]),
        type(model[1][0]),
        type(model[1][1]),
        type(model[2]),
        type(model[3]),
        type(model[4]),
        type(model[5]),
    ]
    assert kinds == [
        sdt.Dropout,
        sdt.Dropout2d,
        sdt.Dropout3d,
        sdt.Dropout1d,
        sdt.AlphaDropout,
        sdt.FeatureAlphaDropout,
        torch.nn.ReLU,
    ]
    assert model[1][0].p == 0.2
    assert model[1][0].inplace
    assert not any(m.training for m in model.modules())
    with pytest.raises(TypeError, match="itself a dropout module"):
        sdt.replace_dropout(torch.nn.Dropout2d())


def test_replaced_model_has_no_nan_from_inf():
    model = sdt.replace_dropout(torch.nn.Sequential(torch.nn.Dropout2d(0.5)))
    torch.manual_seed(0)
    y = model(torch.full((4, 64, 2, 2), float("inf")))
    assert not y.isnan().any()
    assert (y == 0).any()


def test_examples_script_runs():
    import runpy
    from pathlib import Path

    path = Path(__file__).parents[1] / "examples" / "seed_examples_torch.py"
    runpy.run_path(str(path), run_name="__main__")
