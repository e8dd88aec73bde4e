"""PyTorch's machinery around our ops: checkpointing, compile, torch.func, tracing, custom ops.

The worst defect is a silent one: a backward that uses another mask than its forward. Each
checkpoint and compile test therefore exposes the forward's mask and checks the gradient
against autograd through a fixed copy of that mask.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

from conftest import require

torch = require("torch")
F = torch.nn.functional

import torch.utils.checkpoint as ckpt  # noqa: E402
from torch._dynamo.utils import counters  # noqa: E402

import spatial_dropout as sd  # noqa: E402
from spatial_dropout import torch as sdt  # noqa: E402
from spatial_dropout._backends._torch import _recompute as _torch_recompute  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),  # Dynamo's tracing notes
    pytest.mark.filterwarnings("ignore:`torch.jit"),  # deprecated in 2.13, tested here still
    pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning"),  # shapes become constants
]

GENERATORS: dict[str, Callable[[], Any]] = {
    "None": lambda: None,
    "int": lambda: 7,
    "Generator": lambda: sd.Generator(3),
    "torch.Generator": lambda: torch.Generator().manual_seed(4),
}
W = torch.rand(6, 6, 1, 1, dtype=torch.float64) + 0.1  # positive: no channel is 0 by chance
X = torch.rand(4, 6, 5, 5, dtype=torch.float64) + 0.1
# 4.8 KB: the aten composition's route; 110 KB: the compiled kernel's autograd.Function
INPUTS = {"small": X, "large": torch.rand(4, 6, 24, 24, dtype=torch.float64) + 0.1}


def _model(generator: Any) -> Callable[[Any], Any]:
    def f(t: Any) -> Any:
        h = sd.dropout2d(F.conv2d(t, W), 0.5, generator=generator)
        return torch.tanh(h) * 1.5, h

    return f


def _grad_with_mask(keep: Any, data: Any = X) -> Any:
    """dL/dx through the model with ``keep`` fixed: the oracle for the forward's mask."""
    x = data.clone().requires_grad_()
    y = torch.tanh(torch.where(keep, F.conv2d(x, W) * 2, 0.0)) * 1.5
    y.sum().backward()
    return x.grad


def _checkpointed(f: Callable[[Any], Any], mode: str) -> Callable[[Any], Any]:
    def run(t: Any) -> Any:
        if mode == "plain":
            return f(t)
        if mode == "nested":
            return ckpt.checkpoint(
                lambda u: ckpt.checkpoint(f, u, use_reentrant=False), t, use_reentrant=False
            )
        return ckpt.checkpoint(
            f, t, use_reentrant=mode == "reentrant", preserve_rng_state=mode != "no_preserve"
        )

    return run


MODES = ["plain", "reentrant", "non_reentrant", "nested", "no_preserve"]


@pytest.mark.parametrize("size", INPUTS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", GENERATORS)
def test_checkpoint_backward_uses_the_forwards_mask(kind, mode, size):
    x = INPUTS[size].clone().requires_grad_()
    torch.manual_seed(11)
    y, h = _checkpointed(_model(GENERATORS[kind]()), mode)(x)
    torch.manual_seed(99)  # the backward runs under another torch state
    y.sum().backward()
    keep = (h.detach() != 0).all(dim=(2, 3), keepdim=True)
    assert 0 < int(keep.sum()) < keep.numel()
    torch.testing.assert_close(x.grad, _grad_with_mask(keep, INPUTS[size]), rtol=0, atol=0)


def test_the_checkpoint_test_can_fail(monkeypatch):
    """Without the replay, a Generator under checkpoint gets another mask in the backward."""
    monkeypatch.setattr(_torch_recompute, "maybe_checkpointed", lambda: False)
    failures = 0
    for seed in range(4):
        x = X.clone().requires_grad_()
        y, h = _checkpointed(_model(sd.Generator(seed)), "non_reentrant")(x)
        y.sum().backward()
        keep = (h.detach() != 0).all(dim=(2, 3), keepdim=True)
        failures += not torch.equal(x.grad, _grad_with_mask(keep))
    assert failures >= 3  # two masks of 24 channels agree with chance 2**-24


@pytest.mark.parametrize("reentrant", [True, False])
def test_a_recompute_that_draws_more_masks_raises(reentrant):
    calls = []

    def f(t):
        calls.append(1)
        if len(calls) > 1:  # the recompute takes another path: one more mask, first
            t = sd.dropout2d(t, 0.5, generator=g)
        return sd.dropout2d(t, 0.5, generator=g)

    g = sd.Generator(0)
    with ckpt.set_checkpoint_early_stop(False):  # else the recompute stops at the first mask
        y = ckpt.checkpoint(f, X.clone().requires_grad_(), use_reentrant=reentrant)
    with pytest.raises(RuntimeError, match=r"dropout2d\(\): a checkpoint recompute asked for"):
        y.sum().backward()


@pytest.mark.parametrize("checkpointed", [True, False])
@pytest.mark.parametrize("budget", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("kind", GENERATORS)
def test_compile_with_rematerialisation_uses_the_forwards_mask(kind, budget, checkpointed):
    """Activation checkpointing and min-cut rematerialisation under torch.compile.

    Budget 0 saves nothing but the graph's inputs: every draw is recomputed in the backward.
    """
    import torch._functorch.config as functorch_config

    torch._dynamo.reset()
    f = _model(GENERATORS[kind]())
    compiled = torch.compile(
        (lambda t: ckpt.checkpoint(f, t, use_reentrant=False)) if checkpointed else f
    )
    x = X.clone().requires_grad_()
    with functorch_config.patch(activation_memory_budget=budget):
        y, h = compiled(x)
        y.sum().backward()  # a recomputed draw replays the forward's
    keep = (h.detach() != 0).all(dim=(2, 3), keepdim=True)
    assert 0 < int(keep.sum()) < keep.numel()
    torch.testing.assert_close(x.grad, _grad_with_mask(keep))  # Inductor's conv may round


def test_compile_draws_a_fresh_mask_every_step_without_recompiling():
    def step(x, g, seed):
        return sd.dropout2d(x, 0.5, generator=g), sd.dropout(x, 0.3, generator=seed)

    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(step, fullgraph=True)
    x = torch.randn(4, 8, 3, 3)
    g_compiled, g_eager = sd.Generator(5), sd.Generator(5)
    masks = set()
    for i in range(100):
        a, b = compiled(x, g_compiled, torch.tensor(i))
        ea, eb = step(x, g_eager, i)
        assert torch.equal(a, ea)
        assert torch.equal(b, eb)
        masks.add(tuple((a[:, :, 0, 0] != 0).flatten().tolist()))
    assert counters["stats"]["unique_graphs"] == 1
    assert g_compiled.counter == g_eager.counter == 100
    assert len(masks) > 90  # 32 channels: two equal masks have chance 2**-32 a pair


def test_compile_with_generator_none_draws_torchs_stream_like_f_dropout2d():
    torch._dynamo.reset()
    ours = torch.compile(lambda t: sd.dropout2d(t, 0.5), fullgraph=True)
    theirs = torch.compile(lambda t: F.dropout2d(t, 0.5), fullgraph=True)
    x = torch.ones(8, 16, 2, 2)
    torch.manual_seed(0)
    a, b = ours(x), ours(x)
    torch.manual_seed(0)
    c, d = theirs(x), theirs(x)
    assert not torch.equal(a, b)  # a fresh mask each step
    assert torch.equal(a, c)  # and torch's, as F.dropout2d's
    assert torch.equal(b, d)


def test_compile_inplace_fullgraph_matches_eager():
    torch._dynamo.reset()
    f = torch.compile(lambda t, g: sd.dropout2d(t, 0.5, inplace=True, generator=g), fullgraph=True)
    x = torch.randn(4, 8, 5, 5)
    a, b = x.clone(), x.clone()
    out = f(a, sd.Generator(1))
    sd.dropout2d(b, 0.5, inplace=True, generator=sd.Generator(1))
    assert torch.equal(a, b)
    assert out.data_ptr() == a.data_ptr()


@pytest.mark.parametrize("kind", ["None", "int", "Generator"])
@pytest.mark.parametrize("fn", [sd.dropout, sd.dropout2d, sd.alpha_dropout])
def test_vmap_randomness_modes(fn, kind):
    """As functorch's randomness tests: "error" raises, "same" shares, "different" does not."""
    from spatial_dropout._scale import alpha_constants

    x = torch.randn(8, 4, 16, 3, 3)
    call = lambda t: fn(t, 0.5, True, generator=GENERATORS[kind]())  # noqa: E731
    with pytest.raises(RuntimeError, match="randomness"):
        torch.vmap(call)(x)
    drop_value = alpha_constants(0.5, 23)[2] if fn is sd.alpha_dropout else 0.0
    for mode, shared in (("same", True), ("different", False)):
        dropped = torch.vmap(call, randomness=mode)(x) == drop_value
        assert 0 < int(dropped.sum()) < dropped.numel()
        assert torch.equal(dropped, dropped[:1].expand_as(dropped)) == shared


@pytest.mark.parametrize("fn", [sd.dropout, sd.dropout2d, sd.dropout3d])
def test_vmap_different_with_a_seed_is_the_mask_of_the_stacked_batch(fn):
    x = torch.randn(3, 2, 5, 4, 4, 4) if fn is sd.dropout3d else torch.randn(3, 2, 5, 4, 4)
    y = torch.vmap(lambda t: fn(t, 0.5, generator=9), randomness="different")(x)
    stacked = x.reshape(6, *x.shape[2:])
    expected = fn(stacked, 0.5, generator=9).reshape(x.shape)
    assert torch.equal(y, expected)


def test_vmap_with_torchs_stream_matches_f_dropout_under_vmap():
    x = torch.randn(6, 4, 8, 3, 3)
    for mode in ("same", "different"):
        torch.manual_seed(0)
        ours = torch.vmap(lambda t: sd.dropout2d(t, 0.5), randomness=mode)(x)
        torch.manual_seed(0)
        theirs = torch.vmap(lambda t: F.dropout2d(t, 0.5), randomness=mode)(x)
        assert torch.equal(ours, theirs)


def test_per_sample_gradients_through_our_layer():
    def model_with(generator):
        return torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3),
            sdt.Dropout2d(0.5, generator=generator),
            torch.nn.Flatten(),
            torch.nn.Linear(8 * 4 * 4, 2),
        )

    torch.manual_seed(0)
    model = model_with(None)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, target = torch.randn(5, 3, 6, 6), torch.randint(0, 2, (5,))

    def loss(m, p, xi, ti):
        return F.cross_entropy(torch.func.functional_call(m, p, (xi[None],)), ti[None])

    for mode in ("same", "different"):
        per_sample = torch.vmap(
            torch.func.grad(functools.partial(loss, model)), in_dims=(None, 0, 0), randomness=mode
        )(params, x, target)
        assert per_sample["0.weight"].shape == (5, 8, 3, 3, 3)
    # with an int seed and "same", each sample's gradient is that of its own call
    seeded = model_with(21)
    seeded.load_state_dict(model.state_dict())
    grads = torch.vmap(
        torch.func.grad(functools.partial(loss, seeded)), in_dims=(None, 0, 0), randomness="same"
    )(params, x, target)
    for i in range(5):
        one = torch.func.grad(functools.partial(loss, model_with(21)))(params, x[i], target[i])
        for name in params:
            torch.testing.assert_close(grads[name][i], one[name])


@pytest.mark.parametrize("kind", ["None", "int"])
def test_torch_func_transforms(kind):
    from torch.func import grad, jacrev, jvp, vjp

    gen = GENERATORS[kind]
    x = torch.randn(4, 6, 3, 3, dtype=torch.float64)

    def f(t):
        torch.manual_seed(0)
        return sd.dropout2d(t, 0.5, generator=gen())

    y = f(x)
    s = torch.where(y != 0, 2.0, 0.0).to(x.dtype)
    assert torch.equal(grad(lambda t: f(t).sum())(x), s)
    assert torch.equal(jvp(f, (x,), (torch.ones_like(x),))[1], s)
    _, pullback = vjp(f, x)
    assert torch.equal(pullback(torch.ones_like(x))[0], s)
    small = x[:1, :2, :1, :2]
    assert torch.equal(jacrev(f)(small).reshape(4, 4), torch.diag(f(small).ne(0).flatten() * 2.0))


def test_a_plain_tensor_inside_a_transform_keeps_its_autograd():
    """Under ``torch.func.grad`` a captured tensor is not wrapped: ours takes the Function with
    ``setup_context`` there (the one without it is refused under transforms); both grads hold."""
    x = torch.randn(2, 16, 16, 16, requires_grad=True)  # 32 KB: the kernel's route
    w = torch.randn(2, 16, 16, 16)

    def loss(w):
        return (sd.dropout2d(x, 0.5, generator=4) * w).sum()

    expected = sd.dropout2d(x.detach(), 0.5, generator=4)
    assert torch.equal(torch.func.grad(loss)(w), expected)
    loss(w).backward()
    assert torch.equal(x.grad, torch.where(expected != 0, w * 2, 0.0))


def test_eager_kernel_route_gradients_and_double_backward():
    x = torch.randn(4, 32, 8, 8, dtype=torch.float64, requires_grad=True)  # 64 KB
    y = sd.dropout2d(x, 0.25, generator=2)
    keep = y.detach() != 0
    g = torch.randn_like(x, requires_grad=True)
    (gx,) = torch.autograd.grad(y, x, g, create_graph=True)
    assert torch.equal(gx.detach(), torch.where(keep, g.detach() * (1 / 0.75), 0.0))
    (gg,) = torch.autograd.grad(gx.sum(), g)  # the backward is the same map: differentiable
    assert torch.equal(gg, keep.to(x.dtype) * (1 / 0.75))


def test_forward_mode_ad_on_plain_cpu_tensors():
    from torch.autograd import forward_ad

    for dtype in (torch.float32, torch.float64):
        x = torch.randn(4, 6, 5, 5, dtype=dtype)
        tangent = torch.randn_like(x)
        with forward_ad.dual_level():
            y = sd.dropout2d(forward_ad.make_dual(x, tangent), 0.5, generator=3)
            out = forward_ad.unpack_dual(y)
        assert out.tangent is not None
        assert torch.equal(out.tangent, torch.where(out.primal != 0, tangent * 2, 0.0))


def test_batched_backward_is_grads_batched():
    x = torch.randn(4, 6, 5, 5, requires_grad=True)
    y = sd.dropout2d(x, 0.5, generator=1)
    grads = torch.randn(3, *x.shape)
    (g,) = torch.autograd.grad(y, x, grads, is_grads_batched=True)
    assert torch.equal(g, torch.where(y.detach() != 0, grads * 2, 0.0))


@pytest.mark.parametrize("tracing_mode", ["real", "fake", "symbolic"])
def test_make_fx_graph_computes_the_masks(tracing_mode):
    from torch.fx.experimental.proxy_tensor import make_fx

    x = torch.randn(4, 6, 5, 5)
    graph = make_fx(lambda t: sd.dropout2d(t, 0.5, generator=3), tracing_mode=tracing_mode)(x)
    assert torch.equal(graph(x), sd.dropout2d(x, 0.5, generator=3))
    y = torch.randn(4, 6, 5, 5)
    assert torch.equal(graph(y), sd.dropout2d(y, 0.5, generator=3))


def test_jit_trace_of_our_layer_records_the_draw_and_the_op():
    layer = sdt.Dropout2d(0.5)
    x = torch.randn(4, 8, 5, 5)
    traced = torch.jit.trace(layer, x, check_trace=False)
    assert "bernoulli" in str(traced.graph)
    torch.manual_seed(1)
    a = traced(x)
    torch.manual_seed(1)
    assert torch.equal(a, F.dropout2d(x, 0.5))
    torch.manual_seed(2)
    b = traced(x)
    torch.manual_seed(2)
    assert torch.equal(b, F.dropout2d(x, 0.5))  # a fresh draw, not one mask baked in
    assert not torch.equal(a, b)


def test_tracing_a_generator_is_a_clear_error():
    with pytest.raises(RuntimeError, match=r"dropout2d\(\): torch.jit.trace would record"):
        torch.jit.trace(sdt.Dropout2d(0.5, generator=sd.Generator(0)), torch.randn(2, 3, 4, 4))


def test_inplace_on_a_parameters_view_is_refused_before_writing():
    p = torch.nn.Parameter(torch.randn(4, 6, 5, 5))
    before = p.detach().clone()
    with pytest.raises(ValueError, match=r"dropout2d\(\): .*view of a leaf"):
        sd.dropout2d(p[:2], 0.5, inplace=True, generator=0)
    assert torch.equal(p.detach(), before)
    with torch.no_grad():  # as torch: allowed without autograd
        sd.dropout2d(p[:2], 0.5, inplace=True, generator=0)


def test_negative_bit_tensors():
    x = torch.randn(4, 6, 5, 5)
    neg = torch._neg_view(x)
    assert torch.equal(sd.dropout2d(neg, 0.5, generator=2), sd.dropout2d(-x, 0.5, generator=2))
    a, b = torch._neg_view(x.clone()), -x
    sd.dropout2d(a, 0.5, inplace=True, generator=2)
    assert torch.equal(a, sd.dropout2d(b, 0.5, generator=2))


def test_seed_tensors_are_seeds():
    x = torch.randn(4, 6, 5, 5)
    assert torch.equal(
        sd.dropout2d(x, 0.5, generator=torch.tensor(5)), sd.dropout2d(x, 0.5, generator=5)
    )
    with pytest.raises(TypeError, match="generator"):
        sd.dropout2d(x, 0.5, generator=torch.tensor(5.0))
    with pytest.raises(TypeError, match="generator"):
        sd.dropout2d(x, 0.5, generator=torch.tensor([5]))


def test_custom_ops_pass_opcheck():
    from spatial_dropout._backends._torch import _ops as ops

    x = torch.randn(4, 6, 5, 5, requires_grad=True)
    keep = torch.rand(4, 6, 1, 1) > 0.5
    torch.library.opcheck(ops._scaled_mask_op, (x, keep, 2.0))
    torch.library.opcheck(ops._scaled_mask_op, (x.detach().double(), keep, 2.0))
    state = torch.tensor([3, 5])
    torch.library.opcheck(ops._portable_keep_op, (x.detach(), state, [4, 6, 1, 1], 2**31))
    torch.library.opcheck(ops._take_op, (torch.tensor([3, 5]),))
    index = torch.arange(24).reshape(4, 6, 1, 1) * 3
    torch.library.opcheck(ops._portable_keep_at_op, (x.detach(), index, state, 2**31))


# PyTorch's own TestRandomness dropout cases (test/functorch/test_vmap.py), case for case, on
# our five functions: the op is ``fn(torch.ones_like(t), training=True)``, so that with an
# unbatched ``t`` the tensor we draw for is one vmap does not batch.
RANDOMNESS_FNS = {
    "dropout": (sd.dropout, False, False),  # (fn, 5-D image, alpha)
    "alpha_dropout": (sd.alpha_dropout, False, True),
    "dropout2d": (sd.dropout2d, False, False),
    "dropout3d": (sd.dropout3d, True, False),
    "feature_alpha_dropout": (sd.feature_alpha_dropout, True, True),
}


def _image(batched_input, b0):
    shape = {"first": (b0, 3, 3, 14, 14), "last": (3, 3, 14, 14, b0), "none": (3, 3, 14, 14)}
    return torch.ones(shape[batched_input])


def _all_slices_unique(t):
    return all(not torch.equal(t[i], t[j]) for i in range(len(t)) for j in range(i))


@pytest.mark.parametrize("generator", ["None", "Generator"])
@pytest.mark.parametrize("randomness", ["error", "same", "different"])
@pytest.mark.parametrize("batched_input", ["first", "last", "none"])
@pytest.mark.parametrize("name", list(RANDOMNESS_FNS))
def test_functorch_randomness_cases(name, batched_input, randomness, generator):
    fn, five_d, alpha = RANDOMNESS_FNS[name]
    torch.manual_seed(0)
    gen = sd.Generator(0) if generator == "Generator" else None

    def op(t, ignored):
        return fn(torch.ones_like(t), 0.5, True, generator=gen)

    b0 = 4
    passed = _image(batched_input, b0)
    if five_d:
        passed = passed.unsqueeze(-2 if batched_input == "last" else -1)
    in_dims = ({"first": 0, "last": -1, "none": None}[batched_input], 0)
    call = torch.vmap(op, randomness=randomness, in_dims=in_dims)
    if randomness == "error":
        with pytest.raises(RuntimeError, match="randomness error mode"):
            call(passed, torch.randn(b0))
        return
    result = call(passed, torch.randn(b0))
    assert result.shape[0] == b0
    if not alpha:
        assert 0.25 < float(result.mean() / 2) < 0.75
    if name in ("dropout2d", "dropout3d", "feature_alpha_dropout"):  # whole planes
        dims = [-1, -2] if name == "dropout2d" else [-1, -2, -3]
        planes = result.sum(dims)
        low, high = planes.min(), planes.max()
        assert bool(((planes == low) ^ (planes == high)).all())
    if randomness == "different":
        assert _all_slices_unique(result)
    else:
        assert all(torch.equal(result[0], result[i]) for i in range(b0))


@pytest.mark.parametrize("randomness", ["error", "same", "different"])
def test_functorch_dropout_unbatched_case(randomness):
    x, y = torch.randn(3), torch.randn(1, 3)

    def fn(x, y):
        return x + sd.dropout(y, 0.5).mean(1)

    call = torch.vmap(fn, in_dims=(0, None), randomness=randomness)
    if randomness == "error":
        with pytest.raises(RuntimeError, match="randomness"):
            call(x, y)
    else:
        assert call(x, y).shape == (3, 1)


STRUCTURED = {
    "drop_path": lambda t, g: sd.drop_path(t, 0.5, generator=g),
    "drop_block2d": lambda t, g: sd.drop_block2d(t, 0.3, 3, generator=g),
    "drop_block2d-batch": lambda t, g: sd.drop_block2d(t, 0.3, 3, normalize="batch", generator=g),
    "shared_axes": lambda t, g: sd.dropout(t, 0.5, shared_axes=(2,), generator=g),
}


@pytest.mark.parametrize("budget", [1.0, 0.0])
@pytest.mark.parametrize("kind", ["None", "Generator"])
@pytest.mark.parametrize("name", list(STRUCTURED))
def test_structured_family_compiles_and_rematerialises_with_the_forwards_mask(name, kind, budget):
    """fullgraph compile; a backward that recomputes every draw still uses the forward's mask."""
    import torch._functorch.config as functorch_config

    torch._dynamo.reset()
    fn = STRUCTURED[name]
    g = GENERATORS[kind]()
    x = (torch.rand(4, 6, 7, 7, dtype=torch.float64) + 0.5).requires_grad_()
    with functorch_config.patch(activation_memory_budget=budget):
        y = torch.compile(lambda t: fn(torch.sin(t), g), fullgraph=True)(x)
        y.sum().backward()
    kept = y.detach() != 0
    assert 0 < int(kept.sum()) < kept.numel()
    scale = torch.where(kept, y.detach() / torch.sin(x.detach()), 0.0)  # the applied scale
    torch.testing.assert_close(x.grad, scale * torch.cos(x.detach()))


@pytest.mark.parametrize("name", list(STRUCTURED))
def test_structured_family_compiles_once_and_equals_eager(name):
    torch._dynamo.reset()
    counters.clear()
    fn = STRUCTURED[name]
    compiled = torch.compile(fn, fullgraph=True)
    x = torch.rand(32, 6, 7, 7) + 0.5  # drop_path: 2**32 masks
    g_compiled, g_eager = sd.Generator(5), sd.Generator(5)
    masks = set()
    for _ in range(20):
        a, b = compiled(x, g_compiled), fn(x, g_eager)
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        masks.add(tuple((a != 0).flatten().tolist()))
    assert counters["stats"]["unique_graphs"] == 1
    assert len(masks) == 20


@pytest.mark.parametrize("kind", ["None", "Generator"])
def test_compiling_our_functions_warns_nothing_from_our_code(kind):
    """Dynamo warned about functools.lru_cache in _shapes.py and _scale.py."""
    import warnings

    calls = [
        lambda t, g: sd.dropout2d(t, 0.3, generator=g),
        lambda t, g: sd.dropout(t, 0.3, generator=g),
        lambda t, g: sd.alpha_dropout(t, 0.3, generator=g),
        lambda t, g: sd.feature_alpha_dropout(t, 0.3, generator=g),
        *STRUCTURED.values(),
    ]
    for call in calls:
        torch._dynamo.reset()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x = torch.randn(4, 8, 6, 6, requires_grad=True)
            torch.compile(call, fullgraph=True)(x, GENERATORS[kind]()).sum().backward()
        ours = [w for w in caught if "spatial_dropout" in f"{w.message}{w.filename}"]
        assert not ours, [str(w.message)[:200] for w in ours]


def _inductor_kernels(fn: Callable[..., Any], *args: Any) -> list[int]:
    """Inductor's generated C++ loops of ``fn``'s compiled forward and backward, counted."""
    import re

    from torch._inductor.utils import run_and_get_code

    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True)
    x = torch.randn(16, 64, 32, 32, requires_grad=True)
    _, codes = run_and_get_code(lambda: compiled(x, *args).sum().backward())
    return [len(set(re.findall(r"\b(cpp_fused_\w+) = async_compile", code))) for code in codes]


@pytest.mark.parametrize("kind", ["None", "Generator"])
def test_a_compiled_block_has_as_many_loops_as_with_f_dropout2d(kind):
    """Forward and backward: one fused loop each around the select (as F.dropout2d's multiply);
    the portable mask of the (N, C) grid may be a small op of its own."""
    theirs = _inductor_kernels(lambda t: F.dropout2d(torch.relu(t), 0.2) * 2)
    g = GENERATORS[kind]()
    ours = _inductor_kernels(lambda t, g: sd.dropout2d(torch.relu(t), 0.2, generator=g) * 2, g)
    assert len(ours) == len(theirs) == 2  # a forward and a backward graph
    assert ours[0] <= theirs[0]
    assert ours[1] <= theirs[1] == 1


class _EveryLayer(torch.nn.Module):
    def __init__(self, g: sd.Generator) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.maps = torch.nn.Sequential(
            sdt.Dropout2d(0.5, generator=g),
            sdt.Dropout(0.2),
            sdt.AlphaDropout(0.1, generator=5),
            sdt.FeatureAlphaDropout(0.1),
            sdt.DropBlock2d(0.2, 3, generator=g),
            sdt.DropPath(0.3),
        )
        self.rows = torch.nn.Sequential(sdt.Dropout1d(0.2), sdt.DropBlock1d(0.2, 3))
        self.volumes = torch.nn.Sequential(sdt.Dropout3d(0.2), sdt.DropBlock3d(0.2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.maps(self.conv(x))
        rows = self.rows(h.flatten(2)).reshape(h.shape)
        volumes = self.volumes(h.unsqueeze(2)).squeeze(2)
        return rows + volumes + sd.dropout2d(h, 0.5, generator=g_functional)


g_functional = sd.Generator(11)


def test_fx_records_one_node_per_layer_and_call_and_redraws_every_call():
    """torch.fx.symbolic_trace: our layers are leaves (call_module), our functions one
    call_function node each, as torch.nn's and torch.nn.functional's are."""
    g = sd.Generator(2)
    model = _EveryLayer(g)
    traced = torch.fx.symbolic_trace(model)
    ours = [n for n in traced.graph.nodes if n.op == "call_module" and n.target != "conv"]
    assert len(ours) == 10
    calls = [n for n in traced.graph.nodes if n.op == "call_function" and n.target is sd.dropout2d]
    assert len(calls) == 1
    x = torch.randn(4, 3, 6, 6)
    a, b = traced(x), traced(x)
    assert not torch.equal(a, b)  # fresh masks on every call
    assert g.counter == 4  # the traced module draws from the model's own generator
    traced.eval()  # the layers follow eval(); the functional call (training=True) still drops
    model.eval()
    g_functional.manual_seed(0)
    in_eval = traced(x)
    g_functional.manual_seed(0)
    assert torch.equal(in_eval, model(x))
    assert g.counter == 4


def test_fx_traces_a_single_layer_as_its_functional_call():
    g = sd.Generator(3)
    traced = torch.fx.symbolic_trace(sdt.DropBlock2d(0.3, 2, generator=g, normalize=None))
    (call,) = [n for n in traced.graph.nodes if n.op == "call_function"]
    assert call.target is sd.drop_block2d
    x = torch.ones(2, 4, 6, 6)
    first, second = traced(x), traced(x)
    assert not torch.equal(first, second)
    assert torch.equal(first, sd.drop_block2d(x, 0.3, 2, normalize=None, generator=sd.Generator(3)))


def test_create_feature_extractor_on_a_model_with_our_layers():
    from peers import import_peer

    extraction = import_peer("torchvision.models.feature_extraction")
    model = _EveryLayer(sd.Generator(4))
    extractor = extraction.create_feature_extractor(model, {"maps.0": "drop", "maps.4": "block"})
    out = extractor(torch.randn(2, 3, 6, 6))
    assert out["drop"].shape == out["block"].shape == (2, 8, 6, 6)
    assert ((out["drop"] == 0).all(dim=(2, 3)) | (out["drop"] != 0).any(dim=(2, 3))).all()


def test_jit_script_of_our_layers_is_refused_with_torch_export_named():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), sdt.Dropout2d(0.1))
    want = r"cannot compile spatial_dropout.torch.Dropout2d.*\n    Use torch.export.export"
    with pytest.raises(TypeError, match=want):
        torch.jit.script(model)


@pytest.mark.parametrize("kind", ["None", "Generator"])
def test_torch_export_draws_a_fresh_mask_on_every_call(kind):
    g = GENERATORS[kind]()
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), sdt.Dropout2d(0.5, generator=g), sdt.DropPath(0.5)
    )
    exported = torch.export.export(model, (torch.randn(16, 3, 6, 6),)).module()
    x = torch.randn(16, 3, 6, 6)
    outs = [exported(x) for _ in range(3)]
    assert not torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[1], outs[2])
    for out in outs:  # whole channels, as the layer drops them
        planes = out.flatten(2)
        assert bool(((planes == 0).all(-1) | (planes != 0).all(-1)).all())
